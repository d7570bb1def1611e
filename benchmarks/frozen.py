r"""Frozen layers: what leaving the pretrained root's lower components frozen costs.

A munet task trains clones of some root components and shares the others frozen: at
mutation probability 0.1 a lineage of 6 generations has cloned each encoder block
with probability 1 - 0.9^6 = 47%, and the patch and position embeddings as often.
Full fine-tuning in the quality benchmark trains all of them. To tell how much of
munet's gap on a task comes from what it leaves frozen, this fine-tunes the same
pretrained root on one task with everything else the quality benchmark's
fine-tuning uses, but only part of it trainable:
  all        every component (the quality benchmark's fine-tuning);
  top k      the top k encoder blocks, the final norm and the head; the patch and
             position embeddings and the lower blocks stay frozen (k = depth .. 1);
  head       the final norm and the head only;
  adapters   a zero-initialised residual adapter before every frozen block (the
             quality benchmark's approach (d), but for the final norm, which trains);
  adapters + embeddings   the same with the patch and position embeddings trainable.
The settings run alternately within each repeat, so a slow spell hits them all; each
repeat draws the data order and the head anew (the quality benchmark's fine-tuning
seeds: on the same CPU, repeat 0 of "all" is bit for bit the fine-tuning of the
quality runs at batch 128 with the lineage budget rule, 3 generations of 500 steps).

    .venv/bin/python benchmarks/frozen.py           # fashion_mnist: about 30 minutes
    .venv/bin/python benchmarks/frozen.py --quick   # about 1 minute

Writes docs/benchmarks/<name>.{json,md,png} (default name frozen; or --output-dir).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results  # noqa: E402
from benchmarks import one_task  # noqa: E402
from benchmarks.quality import draws, train_baseline  # noqa: E402

EMBEDDINGS = ("patch_embedding", "position_embedding")


def frozen_settings(depth):
    """[(name, mode, trainable root slots)]: all trainable; the top `depth` .. 1 blocks;
    the head alone; a residual adapter before every frozen block, with the embeddings
    frozen or trainable. The final norm and the head train in every setting."""
    blocks = [f"encoder_block_{i}" for i in range(depth)]
    rows = [("all", "finetune", EMBEDDINGS + tuple(blocks) + ("final_norm",))]
    for top in range(depth, 0, -1):
        rows.append((f"top {top}", "finetune", tuple(blocks[depth - top:]) + ("final_norm",)))
    rows.append(("head", "finetune", ("final_norm",)))
    rows.append(("adapters", "adapters", ("final_norm",)))
    rows.append(("adapters + embeddings", "adapters", EMBEDDINGS + ("final_norm",)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    one_task.add_arguments(parser, "frozen",
                           "steps per validation interval (default 500; 30 with --quick)",
                           "validation intervals (default 3)")
    args = one_task.parse_arguments(parser)
    from munet.evolution.hyperparameters import STATIC_DEFAULTS

    started = time.perf_counter()
    root, config, task, spec, pretraining, store, manifest = one_task.prepare(
        args, "munet-frozen-")
    steps = config["steps"] * args.validations
    names = [name for name, _, _ in frozen_settings(root.depth)]
    rows = []
    for repeat in range(args.repeats):
        for name, mode, trained in frozen_settings(root.depth):
            row = train_baseline(store, manifest, mode, spec, config, steps,
                                 seed=draws(repeat)[2], trainable_slots=trained)
            rows.append(dict(row, repeat=repeat, setting=name, trainable_root_slots=list(trained)))
            print(f"repeat {repeat} {name}: test {row['test_accuracy']:.4f}, trainable "
                  f"{row['trainable_params']:,}, validation {row['validation_curve']}",
                  flush=True)
    means = {n: sum(r["test_accuracy"] for r in rows if r["setting"] == n) / args.repeats
             for n in names}
    trainable = {n: next(r["trainable_params"] for r in rows if r["setting"] == n)
                 for n in names}
    costs = {n: 100 * (means["all"] - means[n]) for n in names}
    result = {"setting": "quick" if args.quick else "default", "task": task,
              "root_pretraining": pretraining, "steps": steps,
              "batch_size": config["batch_size"], "rows": rows,
              "mean_test_accuracy": means, "trainable_params": trainable,
              "cost_points": costs, "seconds": time.perf_counter() - started}
    lines = [f"# Frozen layers: fine-tuning {task} with only part of the pretrained root "
             "trainable", "",
             f"The root pretrained on {args.pretrain_on} ({pretraining['steps']:,} steps, "
             f"depth {root.depth}), {steps:,} steps of batch {config['batch_size']}, the "
             f"root's hyperparameters, the best of {args.validations} validations kept, "
             f"{args.repeats} repeats. The final norm and the head train in every setting; "
             "'top k': the top k encoder blocks too, the embeddings and lower blocks "
             "frozen; 'adapters': a residual adapter (dim "
             f"{STATIC_DEFAULTS['adapter_dim']}) before every frozen block. Accuracy in %.",
             "",
             "| setting | trainable params | test accuracy by repeat | mean | "
             "cost against all (points) |", "|---|---|---|---|---|"]
    for name in names:
        tests = ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in rows
                          if r["setting"] == name)
        lines.append(f"| {name} | {trainable[name]:,} | {tests} | "
                     f"{100 * means[name]:.2f} | {costs[name]:+.2f} |")
    lines += ["", f"Wall time {result['seconds'] / 60:.1f} min."]
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    figure, axes = results.subplots(figsize=(6, 4))
    for repeat in range(args.repeats):
        picked = [r for r in rows if r["repeat"] == repeat]
        axes.scatter([r["trainable_params"] for r in picked],
                     [100 * r["test_accuracy"] for r in picked], s=40, label=f"repeat {repeat}")
    for name in names:
        axes.annotate(name, (trainable[name], 100 * means[name]), fontsize=7)
    axes.set_xscale("log")
    axes.set_xlabel("trainable params (log)")
    axes.set_ylabel(f"{task} test accuracy (%)")
    axes.legend()
    results.write_with_plot(args.name, args.quick, result, markdown, args.output_dir, figure)
    return result


if __name__ == "__main__":
    main()
