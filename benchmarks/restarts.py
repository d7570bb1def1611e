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
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results  # noqa: E402
from benchmarks import one_task  # noqa: E402
from benchmarks.quality import draws, train_baseline  # noqa: E402

SCHEDULES = ("cosine", "restarts")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    one_task.add_arguments(parser, "restarts",
                           "steps per validation interval and per restart cycle "
                           "(default 500; 30 with --quick)",
                           "validation intervals, so restart cycles (default 3)")
    args = one_task.parse_arguments(parser)
    from munet.evolution.hyperparameters import root_hparams

    started = time.perf_counter()
    root, config, task, spec, pretraining, store, manifest = one_task.prepare(
        args, "munet-restarts-")
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
