"""The continual-learning report: how every task fared across every system version.

- Accuracy matrix: tasks x versions, the test accuracy of the task's active model at
  that version (None before the task existed).
- Interference: at each version committed by one task, every other task's path must be
  the same components (by blob digest) with the same accuracy. Any difference is
  listed; `backward_transfer` (the mean over tasks of the accuracy change caused by
  other tasks' commits) and `forgetting` (the largest drop so caused) must be 0.
- Forward transfer: the task's accuracy now minus its first committed model's.
- Params per task: the active path, its share of shared components, what it owns.
"""

import json
import os

from munet.tracking.history import all_versions, committed_tasks


def path_fingerprint(manifest, task):
    """What determines a task's predictions: its path's blobs, hyperparameters, head."""
    record = manifest.tasks.get(task)
    if not record or not record.get("active"):
        return None
    model = manifest.model(record["active"])
    blobs = tuple(manifest.components[c]["blob"] for c in manifest.active_components(model))
    return blobs, model["hparams"]["image_size"], model["hparams"]["num_layers"]


def _accuracy(manifest, task):
    record = manifest.tasks.get(task)
    if not record or not record.get("active"):
        return None
    return manifest.model(record["active"])["metrics"].get("test_accuracy")


def continual_learning_report(store, manifests=None):
    """The report as a plain dict (see the module docstring)."""
    manifests = manifests or all_versions(store)
    head = manifests[-1]
    tasks = sorted(head.tasks, key=lambda t: (head.tasks[t]["created_version"], t))
    versions = [m.version for m in manifests]
    matrix = {task: [_accuracy(m, task) for m in manifests] for task in tasks}
    committed_by = {manifests[0].version: []}
    interference = []
    caused = {task: [] for task in tasks}
    for previous, manifest in zip(manifests, manifests[1:]):
        authors = committed_tasks(previous, manifest)
        committed_by[manifest.version] = authors
        for task in tasks:
            if task in authors or task not in previous.tasks:
                continue
            before, after = _accuracy(previous, task), _accuracy(manifest, task)
            delta = (after or 0.0) - (before or 0.0)
            caused[task].append(delta)
            if path_fingerprint(previous, task) != path_fingerprint(manifest, task) or delta:
                interference.append({"version": manifest.version, "task": task,
                                     "committed_by": authors, "accuracy_change": delta})
    per_task = {}
    users = head.component_users()
    for task in tasks:
        row = [a for a in matrix[task] if a is not None]
        model = head.active_model(task)
        owned = [c for c in head.active_components(model)
                 if head.components[c]["created_by"] == task]
        per_task[task] = {
            "created_version": head.tasks[task]["created_version"],
            "first_test_accuracy": row[0] if row else None,
            "test_accuracy": row[-1] if row else None,
            "forward_transfer": (row[-1] - row[0]) if row else None,
            "backward_transfer": sum(caused[task]),
            "forgetting": max([0.0] + [-d for d in caused[task]]),
            "path_params": head.path_params(model),
            "accounted_params": head.accounted_params(model, task, users),
            "owned_params": sum(head.components[c]["num_params"] for c in owned),
        }
    final = [p["test_accuracy"] for p in per_task.values() if p["test_accuracy"] is not None]
    return {
        "version": head.version,
        "versions": versions,
        "tasks": tasks,
        "committed_by": {str(v): t for v, t in committed_by.items()},
        "accuracy_matrix": matrix,
        "per_task": per_task,
        "interference": interference,
        "backward_transfer": (sum(p["backward_transfer"] for p in per_task.values())
                              / len(tasks)) if tasks else 0.0,
        "forgetting": max([0.0] + [p["forgetting"] for p in per_task.values()]),
        "mean_test_accuracy": sum(final) / len(final) if final else None,
        "system_params": sum(c["num_params"] for c in head.components.values()),
    }


def write_report(report, folder):
    """Writes continual_learning.json and continual_learning.md into `folder`; returns
    their paths."""
    paths = [os.path.join(folder, "continual_learning.json"),
             os.path.join(folder, "continual_learning.md")]
    for path, text in zip(paths, (json.dumps(report, indent=1, sort_keys=True),
                                  report_markdown(report))):
        with open(path, "w") as handle:
            handle.write(text)
    return paths


def report_markdown(report):
    """The report as Markdown: summary, per-task table, accuracy matrix."""
    def pct(value):
        return "-" if value is None else f"{100 * value:.2f}"

    lines = [
        f"# Continual-learning report, system version {report['version']}",
        "",
        f"- Backward transfer (mean accuracy change caused by other tasks' commits): "
        f"{report['backward_transfer']:+.4f}",
        f"- Forgetting (largest drop caused by another task's commit): "
        f"{report['forgetting']:.4f}",
        f"- Paths changed by another task's commit: {len(report['interference'])}",
        f"- Mean test accuracy: {pct(report['mean_test_accuracy'])}%",
        f"- System params (all committed components): {report['system_params']:,}",
        "",
        "| task | first test acc. % | test acc. % | forward transfer (points) | path params "
        "| accounted params | owned params |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, row in report["per_task"].items():
        transfer = row["forward_transfer"]
        lines.append(
            f"| {task} | {pct(row['first_test_accuracy'])} | {pct(row['test_accuracy'])} | "
            f"{'-' if transfer is None else f'{100 * transfer:+.2f}'} | "
            f"{row['path_params']:,} | {row['accounted_params']:,.0f} | "
            f"{row['owned_params']:,} |")
    lines += ["", "Test accuracy (%) of each task's active model at each version "
              "(columns: version, committing task):", ""]
    header = [f"v{v} {'+'.join(report['committed_by'][str(v)]) or 'root'}"
              for v in report["versions"]]
    lines.append("| task | " + " | ".join(header) + " |")
    lines.append("|---|" + "---|" * len(header))
    for task, row in report["accuracy_matrix"].items():
        lines.append(f"| {task} | " + " | ".join(pct(a) for a in row) + " |")
    return "\n".join(lines) + "\n"
