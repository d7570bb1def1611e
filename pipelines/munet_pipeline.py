"""The munet chain as a Kubeflow Pipelines v2 pipeline, compiled to IR YAML.

The same image and component command lines as the Airflow DAGs' container modes:
ingest -> [generate -> ParallelFor(train -> evaluate) -> commit] x GENERATIONS.
Caching is off (every stage reads or writes the system store, which KFP cannot see).
Compile:  python -m pipelines.munet_pipeline --output munet_pipeline.yaml
Settings: MUNET_IMAGE, MUNET_TPU_IMAGE, MUNET_KFP_ACCELERATOR (e.g. TPU_V5_LITE_PODSLICE),
MUNET_KFP_ACCELERATOR_COUNT.
"""

import argparse
import os

from kfp import compiler, dsl

IMAGE = os.environ.get("MUNET_IMAGE", "munet:latest")
TPU_IMAGE = os.environ.get("MUNET_TPU_IMAGE", "munet-tpu:latest")
ACCELERATOR = os.environ.get("MUNET_KFP_ACCELERATOR", "TPU_V5_LITE_PODSLICE")
ACCELERATOR_COUNT = os.environ.get("MUNET_KFP_ACCELERATOR_COUNT", "4")
GENERATIONS = 2


def _command(module):
    return ["python", "-m", f"components.{module}"]


@dsl.container_component
def ingest(system_uri: str, task: str, dataset: str, splits: str, hparams: str, data_dir: str,
           result: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=IMAGE, command=_command("ingestion"), args=[
        "--system", system_uri, "--task", task, "--dataset", dataset, "--splits", splits,
        "--hparams", hparams, "--data-dir", data_dir, "--xcom-file", result])


@dsl.container_component
def generate(system_uri: str, task: str, run_id: str, index: int, candidates_per_generation: int,
             steps_per_validation: int, validations: int, candidates: dsl.OutputPath(list)):
    return dsl.ContainerSpec(image=IMAGE, command=_command("generation"), args=[
        "--system", system_uri, "--task", task, "--run-id", run_id, "--index", index,
        "--generations", str(GENERATIONS), "--candidates", candidates_per_generation,
        "--steps-per-validation", steps_per_validation, "--validations", validations,
        "--xcom-file", candidates])


@dsl.container_component
def train(system_uri: str, candidate: str, result: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=TPU_IMAGE, command=_command("training"), args=[
        "--system", system_uri, "--candidate", candidate, "--xcom-file", result])


@dsl.container_component
def evaluate(system_uri: str, candidate: str, result: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=IMAGE, command=_command("evaluation"), args=[
        "--system", system_uri, "--candidate", candidate, "--skip-untrained",
        "--xcom-file", result])


@dsl.container_component
def commit(system_uri: str, task: str, run_id: str, index: int, result: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=IMAGE, command=_command("commit"), args=[
        "--system", system_uri, "--task", task, "--run-id", run_id, "--index", index,
        "--xcom-file", result])


@dsl.pipeline(name="munet-add-task",
              description="Add a task to the munet system and evolve it.")
def munet_add_task(system_uri: str, task: str, dataset: str, splits: str = "{}",
                   hparams: str = "{}", data_dir: str = "", candidates_per_generation: int = 4,
                   steps_per_validation: int = 50, validations: int = 3):
    previous = ingest(system_uri=system_uri, task=task, dataset=dataset, splits=splits,
                      hparams=hparams, data_dir=data_dir)
    previous.set_caching_options(False)
    for index in range(GENERATIONS):
        generated = generate(system_uri=system_uri, task=task,
                             run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, index=index,
                             candidates_per_generation=candidates_per_generation,
                             steps_per_validation=steps_per_validation,
                             validations=validations).after(previous)
        generated.set_caching_options(False)
        with dsl.ParallelFor(generated.outputs["candidates"]) as candidate:
            trained = train(system_uri=system_uri, candidate=candidate)
            trained.set_caching_options(False)
            trained.set_accelerator_type(ACCELERATOR)
            trained.set_accelerator_limit(ACCELERATOR_COUNT)
            evaluated = evaluate(system_uri=system_uri, candidate=candidate).after(trained)
            evaluated.set_caching_options(False)
        previous = commit(system_uri=system_uri, task=task,
                          run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, index=index).after(evaluated)
        previous.set_caching_options(False)


def compile_pipeline(output):
    compiler.Compiler().compile(munet_add_task, package_path=output)
    return output


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default="munet_pipeline.yaml")
    print(compile_pipeline(parser.parse_args().output))
