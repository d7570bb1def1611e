"""Orchestration overhead: one generation through the munet_add_task DAG (dag.test, in
this process, SQLite) against the same stages called directly, measured alternately
in one run on the same data, budget and seeds.

    .venv/bin/python benchmarks/orchestration_overhead.py [--repeats 3] [--warmups 1]
        [--quick] [--candidates 2] [--steps 50] [--output FILE]

The first --warmups rounds (one direct run, one DAG run each) are reported but not
counted: they pay one-time costs on both sides (Airflow's start-up under dag.test,
TensorFlow's first tracing). Airflow's cost is about fixed per task instance, so the
ratio depends on the budget: --steps (per validation; two validations per candidate)
shows it at larger budgets.

Prints the figures and writes docs/benchmarks/orchestration_overhead.json.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.results import command_line  # noqa: E402


def setup_airflow(home):
    os.environ.update(AIRFLOW_HOME=home, AIRFLOW__CORE__DAGS_FOLDER=os.path.join(REPO, "dags"),
                      AIRFLOW__CORE__LOAD_EXAMPLES="False", TF_CPP_MIN_LOG_LEVEL="2")
    sys.path.insert(0, os.path.join(REPO, "dags"))
    import subprocess

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmups", type=int, default=1,
                        help="uncounted rounds first (default 1; 0 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smallest setting (tests)")
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per validation (default 50; 10 with --quick)")
    parser.add_argument("--output", default=os.path.join(REPO, "docs", "benchmarks",
                                                        "orchestration_overhead.json"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="munet-bench-")
    setup_airflow(os.path.join(work, "airflow"))
    os.environ.setdefault("MUNET_TFDS_DATA_DIR", os.path.join(work, "tfds"))
    # Both sides commit, so both track; into this run's folder, not the working dir.
    os.environ.setdefault("MUNET_HOME", work)

    from airflow.dag_processing.dagbag import DagBag

    from munet.model.root import RootConfig
    from munet.stages import chain
    from munet.stages.generate import Budget
    from munet.stages.ingest import ingest_task
    from munet.system import init_system

    steps = args.steps or (10 if args.quick else 50)
    budget = Budget(num_candidates=args.candidates, steps_per_validation=steps, num_validations=2,
                    batch_size=64)
    uri = os.path.join(work, "system")
    init_system(uri, RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64) if args.quick
                else RootConfig())
    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("munet_add_task")
    direct, through_dag = [], []
    warmups = 0 if args.quick else args.warmups
    for repeat in range(warmups + args.repeats):
        task = f"direct{repeat}"
        ingest_task(uri, task, "digits")
        start = time.perf_counter()
        chain.evolve_task(uri, task, 1, budget, seed=repeat)
        direct.append(time.perf_counter() - start)

        task = f"dag{repeat}"
        ingest_task(uri, task, "digits")  # Done ahead, as for the direct run.
        start = time.perf_counter()
        run = dag.test(run_conf={
            "task": task, "dataset": "digits", "generations": 1, "system_uri": uri,
            "candidates": budget.num_candidates, "steps_per_validation": steps,
            "validations": budget.num_validations, "batch_size": budget.batch_size,
            "seed": repeat})
        through_dag.append(time.perf_counter() - start)
        assert run.state == "success", run.state
        kind = "warm-up" if repeat < warmups else "repeat"
        print(f"{kind} {repeat}: direct {direct[-1]:.1f}s, DAG {through_dag[-1]:.1f}s, "
              f"ratio {through_dag[-1] / direct[-1]:.3f}", flush=True)
    warmup = {"direct_seconds": direct[:warmups], "dag_seconds": through_dag[:warmups]}
    direct, through_dag = direct[warmups:], through_dag[warmups:]
    result = {
        "command": command_line(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "budget": {"candidates": budget.num_candidates, "steps": steps * budget.num_validations},
        "direct_seconds": direct,
        "dag_seconds": through_dag,
        "ratio_per_repeat": [d / s for d, s in zip(through_dag, direct)],
        "ratio_total": sum(through_dag) / sum(direct),
        "warmup": warmup,
        "dag_tasks": "ingest, then one generation: generate, candidates, train x "
                     "candidates, evaluate x candidates, commit; the 7 unused generation "
                     "slots skip (generate_1 runs and skips itself, the rest never run)",
        "note": "dag.test runs the tasks one after another in this process. The warm-up "
                "rounds pay one-time costs on both sides (Airflow's start-up under "
                "dag.test, TensorFlow's first tracing) and are not in the ratio.",
    }
    print(f"orchestration overhead: DAG / direct = {result['ratio_total']:.3f} "
          f"(per repeat: {', '.join(f'{r:.3f}' for r in result['ratio_per_repeat'])})")
    if not args.quick:
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
