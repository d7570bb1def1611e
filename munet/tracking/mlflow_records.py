"""Mirrors the store's generations, candidates and commits into MLflow.

One MLflow experiment holds the system. Each generation is a run; each of its
candidates is a run nested under it (two levels only), tagged with everything needed
to search for it: munet.task, munet.candidate, munet.parent (the parent candidate, or
"root"), munet.generation, munet.system_version, munet.agent and munet.mutations.

Each commit adds, per committed candidate, a LoggedModel (its path: component ids and
blob digests; the weights stay in the store) and a version of the registered model
"munet.<task>"; the alias "champion" follows the task's active model. The generation
run of a commit holds the manifest, the system and lineage pictures and the
continual-learning report of that version.

Everything is re-derived from the store: `sync` mirrors every finished generation
(those with an outcome record) not yet mirrored, oldest first, and is what runs after
each commit. A generation is marked as mirrored in the store (tracking/<target>/) only
once all of it is in MLflow, and each step finds what an interrupted earlier attempt
left behind, so running it again never duplicates records.
"""

import hashlib
import json
import os
import re
import tempfile

from munet.store import records
from munet.store.repository import SystemStore, default_author
from munet.tracking import settings
from munet.tracking.history import all_versions, lineage, lineage_evaluations, mutation_text

GENERATION_KIND = "generation"
CANDIDATE_KIND = "candidate"
CHAMPION_ALIAS = "champion"


def registered_model_name(task):
    return f"munet.{task}"


def logged_model_name(candidate_id):
    """MLflow refuses / : . % " ' in LoggedModel names; the tags keep the true id."""
    return re.sub(r"[/:.%\"']", "-", candidate_id)


def _marker_key(uri, experiment, generation_id):
    target = hashlib.sha256(f"{uri}\n{experiment}".encode()).hexdigest()[:12]
    return f"tracking/{target}/{generation_id}.json"


def _millis(iso_time):
    import datetime

    if not iso_time:
        return None
    return int(datetime.datetime.fromisoformat(iso_time).timestamp() * 1000)


def _quote(value):
    return "'" + str(value).replace("'", "\\'") + "'"


class Mirror:
    """An MLflow client bound to the system's experiment."""

    def __init__(self, uri=None, experiment=None):
        settings.fail_fast()
        from mlflow import MlflowClient

        self.uri = uri or settings.tracking_uri()
        self.experiment = experiment or settings.experiment_name()
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            self.experiment_id = self.client.create_experiment(
                self.experiment, artifact_location=settings.artifact_location(self.uri),
                tags={"munet.kind": "system"})
        else:
            self.experiment_id = found.experiment_id

    def find_run(self, kind, key, value):
        runs = self.client.search_runs(
            [self.experiment_id],
            f"tags.`munet.kind` = '{kind}' and tags.`munet.{key}` = {_quote(value)}",
            max_results=10)
        complete = [r for r in runs if r.data.tags.get("munet.complete") == "true"]
        for run in runs:  # An attempt interrupted half-way: start that record again.
            if run not in complete:
                self.client.delete_run(run.info.run_id)
        return complete[0] if complete else None


def sync(system_uri, uri=None, experiment=None, progress=None):
    """Mirrors every finished generation not yet in MLflow; returns what it did."""
    store = SystemStore(system_uri)
    mirror = Mirror(uri, experiment)
    names = [n[:-len(".json")] for n in store.storage.list("outcomes") if n.endswith(".json")]
    outcomes = [records.read(store.storage, records.outcome_key(n)) for n in names]
    pending = [o for o in outcomes
               if not store.storage.exists(_marker_key(mirror.uri, mirror.experiment,
                                                        o["generation"]))]
    pending.sort(key=lambda o: (o["version"] or 0, o["at"], o["generation"]))
    manifests = all_versions(store) if pending else []
    for outcome in pending:
        if progress:
            progress(f"MLflow: mirroring generation {outcome['generation']}")
        mirror_generation(store, mirror, outcome, manifests)
        records.write(store.storage, _marker_key(mirror.uri, mirror.experiment,
                                                 outcome["generation"]),
                      {"generation": outcome["generation"], "tracking_uri": mirror.uri,
                       "experiment_id": mirror.experiment_id})
    return {"tracking_uri": mirror.uri, "experiment_id": mirror.experiment_id,
            "mirrored": [o["generation"] for o in pending],
            "already_mirrored": len(outcomes) - len(pending)}


def sync_after_commit(system_uri, progress=None):
    """`sync`, never raising: a commit has landed already and must not look failed.

    Returns {"ok": True, ...} or {"ok": False, "error": ..., "fix": ...}.
    """
    if not settings.tracking_enabled():
        return {"ok": True, "mirrored": [], "skipped": "MUNET_TRACKING=off"}
    try:
        return dict(sync(system_uri, progress=progress), ok=True)
    except Exception as error:  # Any tracking failure: report the gap, keep the commit.
        message = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        if progress:
            progress(f"MLflow tracking failed ({message}). The commit itself landed; "
                     "run `munet sync-mlflow` once MLflow is reachable to back-fill.")
        return {"ok": False, "error": message,
                "fix": "run `munet sync-mlflow` once MLflow is reachable"}


def mirror_generation(store, mirror, outcome, manifests):
    generation_id = outcome["generation"]
    generation = records.read(store.storage, records.generation_key(generation_id))
    task_spec = records.read(store.storage, records.ingest_key(generation["task"]))
    version = outcome["version"]
    at_commit = manifests[version - 1] if version else None
    run = mirror.find_run(GENERATION_KIND, "generation", generation_id)
    if run is None:
        run = _create_generation_run(mirror, generation, outcome, at_commit)
    for candidate_id in generation["candidates"]:
        _mirror_candidate(store, mirror, run.info.run_id, generation, candidate_id,
                          task_spec, at_commit)
    if at_commit is not None:
        _register_commit(store, mirror, run.info.run_id, generation, at_commit,
                         manifests[:version])


def _create_generation_run(mirror, generation, outcome, at_commit):
    from mlflow.entities import Param

    client = mirror.client
    tags = {
        "munet.kind": GENERATION_KIND,
        "munet.task": generation["task"],
        "munet.generation": generation["generation"],
        "munet.base_version": str(generation["base_version"]),
        "munet.committed": str(bool(outcome["committed"])).lower(),
        "munet.agent": default_author(),
    }
    if at_commit is not None:
        tags["munet.system_version"] = str(at_commit.version)
    run = client.create_run(mirror.experiment_id, start_time=_millis(generation["created_at"]),
                            tags=tags, run_name=generation["generation"])
    params = [Param(f"budget.{k}", str(v)) for k, v in sorted(generation["budget"].items())]
    params += [Param("seed", str(generation["seed"])),
               Param("num_candidates", str(len(generation["candidates"])))]
    client.log_batch(run.info.run_id, params=params)
    client.set_terminated(run.info.run_id, "FINISHED", end_time=_millis(outcome["at"]))
    client.set_tag(run.info.run_id, "munet.complete", "true")
    return run


def _dataset_inputs(task_spec, contexts):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    inputs = []
    for context in contexts:
        split = task_spec["splits"][context]
        source = {"tfds_name": task_spec["tfds_name"], "version": task_spec["tfds_version"],
                  "config": task_spec.get("tfds_config"), "split": split,
                  "data_dir": task_spec.get("data_dir")}
        name = f"{task_spec['tfds_name']}@{task_spec['tfds_version']}:{split}"
        digest = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:8]
        dataset = Dataset(name=name, digest=digest, source_type="tfds",
                          source=json.dumps(source, sort_keys=True),
                          profile=json.dumps({"num_examples": task_spec["num_examples"]}))
        inputs.append(DatasetInput(dataset, [InputTag("mlflow.data.context", context)]))
    return inputs


def _candidate_metrics(spec, result, evaluation, budget, committed, timestamp):
    from mlflow.entities import Metric

    metrics = []
    step = budget["steps_per_validation"]
    for index, value in enumerate(result.get("validation_curve", []), start=1):
        metrics.append(Metric("validation_accuracy_during_training", float(value),
                              timestamp, index * step))
    values = {
        "validation_accuracy": evaluation["validation_accuracy"],
        "best_validation_accuracy": result["best_validation_accuracy"],
        "score": evaluation["score"],
        "trainable_params": evaluation["trainable_params"],
        "accounted_params": evaluation["accounted_params"],
        "path_params": evaluation["path_params"],
        "flops_per_example": evaluation.get("flops_per_example"),
        "train_seconds": result["train_seconds"],
        "wall_seconds": result["wall_seconds"],
        "examples_per_second": result["examples_per_second"],
        "train_steps": result["train_steps"],
    }
    if evaluation.get("parent_score") is not None:
        values["parent_score"] = evaluation["parent_score"]
    if committed and evaluation.get("test_accuracy") is not None:
        values["test_accuracy"] = evaluation["test_accuracy"]
    last_step = result["train_steps"]
    metrics += [Metric(k, float(v), timestamp, last_step) for k, v in values.items()
                if v is not None]
    return metrics


def _mirror_candidate(store, mirror, parent_run_id, generation, candidate_id, task_spec,
                      at_commit):
    from mlflow.entities import Param

    if mirror.find_run(CANDIDATE_KIND, "candidate", candidate_id):
        return
    spec = records.read(store.storage, records.candidate_key(candidate_id, "spec"))
    result = records.read(store.storage, records.candidate_key(candidate_id, "result"))
    evaluation = records.read(store.storage, records.candidate_key(candidate_id, "evaluation"))
    finished = bool(spec and result and evaluation)
    committed = bool(at_commit and finished and evaluation["improved"])
    client = mirror.client
    tags = {
        "mlflow.parentRunId": parent_run_id,
        "munet.kind": CANDIDATE_KIND,
        "munet.task": generation["task"],
        "munet.candidate": candidate_id,
        "munet.generation": generation["generation"],
        "munet.committed": str(committed).lower(),
        "munet.system_version": str(at_commit.version if committed else
                                    generation["base_version"]),
    }
    if spec:
        tags.update({
            "munet.parent": spec["parent"],
            "munet.parent_task": spec.get("parent_task") or "",
            "munet.mutations": mutation_text(spec["mutations"]),
            "munet.agent": (result or {}).get("host") or default_author(),
        })
    started = _millis((result or {}).get("started_at") or generation["created_at"])
    run = client.create_run(mirror.experiment_id, start_time=started, tags=tags,
                            run_name=candidate_id)
    run_id = run.info.run_id
    if spec:
        params = [Param(f"hp.{k}", str(v)) for k, v in sorted(spec["hparams"].items())]
        params += [Param("mutations", mutation_text(spec["mutations"])[:6000]),
                   Param("parent", spec["parent"]), Param("seed", str(spec["seed"])),
                   Param("base_version", str(spec["base_version"])),
                   Param("trainable_slots", ",".join(spec["trainable_slots"])[:6000])]
        if "mutation_probs" in spec:  # Systems whose mutation_probs setting is per_event.
            text = ",".join(f"{event}={prob}"
                            for event, prob in sorted(spec["mutation_probs"].items()))
            params.append(Param("mutation_probs", text[:6000]))
        client.log_batch(run_id, params=params)
        contexts = ["train", "validation"] + (["test"] if committed else [])
        client.log_inputs(run_id, _dataset_inputs(task_spec, contexts))
    ended = _millis((result or {}).get("finished_at")) or started
    if finished:
        client.log_batch(run_id, metrics=_candidate_metrics(
            spec, result, evaluation, generation["budget"], committed, ended))
    client.set_terminated(run_id, "FINISHED" if finished else "FAILED", end_time=ended)
    client.set_tag(run_id, "munet.complete", "true")


def _register_commit(store, mirror, generation_run_id, generation, manifest, manifests):
    """Registers the committed candidates, moves the champion alias, logs the pictures,
    the manifest and the continual-learning report on the generation run."""
    task = generation["task"]
    name = registered_model_name(task)
    client = mirror.client
    _ensure_registered_model(client, name, task)
    versions = _model_versions(client, name)
    for candidate_id in manifest.tasks[task]["last_generation"]["added"]:
        if candidate_id not in versions:
            versions[candidate_id] = _register_candidate(store, mirror, name, manifest,
                                                         candidate_id)
    active = manifest.tasks[task]["active"]
    if active in versions:
        client.set_registered_model_alias(name, CHAMPION_ALIAS, versions[active])
        client.set_registered_model_tag(name, "munet.system_version", str(manifest.version))
    _log_commit_artifacts(store, mirror, generation_run_id, task, manifest, manifests)


def _ensure_registered_model(client, name, task):
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, tags={"munet.task": task},
            description=f"The models of munet task {task!r}; alias 'champion' is the "
                        "task's active model in the newest system version.")


def _model_versions(client, name):
    """candidate id -> registered version number, for the versions already there."""
    found = {}
    for item in client.search_model_versions(f"name = {_quote(name)}"):
        candidate = (item.tags or {}).get("munet.candidate")
        if candidate:
            found[candidate] = item.version
    return found


def _register_candidate(store, mirror, name, manifest, candidate_id):
    client = mirror.client
    run = mirror.find_run(CANDIDATE_KIND, "candidate", candidate_id)
    model = manifest.model(candidate_id)
    tags = {"munet.task": model["task"], "munet.candidate": candidate_id,
            "munet.parent": model["parent"], "munet.system_version": str(manifest.version)}
    logged = client.create_logged_model(
        mirror.experiment_id, name=logged_model_name(candidate_id),
        source_run_id=run.info.run_id, tags=tags,
        params={k: str(v) for k, v in model["hparams"].items()}, model_type="munet-path")
    path = {
        "candidate": candidate_id,
        "system_uri": store.uri,
        "system_version": manifest.version,
        "hparams": model["hparams"],
        "slots": {slot: {"component": cid, **manifest.components[cid]}
                  for slot, cid in model["slots"].items()},
        "metrics": model["metrics"],
    }
    with tempfile.TemporaryDirectory() as folder:
        file = os.path.join(folder, "path.json")
        with open(file, "w") as handle:
            json.dump(path, handle, indent=1, sort_keys=True)
        client.log_model_artifact(logged.model_id, file)
    client.finalize_logged_model(logged.model_id, "READY")
    from mlflow.entities import LoggedModelOutput

    client.log_outputs(run.info.run_id, [LoggedModelOutput(logged.model_id, 0)])
    # The source is the logged model's own artifact location: a models:/ source makes
    # MLflow's SQL registry look the model up through the process-wide default tracking
    # URI, which opens ./mlflow.db when munet tracks to another database.
    version = client.create_model_version(
        name, source=logged.artifact_location, run_id=run.info.run_id, tags=tags,
        model_id=logged.model_id,
        description=f"{candidate_id}, committed in system version {manifest.version}")
    client.set_tag(run.info.run_id, "munet.model_id", logged.model_id)
    return version.version


def _log_commit_artifacts(store, mirror, run_id, task, manifest, manifests):
    from mlflow.entities import Metric

    from munet.tracking import pictures, report

    client = mirror.client
    if client.get_run(run_id).data.tags.get("munet.commit_logged") == "true":
        return
    summary = report.continual_learning_report(store, manifests)
    chain = lineage(store, manifest.tasks[task]["active"])
    metrics = lineage_evaluations(store, chain)
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "manifest": _write(folder, f"v{manifest.version:08d}.json",
                               manifest.to_bytes().decode()),
            "report": report.write_report(summary, folder),
            "pictures": [pictures.draw_system(manifest, os.path.join(folder, "system.png")),
                         pictures.draw_lineage(chain, metrics,
                                               os.path.join(folder, f"lineage-{task}.png")),
                         _write(folder, "system.txt", pictures.system_text(manifest)),
                         _write(folder, f"lineage-{task}.txt", pictures.lineage_text(chain))],
        }
        for artifact_path, items in files.items():
            for item in items if isinstance(items, list) else [items]:
                client.log_artifact(run_id, item, artifact_path)
    timestamp = _millis(manifest.data.get("created_at")) or 0
    values = {"system_version": manifest.version,
              "cl_backward_transfer": summary["backward_transfer"],
              "cl_forgetting": summary["forgetting"],
              "cl_interference_events": len(summary["interference"]),
              "system_params": summary["system_params"]}
    if summary["mean_test_accuracy"] is not None:
        values["cl_mean_test_accuracy"] = summary["mean_test_accuracy"]
    client.log_batch(run_id, metrics=[Metric(k, float(v), timestamp, manifest.version)
                                      for k, v in values.items()])
    client.set_tag(run_id, "munet.commit_logged", "true")


def _write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as handle:
        handle.write(text)
    return path
