r"""Restarts: what restarting the learning-rate schedule costs full fine-tuning.

A munet lineage of G generations restarts its schedule G times: each candidate
warms up and decays anew from its parent's weights. Full fine-tuning in the quality
benchmark runs one schedule over all its steps. To tell how much of munet's gap on a
task comes from the restarts alone, this fine-tunes the same pretrained root on one
task both ways, with everything else the quality benchmark's fine-tuning uses:
  cosine    the root's schedule, one warm-up and cosine decay over all the steps;
  restarts  one cosine cycle per validation interval of S steps, as a lineage of
            S-step candidates sees it (without the mutations and the freezing).
Each repeat draws the data order and the head anew (the quality benchmark's
fine-tuning seeds: on the same CPU, repeat 0 with the cosine schedule is bit for bit
the fine-tuning of the quality runs at batch 128 with the lineage budget rule, 3
generations of 500 steps).

    .venv/bin/python benchmarks/restarts.py           # fashion_mnist: about 8 minutes
    .venv/bin/python benchmarks/restarts.py --quick   # about 1 minute

Writes docs/benchmarks/<name>.{json,md,png} (default name restarts; or --output-dir).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results  # noqa: E402
from benchmarks.quality import draws, settings, train_baseline  # noqa: E402

SCHEDULES = ("cosine", "restarts")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smallest setting (tests)")
    parser.add_argument("--task", help="default fashion_mnist (digits with --quick)")
    parser.add_argument("--steps", type=int,
                        help="steps per validation interval and per restart cycle "
                             "(default 500; 30 with --quick)")
    parser.add_argument("--validations", type=int, default=3,
                        help="validation intervals, so restart cycles (default 3)")
    parser.add_argument("--batch-size", type=int, help="default 128 (32 with --quick)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pretrain-on", default="mnist_t10k", metavar="DATASET")
    parser.add_argument("--name", default="restarts")
    parser.add_argument("--output-dir", default=results.DEFAULT_OUTPUT)
    parser.add_argument("--data-dir", default=os.environ.get("MUNET_TFDS_DATA_DIR"))
    args = parser.parse_args()
    for name in ("steps", "validations", "batch_size", "repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; received {value}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["MUNET_TRACKING"] = "off"
    from munet.data import catalog
    from munet.evolution.hyperparameters import root_hparams
    from munet.store.repository import SystemStore
    from munet.system import init_system
    from munet.training.pretrain import DEFAULT_STEPS, pretrain_root

    started = time.perf_counter()
    root, config = settings(args.quick, pretrained=True)
    task = args.task or ("digits" if args.quick else "fashion_mnist")
    config["steps"] = args.steps or (30 if args.quick else 500)
    config["batch_size"] = args.batch_size or (32 if args.quick else 128)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="munet-tfds-")
    spec = catalog.prepare(task, data_dir)
    spec["splits"] = catalog.resolve_splits(spec, carve_percent=10)
    weights, pretraining = pretrain_root(root, args.pretrain_on,
                                         30 if args.quick else DEFAULT_STEPS, data_dir=data_dir)
    uri = tempfile.mkdtemp(prefix="munet-restarts-")
    init_system(uri, root, root_weights=weights, pretraining=pretraining)
    store = SystemStore(uri)
    manifest = store.load()
    steps = config["steps"] * args.validations
    rows = []
    for repeat in range(args.repeats):
        for schedule in SCHEDULES:  # Alternately, so a slow spell hits both.
            hparams = dict(root_hparams(manifest.root), schedule=schedule)
            row = train_baseline(store, manifest, "finetune", spec, config, steps,
                                 seed=draws(repeat)[2], hparams=hparams)
            rows.append(dict(row, repeat=repeat, schedule=schedule))
            print(f"repeat {repeat} {schedule}: test {row['test_accuracy']:.4f}, validation "
                  f"{row['validation_curve']}", flush=True)
    means = {s: sum(r["test_accuracy"] for r in rows if r["schedule"] == s) / args.repeats
             for s in SCHEDULES}
    cost = 100 * (means["cosine"] - means["restarts"])
    result = {"setting": "quick" if args.quick else "default", "task": task,
              "root_pretraining": pretraining, "steps": steps,
              "steps_per_cycle": config["steps"], "batch_size": config["batch_size"],
              "rows": rows, "mean_test_accuracy": means, "restart_cost_points": cost,
              "seconds": time.perf_counter() - started}
    lines = [f"# Restarts: full fine-tuning of {task} with one schedule or a restart "
             f"every {config['steps']} steps", "",
             f"The root pretrained on {args.pretrain_on} "
             f"({pretraining['steps']:,} steps), all of it trainable plus a head, "
             f"{steps:,} steps of batch {config['batch_size']}, the root's hyperparameters "
             f"but the schedule, the best of {args.validations} validations kept. "
             "Accuracy in %.", "",
             "| repeat | schedule | validation at each interval | test |", "|---|---|---|---|"]
    for row in rows:
        curve = ", ".join(f"{100 * a:.2f}" for a in row["validation_curve"])
        lines.append(f"| {row['repeat']} | {row['schedule']} | {curve} | "
                     f"{100 * row['test_accuracy']:.2f} |")
    lines += ["", f"Mean test accuracy: cosine {100 * means['cosine']:.2f}, restarts "
              f"{100 * means['restarts']:.2f}: restarting costs **{cost:+.2f} points**. "
              f"Wall time {result['seconds'] / 60:.1f} min."]
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    figure, axes = results.subplots(figsize=(6, 4))
    for schedule in SCHEDULES:
        picked = [r for r in rows if r["schedule"] == schedule]
        axes.scatter([r["repeat"] for r in picked], [100 * r["test_accuracy"] for r in picked],
                     s=80, label=schedule)
    axes.set_xlabel("repeat")
    axes.set_ylabel(f"{task} test accuracy (%)")
    axes.legend()
    results.write_with_plot(args.name, args.quick, result, markdown, args.output_dir, figure)
    return result


if __name__ == "__main__":
    main()
