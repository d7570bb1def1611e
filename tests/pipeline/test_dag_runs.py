"""Real DAG runs (dag.test, SQLite metadata DB) on a real small task, tiny budgets."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from munet.store import records
from munet.store.repository import SystemStore
from munet.system import init_system, status
from munet.model.root import RootConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db")]

TINY = {"candidates": 2, "steps_per_validation": 25, "validations": 2, "batch_size": 32}
ROOT = RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64)


def get_dag(dag_id):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag(dag_id)


def task_states(run):
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


@pytest.fixture
def system_uri(tmp_path, tfds_dir):
    uri = str(tmp_path / "system")
    init_system(uri, ROOT)
    return uri


def test_add_task_then_nightly_improvement(system_uri):
    run = get_dag("munet_add_task").test(run_conf={
        "task": "digits", "dataset": "digits", "generations": 2, "system_uri": system_uri,
        **TINY})
    assert run.state == "success"
    info = status(system_uri)
    assert info["tasks"]["digits"]["test_accuracy"] > 0.2  # Chance is 0.1.
    assert info["tasks"]["digits"]["generations"] >= 1
    store = SystemStore(system_uri)
    head = store.head_version()
    active = store.load().tasks["digits"]["active"]
    score = store.load().model(active)["metrics"]["score"]

    run = get_dag("munet_nightly_improvement").test(run_conf={
        "max_tasks": 2, "generations": 1, "system_uri": system_uri, **TINY, "seed": 7})
    assert run.state == "success"
    states = task_states(run)
    assert states["task0_generate_0"] == "success"
    assert states["task1_generate_0"] == "success"  # Only one task: slot 1 does nothing.
    manifest = store.load()
    after = manifest.model(manifest.tasks["digits"]["active"])["metrics"]["score"]
    assert after >= score  # Only improvements are committed...
    for version in range(head + 1, store.head_version() + 1):  # ...each commit adds one.
        assert store.load(version).tasks["digits"]["last_generation"]["added"]


@pytest.mark.parametrize("conf,words", [
    ({"dataset": "digits"}, "task"),
    ({"task": "x", "dataset": "digits", "candidates": -1}, "candidates"),
    ({"task": "x", "dataset": "digits", "generations": 0}, "generations"),
    ({"task": "../x", "dataset": "digits"}, "task"),
])
def test_malformed_conf_is_refused_before_any_stage(system_uri, conf, words):
    with pytest.raises(Exception) as error:
        get_dag("munet_add_task").test(run_conf=dict(conf, system_uri=system_uri))
    assert words in str(error.value)
    assert SystemStore(system_uri).head_version() == 1


def test_unknown_dataset_fails_at_ingestion_and_commits_nothing(system_uri):
    run = get_dag("munet_add_task").test(run_conf={
        "task": "x", "dataset": "no_such_dataset", "system_uri": system_uri, **TINY})
    assert run.state == "failed"
    states = task_states(run)
    assert states["ingest"] == "failed"
    assert states["generate_0"] == "upstream_failed"
    assert SystemStore(system_uri).head_version() == 1
    assert not SystemStore(system_uri).storage.exists("tasks/x/ingest.json")


def _component(module, *args):
    return subprocess.Popen([sys.executable, "-m", f"components.{module}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def test_stages_killed_mid_way_and_retried_commit_once(system_uri, tfds_dir):
    from components import evaluation, generation, ingestion

    ingestion.run(system_uri, "digits", "digits", data_dir=tfds_dir)
    generation_id = "digits-retry-g00"
    candidates = generation.run(system_uri, "digits", generation_id, 2, 25, 2, 32)
    # Training killed once it has started training, then retried.
    process = _component("training", "--system", system_uri, "--candidate", candidates[0])
    for line in process.stdout:
        if "validation 1" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert not SystemStore(system_uri).storage.exists(
        records.candidate_key(candidates[0], "result"))
    for candidate in candidates:
        retry = _component("training", "--system", system_uri, "--candidate", candidate)
        assert retry.wait() == 0, retry.stdout.read()
        evaluation.run(system_uri, candidate)
    # The commit killed at random moments, then run to the end twice.
    rng = random.Random(0)
    for _ in range(3):
        process = _component("commit", "--system", system_uri, "--generation", generation_id)
        time.sleep(rng.uniform(0.2, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
    for _ in range(2):
        done = _component("commit", "--system", system_uri, "--generation", generation_id)
        assert done.wait() == 0, done.stdout.read()
    store = SystemStore(system_uri)
    assert store.head_version() == 2  # Exactly one commit of the generation.
    assert store.load().tasks["digits"]["committed_generations"] == [generation_id]


def test_a_failed_candidate_does_not_fail_its_generation(system_uri, tfds_dir):
    import datetime

    from munet.names import generation_id
    from munet.stages.generate import Budget, generate_candidates
    from munet.stages.ingest import ingest_task

    when = datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)
    run_id = f"manual__{when.isoformat()}"  # What dag.test names a run at this date.
    ingest_task(system_uri, "digits", "digits", data_dir=tfds_dir)
    generation = generation_id("digits", run_id, 0)
    candidates = generate_candidates(system_uri, "digits", generation, Budget(2, 25, 2, 32))
    storage = SystemStore(system_uri).storage
    key = records.candidate_key(candidates[1], "spec")
    spec = records.read(storage, key)
    spec["slots"]["encoder_block_0"] = {"source": "clone", "component": "no:such:component"}
    records.write(storage, key, spec)  # This candidate's training will fail.

    run = get_dag("munet_add_task").test(logical_date=when, run_after=when, run_conf={
        "task": "digits", "dataset": "digits", "generations": 1, "system_uri": system_uri,
        **TINY})
    assert run.run_id == run_id
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert states[("train_0", 1)] == "failed" and states[("train_0", 0)] == "success"
    assert states[("commit_0", -1)] == "success"
    assert run.state == "success"
    manifest = SystemStore(system_uri).load()
    assert manifest.tasks["digits"]["population"] == [candidates[0]]
    assert manifest.tasks["digits"]["last_generation"]["failed"] == [candidates[1]]
