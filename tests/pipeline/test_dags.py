"""The Airflow DAGs: parsing, validation of the trigger conf, rendering per mode."""

import json
import os

import pytest

from munet.store.repository import SystemStore

pytestmark = pytest.mark.usefixtures("airflow_db")

def load_dags(monkeypatch=None, **env):
    from airflow.dag_processing.dagbag import DagBag

    if monkeypatch:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    return bag


def test_both_dags_parse_with_their_schedules():
    bag = load_dags()
    add, nightly = bag.get_dag("munet_add_task"), bag.get_dag("munet_nightly_improvement")
    assert type(add.timetable).__name__ == "NullTimetable"  # Triggered only.
    assert "0 2 * * *" in str(nightly.timetable)
    assert {"ingest", "generate_0", "train_0", "evaluate_0", "commit_0"} <= set(add.task_ids)
    assert add.get_task("train_0").upstream_task_ids == {"candidates_0"}
    assert add.get_task("generate_1").upstream_task_ids == {"slot_1"}
    assert add.get_task("slot_1").upstream_task_ids == {"commit_0"}
    assert set(add.params) >= {"task", "dataset", "splits", "generations", "candidates"}


def test_the_trigger_form_defaults_are_munets_budget_defaults():
    import munet_stages

    from munet.stages.generate import Budget

    params, budget = munet_stages.budget_params(max_generations=3), Budget()
    assert params["candidates"].value == budget.num_candidates
    assert params["steps_per_validation"].value == budget.steps_per_validation
    assert params["validations"].value == budget.num_validations
    assert params["batch_size"].value == budget.batch_size


def test_an_unused_slot_skips_what_follows_without_running_it():
    bag = load_dags()
    add, nightly = bag.get_dag("munet_add_task"), bag.get_dag("munet_nightly_improvement")
    import munet_stages

    # add_task: the gate of the first unused slot skips every later task at once.
    gates = [add.get_task(f"slot_{i}") for i in range(8)]
    assert {type(g).__name__ for g in gates} == {"ShortCircuitOperator"}
    assert all(g.ignore_downstream_trigger_rules for g in gates)
    assert munet_stages.slot_is_used("digits", 1, "2") and not munet_stages.slot_is_used(
        "digits", 2, "2")
    assert not munet_stages.slot_is_used("", 0, "2")  # A nightly task slot left empty.
    # Evaluation needs the candidate list to have been made (a skipped slot has none),
    # yet runs after failed training.
    evaluate = add.get_task("evaluate_0")
    assert evaluate.trigger_rule == "all_done_min_one_success"
    assert evaluate.upstream_task_ids == {"candidates_0", "train_0"}
    # nightly: an unused second generation skips only its own slot, so the next task
    # slot's gate (which runs after a skipped slot) is reached.
    assert not nightly.get_task("task0_slot_1").ignore_downstream_trigger_rules
    assert nightly.get_task("task1_slot_0").trigger_rule == "none_failed"
    assert nightly.get_task("task1_slot_0").ignore_downstream_trigger_rules


def test_an_unused_slot_exits_with_the_code_the_operators_skip_on(monkeypatch, tmp_path):
    import subprocess
    import sys

    import munet_stages

    from components import cli

    assert munet_stages.SKIP_EXIT_CODE == cli.SKIP_EXIT_CODE
    done = subprocess.run(
        [sys.executable, "-m", "components.generation", "--system", str(tmp_path / "none"),
         "--task", "digits", "--run-id", "r", "--index", "3", "--generations", "2"],
        capture_output=True, text=True, cwd=os.path.dirname(munet_stages.__file__) + "/..")
    assert done.returncode == cli.SKIP_EXIT_CODE, done.stderr
    assert "generation slot 3 is unused" in done.stderr and done.stdout == ""
    docker = load_dags(monkeypatch, MUNET_EXECUTION_MODE="docker").get_dag("munet_add_task")
    assert cli.SKIP_EXIT_CODE in docker.get_task("generate_1").skip_on_exit_code


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: me, user: {token: test}}]
contexts: [{name: local, context: {cluster: local, user: me, namespace: munet}}]
current-context: local
"""


def test_kubernetes_mode_renders_pods_with_image_command_and_tpu(monkeypatch, tmp_path):
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)  # Rendering reads it; nothing connects.
    bag = load_dags(monkeypatch, MUNET_EXECUTION_MODE="kubernetes", MUNET_IMAGE="reg/munet:1",
                    MUNET_K8S_CONFIG_FILE=str(tmp_path / "kubeconfig"),
                    MUNET_TPU_IMAGE="reg/munet-tpu:1", MUNET_TPU_ACCELERATOR="tpu-v5p-slice",
                    MUNET_TPU_TOPOLOGY="2x2x1", MUNET_TPU_CHIPS="4")
    dag = bag.get_dag("munet_add_task")
    ingest = dag.get_task("ingest")
    assert type(ingest).__name__ == "KubernetesPodOperator"
    assert ingest.image == "reg/munet:1"
    assert ingest.cmds == ["python", "-m", "components.ingestion"]
    assert ingest.arguments[:2] == ["--system", "{{ params.system_uri }}"]
    assert ingest.arguments[-2:] == ["--xcom-file", "/airflow/xcom/return.json"]
    assert ingest.do_xcom_push
    pod = ingest.build_pod_request_obj()
    assert pod.spec.containers[0].image == "reg/munet:1"
    assert pod.spec.containers[0].command == ["python", "-m", "components.ingestion"]
    assert not pod.spec.node_selector

    train = dag.get_task("train_0")  # Mapped over the generation's candidates.
    kwargs = train.partial_kwargs
    assert kwargs["image"] == "reg/munet-tpu:1"
    assert kwargs["cmds"] == ["python", "-m", "components.training"]
    assert kwargs["node_selector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5p-slice",
        "cloud.google.com/gke-tpu-topology": "2x2x1"}
    assert kwargs["container_resources"].limits == {"google.com/tpu": "4"}
    evaluate = dag.get_task("evaluate_0").partial_kwargs
    assert evaluate["image"] == "reg/munet:1" and "node_selector" not in evaluate
    assert 99 in dag.get_task("generate_1").skip_on_exit_code  # An unused slot skips.


def test_docker_mode_runs_the_same_component_commands(monkeypatch):
    bag = load_dags(monkeypatch, MUNET_EXECUTION_MODE="docker", MUNET_IMAGE="munet:test",
                    MUNET_DOCKER_URL="unix:///run/podman/podman.sock",
                    MUNET_DOCKER_MOUNTS="/srv/system:/srv/system")
    dag = bag.get_dag("munet_add_task")
    commit = dag.get_task("commit_0")
    assert type(commit).__name__ == "DockerOperator"
    assert commit.image == "munet:test" and commit.network_mode == "none"
    assert commit.command[:3] == ["python", "-m", "components.commit"]
    assert commit.docker_url == "unix:///run/podman/podman.sock"
    assert commit.mounts[0]["Target"] == "/srv/system"


def test_unknown_execution_mode_is_a_clear_parse_error(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("MUNET_EXECUTION_MODE", "spaceship")
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert any("MUNET_EXECUTION_MODE" in error for error in bag.import_errors.values())


def test_dockerfiles_name_only_existing_entry_points():
    import importlib
    import re

    docker = os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "..", "docker")
    named = set()
    for name in os.listdir(docker):
        if name.startswith("Dockerfile"):
            named |= set(re.findall(r"components\.(\w+)", open(os.path.join(docker, name)).read()))
    assert named >= {"ingestion", "generation", "training", "evaluation", "commit"}
    for module in named:
        component = importlib.import_module(f"components.{module}")
        assert callable(component.run_args) and callable(component.build_parser)
