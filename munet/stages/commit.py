"""Stage 5, system commit: add a generation's improved candidates to the task's
population, make its best model active and commit a new system version.

Only improvements are committed: a generation none of whose candidates beat its
parent leaves the system as it is (its candidates stay in the store, unreferenced).
The change is re-applied on the newest head if another writer committed first, and
a generation is committed at most once (the task records the generations it has).
Candidates whose training or evaluation failed are skipped, not fatal.
"""

from munet.errors import InvalidInputError
from munet.evolution import population
from munet.names import check_name
from munet.store import records
from munet.store.repository import SystemStore, utc_now

TASK_SPEC_KEYS = ("dataset", "tfds_name", "tfds_config", "tfds_version", "data_dir",
                  "num_classes", "image_shape", "splits", "num_examples")


def commit_generation(system_uri, generation_id, author=None, track=True):
    """Commits one generation; returns a summary dict (version, active model, counts).

    With `track`, the commit is then mirrored into MLflow (see munet.tracking); a
    tracking failure never undoes or fails the commit: it is reported in the summary
    under "tracking" and `munet sync-mlflow` back-fills it later.
    """
    check_name(generation_id, "generation id")
    store = SystemStore(system_uri)
    generation = records.read(store.storage, records.generation_key(generation_id))
    if generation is None:
        raise InvalidInputError(
            f"Unknown generation {generation_id!r} in {system_uri!r}. Fix: pass an id given "
            "to the generation stage."
        )
    task = generation["task"]
    task_spec = records.read(store.storage, records.ingest_key(task))
    base = store.load(generation["base_version"])
    finished, failed = [], []
    for candidate_id in generation["candidates"]:
        spec = records.read(store.storage, records.candidate_key(candidate_id, "spec"))
        result = records.read(store.storage, records.candidate_key(candidate_id, "result"))
        evaluation = records.read(store.storage,
                                  records.candidate_key(candidate_id, "evaluation"))
        if spec and result and evaluation:
            finished.append((spec, result, evaluation))
        else:
            failed.append(candidate_id)

    def change(manifest):
        record = manifest.tasks.get(task)
        if record and generation_id in record["committed_generations"]:
            return None
        if not any(evaluation["improved"] for _, _, evaluation in finished):
            return None  # Nothing beat its parent: no new version.
        if record is None:
            record = manifest.tasks[task] = {
                **{k: task_spec[k] for k in TASK_SPEC_KEYS},
                "active": None,
                "population": [],
                "seed_offspring": {},
                "committed_generations": [],
                "created_version": manifest.version + 1,
            }
        added = []
        for spec, result, evaluation in finished:
            population.count_offspring(manifest, task, spec["parent"])
            if not evaluation["improved"]:
                continue
            for source in spec["slots"].values():
                cid = source.get("component")
                if cid and cid not in manifest.components:  # Dropped since: bring it back.
                    manifest.components[cid] = base.components[cid]
            metrics = {k: evaluation[k] for k in (
                "validation_accuracy", "test_accuracy", "score", "accounted_params",
                "path_params", "trainable_params")}
            population.add_candidate(manifest, spec, result, metrics, manifest.version + 1)
            record["population"].append(spec["candidate"])
            added.append(spec["candidate"])
        previous = record["active"]
        population.choose_active(manifest, task)
        population.collect_garbage(manifest, task)
        record["committed_generations"].append(generation_id)
        record["last_generation"] = {
            "generation": generation_id,
            "at": utc_now(),
            "candidates": len(generation["candidates"]),
            "failed": failed,
            "added": added,
            "active_changed": record["active"] != previous,
        }
        if record["active"] != previous or "last_improved_at" not in record:
            record["last_improved_at"] = utc_now()
        return manifest

    manifest = store.commit(change, f"{task}: commit generation {generation_id}", author,
                            task=task)
    records.write(store.storage, records.attempt_key(task),
                  {"generation": generation_id, "at": utc_now()})
    record = manifest.tasks.get(task, {})
    active = record.get("active")
    committed = generation_id in record.get("committed_generations", [])
    if not store.storage.exists(records.outcome_key(generation_id)):
        records.write(store.storage, records.outcome_key(generation_id), {
            "generation": generation_id, "task": task, "committed": committed,
            "version": _committing_version(store, manifest, task, generation_id),
            "at": utc_now()})
    last = record.get("last_generation", {})
    summary = {
        "version": manifest.version,
        "committed": committed,
        "task": task,
        "generation": generation_id,
        "active": active,
        # An improved child joins the population; it becomes active only if it is the
        # task's best model.
        "active_changed": committed and last.get("generation") == generation_id
        and last["active_changed"],
        "score": manifest.model(active)["metrics"]["score"] if active else None,
        "failed": failed,
    }
    if track:
        from munet.tracking.mlflow_records import sync_after_commit

        summary["tracking"] = sync_after_commit(system_uri)
    return summary


def _committing_version(store, head, task, generation_id):
    """The version that committed `generation_id` (None if it was not committed)."""
    manifest = head
    while generation_id in manifest.tasks.get(task, {}).get("committed_generations", []):
        if manifest.version == 1:
            return 1
        previous = store.load(manifest.version - 1)
        if generation_id not in previous.tasks.get(task, {}).get("committed_generations", []):
            return manifest.version
        manifest = previous
    return None
