"""Builds the stage tasks of munet's DAGs for the configured execution mode.

Not a DAG itself: munet_add_task.py and munet_nightly_improvement.py import it. Every
stage runs one component (components/<module>.py) with the same arguments whatever
the mode, so the mode is configuration, not another DAG file:

  MUNET_EXECUTION_MODE=local       the component runs in the worker's Python
  MUNET_EXECUTION_MODE=docker      DockerOperator, image MUNET_IMAGE
  MUNET_EXECUTION_MODE=kubernetes  KubernetesPodOperator, image MUNET_IMAGE; the
                                   training stage gets the TPU image, node selector
                                   and resources (MUNET_TPU_*)

Other settings (environment of the scheduler and workers):
  MUNET_SYSTEM_URI        default system URI (a folder or gs://bucket/prefix)
  MUNET_TFDS_DATA_DIR     TFDS data dir the stages read
  MUNET_TRAINING_POOL     Airflow pool capping parallel training (default_pool)
  MUNET_DOCKER_URL        Docker API socket (default unix:///var/run/docker.sock), or
                          Podman's: `podman system service unix:///path/podman.sock`
  MUNET_DOCKER_MOUNTS     host:container[:ro][,...] bind mounts (store and data, which
                          must be writable; :ro mounts read-only)
  MUNET_DOCKER_ENV        NAME[=value][,...] more environment for the containers: NAME
                          passes the worker's value on (when set), NAME=value sets it
                          (e.g. MUNET_TRACKING=off: the containers have no network)
  MUNET_K8S_NAMESPACE     namespace of the pods (default munet)
  MUNET_K8S_CONFIG_FILE   kubeconfig to use instead of in-cluster / the default one
"""

import datetime
import json
import os

from airflow.sdk import Param, TriggerRule, task

MODES = ("local", "docker", "kubernetes")
# components.cli.SKIP_EXIT_CODE (a test checks they agree): parsing the DAGs must not
# need munet installed, as the scheduler of a docker or kubernetes deployment has not.
MAX_GENERATIONS = 8
SKIP_EXIT_CODE = 99
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
BUDGET_KEYS = ("generations", "candidates", "steps_per_validation", "validations",
               "batch_size", "seed")
# Templated budget values, as the stage arguments take them.
BUDGET = {key: f"{{{{ params.{key} }}}}" for key in BUDGET_KEYS}


def settings():
    """The configuration read when the DAG file is parsed (all plain strings)."""
    env = os.environ
    return {
        "mode": env.get("MUNET_EXECUTION_MODE", "local"),
        "system_uri": env.get("MUNET_SYSTEM_URI", os.path.abspath("var/system")),
        "data_dir": env.get("MUNET_TFDS_DATA_DIR", ""),
        "image": env.get("MUNET_IMAGE", "munet:latest"),
        "tpu_image": env.get("MUNET_TPU_IMAGE", env.get("MUNET_IMAGE", "munet-tpu:latest")),
        "tpu_accelerator": env.get("MUNET_TPU_ACCELERATOR", "tpu-v5-lite-podslice"),
        "tpu_topology": env.get("MUNET_TPU_TOPOLOGY", "2x2"),
        "tpu_chips": env.get("MUNET_TPU_CHIPS", "4"),
        "namespace": env.get("MUNET_K8S_NAMESPACE", "munet"),
        "kube_config": env.get("MUNET_K8S_CONFIG_FILE", ""),
        "training_pool": env.get("MUNET_TRAINING_POOL", "default_pool"),
        "docker_url": env.get("MUNET_DOCKER_URL", "unix:///var/run/docker.sock"),
        "docker_mounts": env.get("MUNET_DOCKER_MOUNTS", ""),
        "docker_env": env.get("MUNET_DOCKER_ENV", ""),
    }


def run_component(module, arguments):
    """Local mode: runs components.<module> in this Python process; returns its result.
    A stage with nothing to do (cli.Skip) marks the task skipped."""
    import importlib

    from airflow.sdk.exceptions import AirflowSkipException

    from components import cli

    component = importlib.import_module(f"components.{module}")
    try:
        return component.run_args(component.build_parser().parse_args(arguments))
    except cli.Skip as reason:
        raise AirflowSkipException(str(reason)) from None


def _container_command(module, arguments):
    return ["python", "-m", f"components.{module}", *arguments]


def _docker_mounts(config):
    """MUNET_DOCKER_MOUNTS as bind mounts: host:container, or host:container:ro."""
    from docker.types import Mount

    mounts = []
    for entry in filter(None, (e.strip() for e in config["docker_mounts"].split(","))):
        parts = entry.split(":")
        mode = parts.pop() if len(parts) == 3 else "rw"
        if len(parts) != 2 or not all(parts) or mode not in ("ro", "rw"):
            raise ValueError(
                f"MUNET_DOCKER_MOUNTS entry {entry!r} is not host:container or "
                "host:container:ro (absolute paths, comma-separated). Fix the environment "
                "of the Airflow scheduler and workers.")
        source, target = parts
        mounts.append(Mount(target=target, source=source, type="bind",
                            read_only=mode == "ro"))
    return mounts


def _docker_environment(config):
    """The stages' environment plus MUNET_DOCKER_ENV (NAME passes the worker's value
    on, NAME=value sets one)."""
    env = _environment(config)
    for entry in filter(None, (e.strip() for e in config["docker_env"].split(","))):
        name, has_value, value = entry.partition("=")
        if has_value:
            env[name] = value
        elif name in os.environ:
            env[name] = os.environ[name]
    return env


def _environment(config):
    env = {"MUNET_SYSTEM_URI": config["system_uri"], "TF_CPP_MIN_LOG_LEVEL": "2"}
    if config["data_dir"]:
        env["MUNET_TFDS_DATA_DIR"] = config["data_dir"]
    return env


def _kubernetes_resources(module, config):
    from kubernetes.client import models as k8s

    if module != "training":
        return {"container_resources": k8s.V1ResourceRequirements(
            requests={"cpu": "1", "memory": "2Gi"}, limits={"memory": "4Gi"})}
    chips = config["tpu_chips"]
    return {
        "image": config["tpu_image"],
        "node_selector": {
            "cloud.google.com/gke-tpu-accelerator": config["tpu_accelerator"],
            "cloud.google.com/gke-tpu-topology": config["tpu_topology"],
        },
        "container_resources": k8s.V1ResourceRequirements(
            requests={"google.com/tpu": chips}, limits={"google.com/tpu": chips}),
        "tolerations": [k8s.V1Toleration(key="google.com/tpu", operator="Exists",
                                         effect="NoSchedule")],
    }


def stage_operator(module, task_id, arguments=None, mapped_arguments=None, **kwargs):
    """One stage as an Airflow task, in the configured mode.

    `arguments` (templated strings) makes a single task; `mapped_arguments` (an
    XComArg holding a list of argument lists) makes a dynamically mapped task.
    """
    config = settings()
    mode = config["mode"]
    if mode not in MODES:
        raise ValueError(
            f"MUNET_EXECUTION_MODE is {mode!r}; expected one of {MODES}. Fix the "
            "environment of the Airflow scheduler and workers."
        )
    if mode == "local":
        from airflow.providers.standard.operators.python import PythonOperator

        if mapped_arguments is not None:
            return PythonOperator.partial(
                task_id=task_id, python_callable=run_component, **kwargs
            ).expand(op_args=mapped_arguments.map(lambda a, m=module: [m, a]))
        return PythonOperator(task_id=task_id, python_callable=run_component,
                              op_args=[module, arguments], **kwargs)
    if mode == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator

        common = dict(task_id=task_id, image=config["image"], docker_url=config["docker_url"],
                      network_mode="none", mounts=_docker_mounts(config), auto_remove="success",
                      environment=_docker_environment(config), mount_tmp_dir=False,
                      skip_on_exit_code=SKIP_EXIT_CODE, **kwargs)
        if mapped_arguments is not None:
            return DockerOperator.partial(**common).expand(
                command=mapped_arguments.map(lambda a, m=module: _container_command(m, a)))
        return DockerOperator(command=_container_command(module, arguments), **common)

    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    xcom = ["--xcom-file", "/airflow/xcom/return.json"]
    common = dict(task_id=task_id, name=f"munet-{module}", namespace=config["namespace"],
                  image=config["image"], cmds=["python", "-m", f"components.{module}"],
                  env_vars=_environment(config), do_xcom_push=True,
                  skip_on_exit_code=SKIP_EXIT_CODE, get_logs=True,
                  on_finish_action="delete_succeeded_pod", **kwargs)
    if config["kube_config"]:
        common["config_file"] = config["kube_config"]
    common.update(_kubernetes_resources(module, config))
    if mapped_arguments is not None:
        return KubernetesPodOperator.partial(**common).expand(
            arguments=mapped_arguments.map(lambda a: [*a, *xcom]))
    return KubernetesPodOperator(arguments=[*arguments, *xcom], **common)


@task
def candidate_arguments(generated, system_uri):
    """The per-candidate argument lists of the train and evaluate stages."""
    if isinstance(generated, str):  # Docker mode: the last log line, as text.
        generated = json.loads(generated)
    return [["--system", system_uri, "--candidate", candidate] for candidate in generated]


RETRY = {"retries": 1, "retry_delay": datetime.timedelta(seconds=10)}


def budget_params(max_generations):
    """The Params (validated, shown in the trigger form) every munet DAG takes. Their
    defaults are munet's Budget defaults (a test checks they agree)."""
    return {
        "generations": Param(1, type="integer", minimum=1, maximum=max_generations,
                             description="generations of candidates per task"),
        "candidates": Param(4, type="integer", minimum=1, maximum=64,
                            description="candidates per generation"),
        "steps_per_validation": Param(50, type="integer", minimum=1,
                                      description="training steps between validations"),
        "validations": Param(3, type="integer", minimum=1,
                             description="validations per candidate"),
        "batch_size": Param(128, type="integer", minimum=1),
        "seed": Param(0, type="integer", minimum=0),
        "system_uri": Param(settings()["system_uri"], type="string", minLength=1,
                            description="the system: a folder or gs://bucket/prefix"),
    }


def slot_is_used(task_name, index, generations):
    """Whether generation slot `index` has work in this run (ShortCircuitOperator's
    callable): a task is named and the run asked for more than `index` generations."""
    return bool(task_name) and index < int(generations)


def generation_chain(index, task_name, budget, upstream=None, prefix="", after_skip=False,
                     skip_the_rest=True):
    """slot gate -> generate -> train (mapped) -> evaluate (mapped) -> commit.

    `task_name` and the values of `budget` are templated strings. A DAG holds a fixed
    number of generation slots; the gate (`{prefix}slot_{index}`) of a slot the run does
    not use skips the slot at once: every task after it when `skip_the_rest` (so later
    slots never run), else the slot's own tasks through their trigger rules.
    `after_skip=True` runs the gate even when the slot before it was skipped (the first
    generation of a nightly task slot, so the next task of the run is reached).

    A failed candidate does not fail the generation: evaluation runs once training is
    done, if the generation has candidates at all (ALL_DONE_MIN_ONE_SUCCESS over the
    candidate list and the mapped training), and reports an untrained candidate as
    skipped; the commit runs unless something upstream failed outright.
    """
    from airflow.providers.standard.operators.python import ShortCircuitOperator

    config = settings()
    system = "{{ params.system_uri }}"
    gate = ShortCircuitOperator(
        task_id=f"{prefix}slot_{index}", python_callable=slot_is_used,
        op_args=[task_name, index, budget["generations"]],
        ignore_downstream_trigger_rules=skip_the_rest,
        trigger_rule=TriggerRule.NONE_FAILED if after_skip else TriggerRule.ALL_SUCCESS)
    identity = ["--system", system, "--task", task_name, "--run-id", "{{ run_id }}",
                "--index", str(index)]
    generate = stage_operator("generation", f"{prefix}generate_{index}", identity + [
        "--generations", budget["generations"],
        "--candidates", budget["candidates"],
        "--steps-per-validation", budget["steps_per_validation"],
        "--validations", budget["validations"],
        "--batch-size", budget["batch_size"],
        "--seed", budget["seed"],
    ])
    arguments = candidate_arguments.override(task_id=f"{prefix}candidates_{index}")(
        generate.output, system)
    train = stage_operator("training", f"{prefix}train_{index}", mapped_arguments=arguments,
                           pool=config["training_pool"], **RETRY)
    evaluate_arguments = arguments.map(lambda a: [*a, "--skip-untrained"])
    evaluate = stage_operator("evaluation", f"{prefix}evaluate_{index}",
                              mapped_arguments=evaluate_arguments,
                              trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS, **RETRY)
    commit = stage_operator("commit", f"{prefix}commit_{index}", identity,
                            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, **RETRY)
    if upstream is not None:
        upstream >> gate
    gate >> generate
    train >> evaluate >> commit
    return commit
