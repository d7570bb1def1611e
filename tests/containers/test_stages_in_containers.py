"""The stages in real containers (Podman), on a real small task.

The image is docker/Dockerfile's `venv` target, built for real with Podman FROM a
Debian base made locally (scripts/podman.sh). It holds everything but the Python
packages: this checkout's virtualenv (with its interpreter) and the repository are
bind-mounted read-only into every container, because pip-installing TensorFlow into
the image on every CI run would cost minutes. The production target (`image`) installs
them with pip: its test runs with MUNET_TEST_PRODUCTION_IMAGE=1 (about 3 more minutes).

munet_add_task runs in the `docker` execution mode against Podman's Docker-compatible
API (`podman system service` on a unix socket): every stage is a container with no
network, the store and the TFDS data dir mounted read-write. MLflow: the containers
get MUNET_TRACKING=off (MUNET_DOCKER_ENV), the commit's mirroring is skipped there.
"""

import datetime
import json
import os
import shutil
import socket
import tempfile
import time

import pytest

from munet.model.root import RootConfig
from munet.store import records
from munet.store.repository import SystemStore
from munet.system import init_system
from tests.containers import podman

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db")]

# One candidate: every TensorFlow stage in a container costs ~9 s of importing it.
TINY = {"candidates": 1, "steps_per_validation": 25, "validations": 2, "batch_size": 32}
ROOT = RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64)
# A fixed run date fixes the generation id, hence the mutations drawn, on every run.
RUN_AT = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)
# What a training result records about the run itself, not about the weights.
RUN_FACTS = ("train_seconds", "examples_per_second", "wall_seconds", "started_at",
             "finished_at", "host")


def get_dag(dag_id):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


@pytest.fixture(scope="module")
def service(image, tmp_path_factory):
    folder = tempfile.mkdtemp(prefix="munet-podman-api-")  # Short: a unix socket path.
    log = str(tmp_path_factory.mktemp("service") / "service.log")
    started = podman.Service(os.path.join(folder, "podman.sock"), log)
    try:
        yield started
    finally:
        started.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def docker_run(image, service, tmp_path_factory, tfds_dir):
    """munet_add_task (1 generation, 1 candidate) in the docker execution mode."""
    folder = tmp_path_factory.mktemp("docker_mode")
    uri = str(folder / "system")
    init_system(uri, ROOT)
    mounts = [*image["mounts"], (uri, uri, "rw"), (tfds_dir, tfds_dir, "rw")]
    env = {"MUNET_EXECUTION_MODE": "docker", "MUNET_DOCKER_URL": service.url,
           "MUNET_IMAGE": podman.IMAGE, "MUNET_DOCKER_ENV": "MUNET_TRACKING=off",
           "MUNET_DOCKER_MOUNTS": ",".join(":".join(m) for m in mounts)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():  # Read when the DAG file is parsed.
            patch.setenv(key, value)
        dag = get_dag("munet_add_task")
        started = time.time()
        run = dag.test(logical_date=RUN_AT, run_after=RUN_AT, run_conf={
            "task": "digits", "dataset": "digits", "generations": 1, "system_uri": uri,
            "data_dir": tfds_dir, **TINY})
        seconds = time.time() - started
    print(f"munet_add_task in containers: {seconds:.1f} s;", ", ".join(
        f"{ti.task_id}[{ti.map_index}] {(ti.end_date - ti.start_date).total_seconds():.1f} s"
        for ti in sorted(run.get_task_instances(), key=lambda ti: str(ti.start_date))
        if ti.start_date and ti.end_date))
    store = SystemStore(uri)
    candidates = [c for name in store.storage.list("generations")  # [] if none ran.
                  for c in records.read(store.storage, f"generations/{name}")["candidates"]]
    return {
        "uri": uri, "run": run, "seconds": seconds, "dag": dag, "candidates": candidates,
        "states": {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()},
        "commit": run.get_task_instance("commit_0").xcom_pull(task_ids="commit_0"),
        "results": {c: records.read(store.storage, records.candidate_key(c, "result"))
                    for c in candidates},
        "evaluations": {c: records.read(store.storage, records.candidate_key(c, "evaluation"))
                        for c in candidates},
    }


def untrained_copy(uri, destination, candidates):
    """A copy of the store as it was before its candidates were trained and evaluated
    (the commit and later versions do not matter: the stages read the base version)."""
    shutil.copytree(uri, destination)
    for candidate in candidates:
        for name in ("result", "evaluation"):
            os.remove(os.path.join(destination, records.candidate_key(candidate, name)))
    return str(destination)


def weights_and_figures(result):
    return {key: value for key, value in result.items() if key not in RUN_FACTS}


def test_munet_add_task_runs_every_stage_in_a_container(docker_run):
    dag, states = docker_run["dag"], docker_run["states"]
    assert type(dag.get_task("ingest")).__name__ == "DockerOperator"
    assert dag.get_task("train_0").operator_name == "DockerOperator"  # Mapped.
    assert docker_run["run"].state == "success", states
    assert len(docker_run["candidates"]) == TINY["candidates"]
    for task in ("ingest", "generate_0", "commit_0"):
        assert states[(task, -1)] == "success"
    for index in range(TINY["candidates"]):
        assert states[("train_0", index)] == states[("evaluate_0", index)] == "success"
    store = SystemStore(docker_run["uri"])
    assert store.head_version() == 2  # The first generation of a new task commits.
    manifest = store.load()
    assert manifest.tasks["digits"]["active"] in docker_run["candidates"]
    assert manifest.active_model("digits")["metrics"]["score"] > 0.1  # Chance is 0.1.
    commit = docker_run["commit"]  # The container's last line of output, as JSON.
    commit = json.loads(commit) if isinstance(commit, str) else commit
    assert commit["committed"] and commit["version"] == 2
    assert commit["tracking"]["skipped"] == "MUNET_TRACKING=off"
    for result in docker_run["results"].values():  # Trained in a container: its hostname.
        assert result["host"] != socket.gethostname()
        assert result["device"].lower().startswith("cpu")
    assert not os.path.exists(os.path.join(podman.REPO, "mlflow.db"))
    assert podman.containers() == []  # Removed once they exited.


def test_containers_train_and_evaluate_exactly_as_in_process(docker_run, tmp_path):
    from components import evaluation, training

    candidates = docker_run["candidates"]
    uri = untrained_copy(docker_run["uri"], tmp_path / "system", candidates)
    for candidate in candidates:
        training.run(uri, candidate)
        evaluation.run(uri, candidate)
    store = SystemStore(uri)
    for candidate in candidates:
        here = records.read(store.storage, records.candidate_key(candidate, "result"))
        there = docker_run["results"][candidate]
        # Same blobs (sha256 of the weights), same curves: bitwise the same training.
        assert {s: c["blob"] for s, c in here["components"].items()} == {
            s: c["blob"] for s, c in there["components"].items()}
        assert weights_and_figures(here) == weights_and_figures(there)
        assert records.read(store.storage, records.candidate_key(candidate, "evaluation")) \
            == docker_run["evaluations"][candidate]


def test_a_stage_run_by_hand_with_podman_run(docker_run, image, tmp_path, tfds_dir):
    """The README's command, `podman run --rm --network=none` with the store and the
    data mounted, here for the generation stage (no TensorFlow: quick): the candidates
    it records are those the same stage records in-process."""
    from components import generation

    uris = [str(tmp_path / name) for name in ("by_hand", "in_process")]
    for uri in uris:
        shutil.copytree(docker_run["uri"], uri)
    arguments = ["--task", "digits", "--generation", "digits-by-hand-g01", "--candidates",
                 "2", "--steps-per-validation", "5", "--validations", "1", "--seed", "3"]
    mounts = [*image["mounts"], (uris[0], uris[0], "rw"), (tfds_dir, tfds_dir, "rw")]
    output = podman.podman(
        "run", "--rm", "--network=none", *podman.volume_options(mounts),
        "-e", "MUNET_TRACKING=off", podman.IMAGE,
        "python", "-m", "components.generation", "--system", uris[0], *arguments)
    printed = json.loads(output.strip().splitlines()[-1])
    assert printed == generation.run_args(generation.build_parser().parse_args(
        ["--system", uris[1], *arguments]))
    assert len(printed) == 2
    by_hand, in_process = (SystemStore(uri).storage for uri in uris)
    for candidate in printed:  # Parents, mutations, hyperparameters, seeds.
        key = records.candidate_key(candidate, "spec")
        assert records.read(by_hand, key) == records.read(in_process, key)


@pytest.mark.skipif(os.environ.get("MUNET_TEST_PRODUCTION_IMAGE") != "1",
                    reason="builds the production image (pip installs TensorFlow inside, "
                           "~3 min): set MUNET_TEST_PRODUCTION_IMAGE=1")
def test_the_production_image_trains_and_evaluates_the_same(docker_run, tmp_path, tfds_dir):
    """docker/Dockerfile's default target, Python packages pip-installed in the image (its
    own interpreter, no mounts but the store and the data): the same weights and figures."""
    podman.script("build", "image", log=str(tmp_path / "build.log"), timeout=1800)
    candidate = docker_run["candidates"][0]
    uri = untrained_copy(docker_run["uri"], tmp_path / "system", [candidate])
    for module in ("training", "evaluation"):
        podman.podman(
            "run", "--rm", "--network=none", "--user=0",  # The test's folders are root's.
            "-v", f"{uri}:{uri}", "-v", f"{tfds_dir}:{tfds_dir}:ro",
            "-e", "MUNET_TRACKING=off", "localhost/munet:latest",
            "python", "-m", f"components.{module}", "--system", uri, "--candidate", candidate)
    store = SystemStore(uri)
    result = records.read(store.storage, records.candidate_key(candidate, "result"))
    assert weights_and_figures(result) == weights_and_figures(docker_run["results"][candidate])
    assert records.read(store.storage, records.candidate_key(candidate, "evaluation")) \
        == docker_run["evaluations"][candidate]


def test_nothing_is_left_running_or_in_the_firewall(image, service):
    service.stop()
    assert podman.containers() == []
    assert podman.storage_processes() == []
    assert podman.firewall() == image["firewall_before"]
