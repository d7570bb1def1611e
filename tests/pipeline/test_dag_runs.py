"""Real DAG runs (dag.test, SQLite metadata DB) on a real small task, tiny budgets."""

import datetime
import os
import random
import shutil
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
STARVED = dict(TINY, steps_per_validation=5, validations=1)
ROOT = RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64)
ADD_RUN_AT = datetime.datetime(2026, 1, 3, tzinfo=datetime.timezone.utc)
NIGHTLY_RUN_AT = datetime.datetime(2026, 1, 4, tzinfo=datetime.timezone.utc)


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


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, tfds_dir, airflow_db):
    """A system grown by the DAGs while a real MLflow server tracks it: munet_add_task
    (2 generations), then munet_nightly_improvement with the server killed, then the
    server restarted on the same database and `munet sync-mlflow` run."""
    from munet.tracking import mlflow_records, ui

    folder = tmp_path_factory.mktemp("tracked")
    uri = str(folder / "system")
    init_system(uri, ROOT)
    database = f"sqlite:///{folder}/mlflow.db"
    artifacts = str(folder / "mlartifacts")
    server = ui.start(database, artifacts_destination=artifacts, log_path=str(folder / "log"))
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    facts = {"uri": uri, "url": server.url}
    try:
        # The task is added on a starved budget so that the nightly generation, on
        # TINY's ten times more steps, beats it: an equal budget made that commit a coin
        # toss (a CI machine once trained no better child). Fixed run dates fix the
        # generation ids, hence every mutation drawn: with the run's time in them, a CI
        # run once drew two children that did not beat their parents and committed
        # nothing.
        run = get_dag("munet_add_task").test(
            logical_date=ADD_RUN_AT, run_after=ADD_RUN_AT, run_conf={
                "task": "digits", "dataset": "digits", "generations": 2, "system_uri": uri,
                "hparams": {"brightness": 0.05}, **STARVED})
        facts["add_task_state"] = run.state
        facts["add_task_states"] = task_states(run)
        store = SystemStore(uri)
        facts["head_after_add"] = store.head_version()
        facts["score_after_add"] = store.load().active_model("digits")["metrics"]["score"]

        server.kill()  # MLflow goes away; the nightly run must commit all the same.
        run = get_dag("munet_nightly_improvement").test(
            logical_date=NIGHTLY_RUN_AT, run_after=NIGHTLY_RUN_AT, run_conf={
                "max_tasks": 2, "generations": 1, "system_uri": uri, **TINY, "seed": 7})
        facts["nightly_state"] = run.state
        facts["nightly_states"] = task_states(run)
        facts["nightly_commit"] = run.get_task_instance("task0_commit_0").xcom_pull(
            task_ids="task0_commit_0")
        facts["head_after_nightly"] = store.head_version()

        port = int(server.url.rsplit(":", 1)[1])
        server = ui.start(database, port, artifacts, str(folder / "log"))
        facts["missing_before_sync"] = _unmirrored(uri, server.url)
        sync = subprocess.run([sys.executable, "-m", "munet", "--system", uri, "sync-mlflow"],
                              capture_output=True, text=True, env=dict(os.environ))
        facts["sync"] = sync
        facts["missing_after_sync"] = _unmirrored(uri, server.url)
        facts["second_sync"] = mlflow_records.sync(uri)
        yield facts
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


def _client(url):
    from mlflow import MlflowClient

    client = MlflowClient(url, registry_uri=url)
    return client, client.get_experiment_by_name("munet").experiment_id


def _unmirrored(system_uri, url):
    """Candidates of the store with no run in MLflow."""
    client, experiment = _client(url)
    in_mlflow = {r.data.tags.get("munet.candidate")
                 for r in client.search_runs([experiment], max_results=1000)}
    storage = SystemStore(system_uri).storage
    return sorted(c for c in storage.list("candidates") if c not in in_mlflow)


def test_add_task_then_nightly_improvement(tracked):
    assert tracked["add_task_state"] == "success"
    info = status(tracked["uri"])
    assert info["tasks"]["digits"]["test_accuracy"] > 0.2  # Chance is 0.1.
    assert info["tasks"]["digits"]["generations"] >= 1
    assert tracked["nightly_state"] == "success"
    states = tracked["nightly_states"]
    assert states["task0_generate_0"] == "success"
    # Only one task: slot 1's gate skips its generation and all that follows.
    assert states["task1_slot_0"] == "success" and states["task1_generate_0"] == "skipped"
    assert states["task1_train_0"] == states["task1_commit_0"] == "skipped"
    added = tracked["add_task_states"]  # Two of the eight generation slots were used.
    assert added["commit_0"] == added["commit_1"] == "success"
    assert {added[f"{stage}_{i}"] for stage in ("generate", "candidates", "commit")
            for i in range(2, 8)} | {added[f"slot_{i}"] for i in range(3, 8)} == {"skipped"}
    store = SystemStore(tracked["uri"])
    manifest = store.load()
    after = manifest.active_model("digits")["metrics"]["score"]
    assert after > tracked["score_after_add"]  # The nightly child improved the task...
    for version in range(2, store.head_version() + 1):  # ...each commit adds one.
        assert store.load(version).tasks["digits"]["last_generation"]["added"]


def test_the_conf_starting_hparams_reach_the_children_of_seeds_only(tracked):
    storage = SystemStore(tracked["uri"]).storage
    specs = [records.read(storage, records.candidate_key(c, "spec"))
             for c in storage.list("candidates")]
    from_root = [s for s in specs if s["parent_task"] != "digits"]
    assert from_root and len(from_root) < len(specs)
    for spec in specs:
        started = "start:brightness:0.0->0.05" in spec["mutations"]
        assert started == (spec["parent_task"] != "digits"), spec["mutations"]


def test_commits_land_while_mlflow_is_down_and_sync_back_fills(tracked):
    commit = tracked["nightly_commit"]
    assert commit["committed"], commit
    assert commit["version"] == tracked["head_after_nightly"]
    assert tracked["head_after_nightly"] > tracked["head_after_add"]
    assert commit["tracking"]["ok"] is False and "sync-mlflow" in commit["tracking"]["fix"]
    assert tracked["missing_before_sync"]  # The nightly candidates never reached MLflow...
    assert tracked["sync"].returncode == 0, tracked["sync"].stderr
    assert "mirrored 1 generation(s)" in tracked["sync"].stdout
    assert tracked["missing_after_sync"] == []  # ...until the back-fill.
    assert tracked["second_sync"]["mirrored"] == []  # Nothing twice.
    client, _ = _client(tracked["url"])
    champion = client.get_model_version_by_alias("munet.digits", "champion")
    manifest = SystemStore(tracked["uri"]).load()
    assert champion.tags["munet.candidate"] == manifest.tasks["digits"]["active"]


def test_lineage_from_mlflow_alone_matches_the_store(tracked):
    from munet.tracking.history import lineage, mutation_text

    client, experiment = _client(tracked["url"])
    store = SystemStore(tracked["uri"])
    manifest = store.load()
    for task in manifest.tasks:
        champion = client.get_model_version_by_alias(f"munet.{task}", "champion")
        chain, candidate = [], champion.tags["munet.candidate"]
        while candidate != "root":  # Walk up the parent tags, run by run.
            runs = client.search_runs([experiment], f"tags.`munet.candidate` = '{candidate}'")
            assert len(runs) == 1, candidate
            tags = runs[0].data.tags
            parent = client.get_run(tags["mlflow.parentRunId"]).data.tags
            assert parent["munet.kind"] == "generation"  # Two levels: generation, candidate.
            chain.append((candidate, tags["munet.mutations"], tags["munet.task"]))
            candidate = tags["munet.parent"]
        expected = [(s["candidate"], mutation_text(s["mutations"]), s["task"])
                    for s in lineage(store, manifest.tasks[task]["active"])]
        assert list(reversed(chain)) == expected
    # Every commit of the store is a generation run tagged with its version.
    commit_runs = {r.data.tags["munet.system_version"]: r for r in client.search_runs(
        [experiment], "tags.`munet.kind` = 'generation' and tags.`munet.committed` = 'true'")}
    assert set(commit_runs) == {str(v) for v in range(2, store.head_version() + 1)}
    # Each commit run carries the continual-learning report of its version.
    newest = commit_runs[str(store.head_version())].info.run_id
    report = {os.path.basename(a.path) for a in client.list_artifacts(newest, "report")}
    assert report == {"continual_learning.json", "continual_learning.md"}
    # Every model ever committed has a registered version.
    registered = {v.tags["munet.candidate"] for v in client.search_model_versions(
        "name = 'munet.digits'")}
    ever = {m for v in store.versions() for m, model in store.load(v).models.items()
            if model["task"] == "digits"}
    assert registered == ever


@pytest.mark.parametrize("conf,words", [
    ({"dataset": "digits"}, "task"),
    ({"task": "x", "dataset": "digits", "candidates": -1}, "candidates"),
    ({"task": "x", "dataset": "digits", "generations": 0}, "generations"),
    ({"task": "../x", "dataset": "digits"}, "task"),
    ({"task": "x", "dataset": "digits", "hparams": "flip=true"}, "hparams"),
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


def test_an_unknown_starting_hparam_fails_at_ingestion_naming_it(system_uri):
    run = get_dag("munet_add_task").test(run_conf={
        "task": "x", "dataset": "digits", "hparams": {"flp": True}, "system_uri": system_uri,
        **TINY})
    assert run.state == "failed" and task_states(run)["ingest"] == "failed"
    assert not SystemStore(system_uri).storage.exists("tasks/x/ingest.json")
    done = subprocess.run(
        [sys.executable, "-m", "components.ingestion", "--system", system_uri, "--task", "x",
         "--dataset", "digits", "--hparams", '{"flp": true}'], capture_output=True, text=True)
    assert done.returncode == 2 and "Unknown hyperparameter 'flp'" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "components.ingestion", "--system", system_uri, "--task", "x",
         "--dataset", "digits", "--hparams", "flip=true"], capture_output=True, text=True)
    assert done.returncode == 2 and "--hparams must be JSON; received 'flip=true'" in done.stderr


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


def _chromium(url, *flags, profile):
    """Headless Chromium on `url`, after the page's requests settle (virtual time)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium "
                    "chromium-driver; scripts/setup.sh does it).")
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--virtual-time-budget=5000", *flags, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_mlflow_ui_shows_the_experiment_and_a_committed_candidate(tracked, tmp_path):
    client, experiment = _client(tracked["url"])
    manifest = SystemStore(tracked["uri"]).load()
    champion = manifest.tasks["digits"]["active"]
    run = client.search_runs([experiment], f"tags.`munet.candidate` = '{champion}'")[0]
    generation = client.get_run(run.data.tags["mlflow.parentRunId"]).info.run_name

    listing = _chromium(f"{tracked['url']}/#/experiments", "--dump-dom",
                        profile=tmp_path / "p1")
    assert ">munet<" in listing
    page = f"{tracked['url']}/#/experiments/{experiment}/runs/{run.info.run_id}"
    dom = _chromium(page, "--dump-dom", profile=tmp_path / "p2")
    assert champion in dom and generation in dom  # The run, and its parent run's link.
    assert "validation_accuracy" in dom and "hp.lr" in dom

    folder = os.environ.get("MUNET_TEST_ARTIFACTS") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "var", "test-artifacts")
    os.makedirs(folder, exist_ok=True)
    screenshot = os.path.join(folder, "mlflow-ui-committed-candidate.png")
    if os.path.exists(screenshot):
        os.remove(screenshot)
    _chromium(page, "--window-size=1400,900", "--hide-scrollbars",
              f"--screenshot={screenshot}", profile=tmp_path / "p3")
    with open(screenshot, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    print("screenshot:", screenshot)
