"""Fashion-MNIST within a fixed time budget on CPU (the issue's goal: >= 93% test accuracy
in 30 minutes on this machine's CPU).

One munet system, grown as a user would: an unlocked random-init hybrid root ViT (a
stem of two 3x3 convolutions of 16 channels, then patch 4, so 49 tokens, and 3
encoder blocks; its children start from AdamW, the default for a root that is not
locked), fashion_mnist ingested with horizontal flip, a shift of up to one pixel and
flip averaging at inference as starting hyperparameters (a mirrored or slightly moved
garment is the same garment: what a user who knows the data would say; without the
shift a 21,000-step child of 4 blocks overfits: 97.6% on its training images, 91.5%
on test), then evolved one generation at a time (one candidate per generation, the
child of munet's parent sampling, trained, validated, committed only if it beats its
parent) for as long as the budget allows. Three blocks, not four: in the same time
24,000 steps of 3 blocks scored higher on validation than 21,000 steps of 4 (93.34%
against 93.12%). A new generation starts only if the longest one so far still fits
in the time left, so the wall time stays within --minutes unless the first
generation alone is longer (it always runs). At the defaults (munet's default
batch, 128, and 3 x 8,000 steps per generation) one generation fills the budget: at
batch 64, one long generation scored higher than three shorter ones in the same
time (90.93% against 90.75%: see
docs/benchmarks/fashion_budget_one_generation.md and _three_generations_b64.md).
Test accuracy is read after each generation for the report; nothing reads it to
choose.

    .venv/bin/python benchmarks/fashion_budget.py              # 30 minutes on 2 cores
    .venv/bin/python benchmarks/fashion_budget.py --quick      # about 1 minute

Writes docs/benchmarks/fashion_budget.{json,md,png} (or --name, --output-dir).
"""

import argparse
import dataclasses
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results  # noqa: E402

TASK = "fashion_mnist"
# Unless --hparam names others.
START_HPARAMS = ["flip=true", "shift=0.04", "flip_average=true"]


def settings(args):
    """(root, budget, minutes) of the run."""
    from munet.model.root import RootConfig
    from munet.stages.generate import Budget

    if args.quick:
        return (RootConfig(patch_size=7, width=32, depth=2, num_heads=2, mlp_dim=64,
                           stem_channels=8, locked=False),
                Budget(num_candidates=1, steps_per_validation=20, num_validations=2,
                       batch_size=32, max_validation_examples=500), 0.5)
    root = RootConfig(patch_size=args.patch_size, width=args.width, depth=args.depth,
                      num_heads=args.num_heads, mlp_dim=args.mlp_dim or 2 * args.width,
                      stem_channels=args.stem_channels, stem_layers=args.stem_layers,
                      locked=False)
    budget = Budget(num_candidates=1, steps_per_validation=args.steps_per_validation,
                    num_validations=args.validations, batch_size=args.batch_size,
                    max_validation_examples=5000)
    return root, budget, args.minutes


def main():
    from munet.stages.generate import Budget  # No TensorFlow: the arguments parse fast.

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smallest setting (tests)")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-time budget")
    parser.add_argument("--patch-size", type=int, default=4)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--mlp-dim", type=int, help="encoder MLP width (default 2 x width)")
    parser.add_argument("--stem-channels", type=int, default=16)
    parser.add_argument("--stem-layers", type=int, default=2)
    parser.add_argument("--hparam", action="append", metavar="NAME=VALUE",
                        help="starting hyperparameter of the task (repeatable; "
                             f"default: {' '.join(START_HPARAMS)})")
    parser.add_argument("--steps-per-validation", type=int, default=8000)
    parser.add_argument("--validations", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=Budget().batch_size)
    parser.add_argument("--name", default="fashion_budget",
                        help="file name of the results, without extension")
    parser.add_argument("--output-dir", default=results.DEFAULT_OUTPUT)
    parser.add_argument("--data-dir", default=os.environ.get("MUNET_TFDS_DATA_DIR"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["MUNET_TRACKING"] = "off"  # Measure the method, not the bookkeeping.
    from munet.cli import parse_hparam_pairs
    from munet.stages import chain
    from munet.stages.ingest import ingest_task
    from munet.system import init_system, status

    root, budget, minutes = settings(args)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="munet-tfds-")
    uri = tempfile.mkdtemp(prefix="munet-fashion-")
    init_system(uri, root)
    start_hparams = parse_hparam_pairs(args.hparam or START_HPARAMS)
    # Ingestion prepares the data: outside the budget.
    spec = ingest_task(uri, TASK, TASK, data_dir=data_dir, start_hparams=start_hparams)

    limit = 60 * minutes
    start, cpu_start = time.perf_counter(), time.process_time()
    generations = []
    while True:
        began = time.perf_counter()
        summary = chain.evolve_task(uri, TASK, 1, budget, seed=len(generations),
                                    run_id=f"budget{len(generations):03d}")[0]
        info = status(uri)["tasks"][TASK]
        generations.append({
            "seconds": time.perf_counter() - began,
            "elapsed": time.perf_counter() - start,
            "committed": summary["committed"],
            "validation_accuracy": info["validation_accuracy"],
            "test_accuracy": info["test_accuracy"],
            "num_layers": info["num_layers"],
        })
        print(f"generation {len(generations)}: {generations[-1]}", flush=True)
        longest = max(g["seconds"] for g in generations)
        if time.perf_counter() - start + longest > limit:
            break
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    final = status(uri)["tasks"][TASK]
    steps = budget.steps_per_validation * budget.num_validations
    result = {
        "setting": "quick" if args.quick else "default",
        "root": dataclasses.asdict(root), "budget": dataclasses.asdict(budget),
        "start_hparams": spec.get("start_hparams", {}),
        "minutes_budget": minutes, "wall_seconds": wall, "process_cpu_seconds": cpu,
        "generations": generations, "train_steps": steps * len(generations),
        "test_accuracy": final["test_accuracy"],
        "validation_accuracy": final["validation_accuracy"],
        "path_params": final["path_params"],
        "target": ">= 93% test accuracy within 30 minutes of wall time on this CPU",
        "target_met": (final["test_accuracy"] >= 0.93 and wall <= 30 * 60
                       and not args.quick),
    }
    lines = [
        "# Fashion-MNIST within a time budget on CPU", "",
        f"munet grows one task, fashion_mnist, from an unlocked random-init root ViT "
        f"(stem {root.stem_layers} x {root.stem_channels} channels, patch {root.patch_size}, "
        f"{root.width} wide, {root.depth} blocks, "
        f"{final['path_params']:,} params in the final path), starting hyperparameters "
        f"{spec.get('start_hparams', {})}: one candidate per "
        f"generation, {steps:,} steps of batch {budget.batch_size} each, committed only "
        f"if it beats its parent on validation. Budget {minutes:g} min of wall time on "
        f"this CPU (data preparation excluded).", "",
        f"**Test accuracy {100 * final['test_accuracy']:.2f}%** after "
        f"{len(generations)} generations ({result['train_steps']:,} training steps) in "
        f"{wall / 60:.1f} min of wall time ({cpu / 60:.1f} min of process CPU time "
        f"over {os.cpu_count()} cores). Target >= 93% in 30 min: "
        f"{'met' if result['target_met'] else 'not met'}.", "",
        "| generation | ended at (min) | committed | validation % | test % | blocks |",
        "|---|---|---|---|---|---|"]
    for number, g in enumerate(generations, start=1):
        lines.append(f"| {number} | {g['elapsed'] / 60:.1f} | "
                     f"{'yes' if g['committed'] else 'no'} | "
                     f"{100 * g['validation_accuracy']:.2f} | {100 * g['test_accuracy']:.2f} | "
                     f"{g['num_layers']} |")
    markdown = "\n".join(lines) + "\n"
    print(markdown)

    figure, axes = results.subplots(figsize=(7, 4))
    elapsed = [g["elapsed"] / 60 for g in generations]
    axes.plot(elapsed, [100 * g["validation_accuracy"] for g in generations], "o-",
              label="validation (selects)")
    axes.plot(elapsed, [100 * g["test_accuracy"] for g in generations], "s--",
              label="test (reported)")
    axes.axhline(93, color="grey", linestyle=":", label="target 93%")
    axes.set_xlabel("wall time (min)")
    axes.set_ylabel("accuracy of the committed model (%)")
    axes.legend()
    results.write_with_plot(args.name, args.quick, result, markdown, args.output_dir, figure)
    return result


if __name__ == "__main__":
    main()
