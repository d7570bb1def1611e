"""munet_nightly_improvement: revisit existing tasks on a schedule (nightly by default).

choose_tasks picks up to `max_tasks` tasks, least recently revisited first, and each
chosen task runs the same generate -> train -> evaluate -> commit chain as
munet_add_task. Only improvements are committed: a task none of whose candidates
beats its parent keeps its model, bit for bit.
Schedule: MUNET_NIGHTLY_SCHEDULE (cron, default "0 2 * * *").
"""

import os

import pendulum
from airflow.sdk import DAG, Param, task

from munet_stages import BUDGET, budget_params, generation_chain

MAX_TASKS = 4
MAX_GENERATIONS_PER_TASK = 2

with DAG(
    dag_id="munet_nightly_improvement",
    description="Revisit munet tasks, least recently revisited first; commit only improvements.",
    schedule=os.environ.get("MUNET_NIGHTLY_SCHEDULE", "0 2 * * *"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["munet"],
    params={
        "max_tasks": Param(2, type="integer", minimum=1, maximum=MAX_TASKS,
                           description="tasks to revisit this run"),
        **budget_params(MAX_GENERATIONS_PER_TASK),
    },
    doc_md=__doc__,
) as dag:

    @task
    def choose_tasks(params=None):
        """{"slot_0": task, ...}: the tasks to revisit ('' for an unused slot)."""
        from munet.stages.chain import tasks_to_improve

        chosen = tasks_to_improve(params["system_uri"], params["max_tasks"])
        return {f"slot_{i}": (chosen[i] if i < len(chosen) else "") for i in range(MAX_TASKS)}

    previous = choose_tasks()
    for slot in range(MAX_TASKS):  # Tasks one after another: each commit sees the last.
        task_name = f"{{{{ ti.xcom_pull(task_ids='choose_tasks')['slot_{slot}'] }}}}"
        for index in range(MAX_GENERATIONS_PER_TASK):
            # An unused task slot skips all that follows (later slots are unused too);
            # an unused later generation skips only its own, so the next task is reached.
            previous = generation_chain(index, task_name, BUDGET, upstream=previous,
                                        prefix=f"task{slot}_", after_skip=index == 0,
                                        skip_the_rest=index == 0)


if __name__ == "__main__":
    dag.test()
