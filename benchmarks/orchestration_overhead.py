"""Orchestration overhead: one generation through the munet_add_task DAG (dag.test, in
this process, SQLite) against the same stages called directly, measured alternately
in one run on the same data, budget and seeds.

    .venv/bin/python benchmarks/orchestration_overhead.py [--repeats 3] [--warmups 1]
        [--quick] [--candidates 2] [--steps 50] [--name NAME] [--output-dir DIR]

The first --warmups rounds (one direct run, one DAG run each) are reported but not
counted: they pay one-time costs on both sides (Airflow's start-up under dag.test,
TensorFlow's first tracing). Airflow's cost is about fixed per task instance, so the
ratio depends on the budget: --steps (per validation; two validations per candidate)
shows it at larger budgets.

Prints the figures and writes docs/benchmarks/<name>.{json,md,png} (name
orchestration_overhead by default, with -quick appended for --quick).
"""

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import results  # noqa: E402


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
    parser.add_argument("--name", default="orchestration_overhead",
                        help="file name of the results, e.g. orchestration_overhead-1000-steps")
    parser.add_argument("--output-dir", default=results.DEFAULT_OUTPUT)
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
        "setting": "quick" if args.quick else "default",
        "budget": {"candidates": budget.num_candidates, "steps": steps * budget.num_validations},
        "direct_seconds": direct,
        "dag_seconds": through_dag,
        "ratio_per_repeat": [d / s for d, s in zip(through_dag, direct)],
        "ratio_total": sum(through_dag) / sum(direct),
        "goal": 1.15,
        "warmup": warmup,
        "dag_tasks": "ingest, then one generation: generate, candidates, train x "
                     "candidates, evaluate x candidates, commit; the 7 unused generation "
                     "slots skip (generate_1 runs and skips itself, the rest never run)",
        "note": "dag.test runs the tasks one after another in this process. The warm-up "
                "rounds pay one-time costs on both sides (Airflow's start-up under "
                "dag.test, TensorFlow's first tracing) and are not in the ratio.",
    }
    markdown = overhead_markdown(result)
    print(markdown)
    results.write_with_plot(args.name, args.quick, result, markdown, args.output_dir,
                            overhead_figure(result))
    return result


def overhead_markdown(result):
    budget = result["budget"]
    lines = [
        "# Orchestration overhead: one generation through the DAG / the stages called "
        "directly", "",
        f"One generation of {budget['candidates']} candidates x {budget['steps']} training "
        f"steps on digits, through the munet_add_task DAG (dag.test, SQLite) and through "
        f"the same stages called directly, alternately in one process. "
        f"**DAG / direct = {result['ratio_total']:.3f}** over the counted repeats "
        f"(goal <= {result['goal']}).", "",
        "| round | direct (s) | DAG (s) | DAG / direct |", "|---|---|---|---|"]
    warmup = result["warmup"]
    rounds = ([("warm-up (not counted)", d, g) for d, g in
               zip(warmup["direct_seconds"], warmup["dag_seconds"])]
              + [(f"repeat {n}", d, g) for n, (d, g) in
                 enumerate(zip(result["direct_seconds"], result["dag_seconds"]), start=1)])
    for label, direct, dag in rounds:
        lines.append(f"| {label} | {direct:.1f} | {dag:.1f} | {dag / direct:.3f} |")
    lines += ["", f"DAG tasks: {result['dag_tasks']}.", "", result["note"]]
    return "\n".join(lines) + "\n"


def overhead_figure(result):
    """Seconds per counted repeat, direct beside DAG."""
    figure, axes = results.subplots(figsize=(7, 4))
    repeats = range(1, len(result["direct_seconds"]) + 1)
    axes.bar([r - 0.2 for r in repeats], result["direct_seconds"], width=0.4,
             label="stages called directly")
    axes.bar([r + 0.2 for r in repeats], result["dag_seconds"], width=0.4,
             label="through the munet_add_task DAG")
    axes.set_xticks(list(repeats))
    axes.set_xlabel("repeat (measured alternately)")
    axes.set_ylabel("seconds for one generation")
    axes.legend()
    return figure


if __name__ == "__main__":
    main()
