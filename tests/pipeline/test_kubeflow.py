"""The Kubeflow Pipelines v2 version compiles to IR YAML with the expected graph."""

import os

import yaml

from pipelines.munet_pipeline import GENERATIONS, compile_pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pipeline_compiles_to_ir_with_the_five_stages(tmp_path):
    spec = yaml.safe_load(open(compile_pipeline(str(tmp_path / "p.yaml"))))
    executors = spec["deploymentSpec"]["executors"]
    commands = {e["container"]["command"][-1] for e in executors.values()}
    assert commands == {"components.ingestion", "components.generation", "components.training",
                        "components.evaluation", "components.commit"}
    tasks = spec["root"]["dag"]["tasks"]
    assert "ingest" in tasks and f"commit-{GENERATIONS}" in tasks
    assert all(t.get("cachingOptions", {}).get("enableCache") is not True for t in tasks.values())
    loops = [t for t in tasks.values() if "parameterIterator" in t]
    assert len(loops) == GENERATIONS  # One ParallelFor over candidates per generation.
    loop_dag = spec["components"][loops[0]["componentRef"]["name"]]["dag"]["tasks"]
    assert loop_dag["train"].get("cachingOptions", {}).get("enableCache") is not True
    assert loop_dag["evaluate"]["dependentTasks"] == ["train"]
    trainers = [e for e in executors.values()
                if e["container"]["command"][-1] == "components.training"]
    assert all("accelerator" in e["container"]["resources"] for e in trainers)


def test_image_requirements_use_the_same_pins_as_requirements_txt():
    def pins(path):
        lines = [l.split("#")[0].strip() for l in open(path)]
        return dict(l.split("==") for l in lines if "==" in l)

    image = pins(os.path.join(REPO, "docker", "requirements-image.txt"))
    full = pins(os.path.join(REPO, "requirements.txt"))
    assert image and all(full[name] == version for name, version in image.items())
