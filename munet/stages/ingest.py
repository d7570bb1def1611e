"""Stage 1, task ingestion: check the task name and dataset, prepare the data offline,
resolve its train/validation/test splits and record the task's spec in the store."""

from munet.data import catalog
from munet.errors import InvalidInputError
from munet.names import check_name
from munet.store import records
from munet.store.repository import SystemStore


def ingest_task(system_uri, task, dataset, splits=None, data_dir=None):
    """Returns the task's spec (a flat dict), writing tasks/<task>/ingest.json once."""
    check_name(task, "task name")
    store = SystemStore(system_uri)
    manifest = store.load()  # Fails early, and clearly, when there is no system.
    spec = catalog.prepare(dataset, data_dir)
    spec["splits"] = catalog.resolve_splits(spec, splits)
    spec["num_examples"] = catalog.count_examples(spec, spec["splits"])
    spec["task"] = task

    committed = manifest.tasks.get(task)
    if committed and (committed["dataset"], committed["splits"]) != (dataset, spec["splits"]):
        raise InvalidInputError(
            f"Task {task!r} already exists with dataset {committed['dataset']!r} and splits "
            f"{committed['splits']}; received dataset {dataset!r} with splits "
            f"{spec['splits']}. Fix: improve it with `munet improve --task {task}`, or add "
            "the new data under another task name."
        )
    existing = records.read(store.storage, records.ingest_key(task))
    if existing and (existing == spec or committed):
        return existing  # Idempotent; a committed task keeps the spec it was added with.
    records.write(store.storage, records.ingest_key(task), spec)
    return spec
