r"""Quality across runs: munet against full fine-tuning over several quality results.

One quality run cannot resolve a 1-point effect: CPU rounding alone moves munet's mean
test accuracy by more than a point. This script reads the JSON files that
benchmarks/quality.py wrote and puts the runs side by side: per run, munet's mean test
accuracy minus fine-tuning's (points) and munet's accounted params per task as a share
of fine-tuning's; then the mean, standard deviation and range of both over the runs,
and per task the mean difference. It trains nothing.

    .venv/bin/python benchmarks/quality_summary.py docs/benchmarks/quality_a.json \
        docs/benchmarks/quality_a_seed1.json --name quality_summary

Writes docs/benchmarks/<name>.{json,md,png} (or --output-dir). The plot places each
run by params share and difference, with the issue's target region shaded.
"""

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results  # noqa: E402
from benchmarks.quality import TARGET_POINTS, TARGET_SHARE  # noqa: E402


def read_run(path):
    """The figures of one quality result file that this summary compares."""
    try:
        with open(path) as handle:
            data = json.load(handle)
        figures, summary = data["figures"], data["summary"]
        per_task = {task: 100 * (figures["munet"][task]["test_accuracy"]
                                 - figures["finetune"][task]["test_accuracy"])
                    for task in data["tasks"]}
        # Results from before --seed existed were all repeat 0.
        return {"name": os.path.splitext(os.path.basename(path))[0], "seed": data.get("seed", 0),
                "machine": data["machine"].split(",")[0], "minutes": data["seconds"] / 60,
                "munet": 100 * summary["munet"]["mean_test_accuracy"],
                "finetune": 100 * summary["finetune"]["mean_test_accuracy"],
                "points": data["munet_minus_finetune_points"],
                "share": data["munet_params_share_of_finetune"], "per_task": per_task,
                "target_met": data["target_met"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise SystemExit(
            f"{path}: not a quality result ({type(error).__name__}: {error}); expected a "
            "JSON file written by benchmarks/quality.py. Fix: pass such files, e.g. "
            "docs/benchmarks/quality_pretrained_lineage_b128.json.")


def spread(values):
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": len(values)}


def summarise(runs):
    tasks = sorted({task for run in runs for task in run["per_task"]})
    return {
        "points": spread([run["points"] for run in runs]),
        "share": spread([run["share"] for run in runs]),
        "per_task_points": {task: spread([run["per_task"][task] for run in runs
                                          if task in run["per_task"]]) for task in tasks},
        "runs_meeting_target": sum(run["target_met"] for run in runs),
    }


def markdown(runs, summary):
    lines = ["# Quality across runs: munet against full fine-tuning", "",
             f"Target: munet's mean test accuracy >= fine-tuning's + {TARGET_POINTS:g} point "
             f"with <= {TARGET_SHARE:.0%} of its params per task.", "",
             "| run | seed | machine | minutes | munet | fine-tuning | points | params share |",
             "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        lines.append(f"| {run['name']} | {run['seed']} | {run['machine']} | "
                     f"{run['minutes']:.1f} | {run['munet']:.2f} | {run['finetune']:.2f} | "
                     f"{run['points']:+.2f} | {run['share']:.0%} |")
    points, share = summary["points"], summary["share"]
    lines += ["", f"Over {len(runs)} runs: munet minus fine-tuning {points['mean']:+.2f} "
              f"points (sd {points['sd']:.2f}, from {points['min']:+.2f} to "
              f"{points['max']:+.2f}), at {share['mean']:.0%} of fine-tuning's params per "
              f"task (from {share['min']:.0%} to {share['max']:.0%}). Runs meeting the "
              f"target: {summary['runs_meeting_target']} of {len(runs)}.", "",
              "| task | runs | mean points | sd | min | max |", "|---|---|---|---|---|---|"]
    for task, task_points in summary["per_task_points"].items():
        lines.append(f"| {task} | {task_points['runs']} | {task_points['mean']:+.2f} | "
                     f"{task_points['sd']:.2f} | {task_points['min']:+.2f} | "
                     f"{task_points['max']:+.2f} |")
    return "\n".join(lines) + "\n"


def plot(runs):
    figure, axes = results.subplots(figsize=(6, 4.5))
    shares = [100 * run["share"] for run in runs]
    points = [run["points"] for run in runs]
    low, high = min(points + [0.0]) - 0.5, max(points + [TARGET_POINTS]) + 0.5
    axes.fill_between([0, 100 * TARGET_SHARE], TARGET_POINTS, high, color="tab:green",
                      alpha=0.15, label="target")
    axes.scatter(shares, points, color="tab:blue")
    prefix = os.path.commonprefix([run["name"] for run in runs]) if len(runs) > 1 else ""
    for run, x, y in zip(runs, shares, points):
        axes.annotate(run["name"][len(prefix):] or run["name"], (x, y), fontsize=6,
                      xytext=(3, 3), textcoords="offset points")
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_xlim(0, max([100.0] + [share + 5 for share in shares]))
    axes.set_ylim(low, high)
    axes.set_xlabel("munet params per task, % of fine-tuning's")
    axes.set_ylabel("munet minus fine-tuning, mean test accuracy (points)")
    axes.set_title(f"names after {prefix!r}" if prefix else "", fontsize=8)
    axes.legend(loc="lower left")
    return figure


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RESULT_JSON",
                        help="quality result files written by benchmarks/quality.py")
    parser.add_argument("--name", default="quality_summary")
    parser.add_argument("--output-dir", default=results.DEFAULT_OUTPUT)
    args = parser.parse_args()
    runs = [read_run(path) for path in args.runs]
    summary = summarise(runs)
    text = markdown(runs, summary)
    print(text)
    figure = plot(runs)
    figure.tight_layout()
    results.write(args.name, {"runs": runs, "summary": summary,
                              "target": {"points": TARGET_POINTS, "share": TARGET_SHARE}},
                  text, args.output_dir, [(f"{args.name}.png", figure)])


if __name__ == "__main__":
    main()
