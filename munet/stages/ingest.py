"""Stage 1, task ingestion: check the task name and dataset, prepare the data offline,
resolve its train/validation/test splits and record the task's spec in the store,
with the hyperparameters its first children start from, if it names any."""

from munet.data import catalog
from munet.evolution.hyperparameters import check_start_hparams
from munet.errors import InvalidInputError
from munet.names import check_name
from munet.store import records
from munet.store.repository import SystemStore


def ingest_task(system_uri, task, dataset, splits=None, data_dir=None, start_hparams=None):
    """Returns the task's spec (a flat dict), writing tasks/<task>/ingest.json once."""
    check_name(task, "task name")
    store = SystemStore(system_uri)
    manifest = store.load()  # Fails early, and clearly, when there is no system.
    start_hparams = check_start_hparams(start_hparams, manifest.root) if start_hparams else {}
    existing = records.read(store.storage, records.ingest_key(task))
    committed = manifest.tasks.get(task)
    if committed and existing and existing.get("start_hparams", {}) != start_hparams:
        raise InvalidInputError(
            f"Task {task!r} already exists with starting hyperparameters "
            f"{existing.get('start_hparams', {})}; received {start_hparams}. They apply to "
            f"a task's first children only. Fix: improve it with `munet --system "
            f"{system_uri} improve --task {task}` (children inherit their parent's "
            "values), or add it under another task name."
        )
    spec = catalog.prepare(dataset, data_dir)
    spec["splits"] = catalog.resolve_splits(spec, splits)
    spec["num_examples"] = catalog.count_examples(spec, spec["splits"])
    spec["task"] = task
    if start_hparams:  # Specs without them stay as they were.
        spec["start_hparams"] = start_hparams

    if committed and (committed["dataset"], committed["splits"]) != (dataset, spec["splits"]):
        raise InvalidInputError(
            f"Task {task!r} already exists with dataset {committed['dataset']!r} and splits "
            f"{committed['splits']}; received dataset {dataset!r} with splits "
            f"{spec['splits']}. Fix: improve it with `munet --system {system_uri} improve "
            f"--task {task}`, or add the new data under another task name."
        )
    if existing and (existing == spec or committed):
        return existing  # Idempotent; a committed task keeps the spec it was added with.
    records.write(store.storage, records.ingest_key(task), spec)
    return spec
