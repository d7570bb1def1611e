"""munet_add_task: add a task to the growing system (triggered; no schedule).

ingest -> [slot gate -> generate -> train (mapped over candidates) -> evaluate (mapped)
-> commit] for as many generations as the run asks, in MAX_GENERATIONS slots: the
gate of the first unused slot skips the rest. Trigger it from the UI form or with
  airflow dags trigger munet_add_task -c '{"task": "fashion", "dataset": "fashion_mnist"}'
"""

import pendulum
from airflow.sdk import DAG, Param

from munet_stages import BUDGET, MAX_GENERATIONS, SAFE_NAME, budget_params, generation_chain
from munet_stages import settings, stage_operator

_config = settings()

with DAG(
    dag_id="munet_add_task",
    description="Add a task to the munet system: ingest, then evolve it for a few generations.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    tags=["munet"],
    params={
        "task": Param(type="string", pattern=SAFE_NAME,
                      description="name of the new task (letters, digits, _ . -)"),
        "dataset": Param(type="string", minLength=1,
                         description="TFDS name, fashion_mnist/mnist/digits/animal_mnist/"
                                     "mnist_t10k, or folder:/path with one sub-folder per "
                                     "class"),
        "splits": Param({}, type="object",
                        description='optional split mapping, e.g. {"validation": "train[90%:]"}'),
        "hparams": Param({}, type="object",
                         description='optional starting hyperparameters of the task\'s first '
                                     'children, e.g. {"flip": true}'),
        "data_dir": Param(_config["data_dir"], type="string",
                          description="TFDS data dir ('' = the default)"),
        **budget_params(MAX_GENERATIONS),
    },
    doc_md=__doc__,
) as dag:
    ingest = stage_operator("ingestion", "ingest", [
        "--system", "{{ params.system_uri }}",
        "--task", "{{ params.task }}",
        "--dataset", "{{ params.dataset }}",
        "--splits", "{{ params.splits | tojson }}",
        "--hparams", "{{ params.hparams | tojson }}",
        "--data-dir", "{{ params.data_dir }}",
    ])
    previous = ingest
    for index in range(MAX_GENERATIONS):
        previous = generation_chain(index, "{{ params.task }}", BUDGET, upstream=previous)


if __name__ == "__main__":
    dag.test()
