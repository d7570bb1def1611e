"""Pictures of the system and of a model's lineage, as text and as PNG files.

The system picture follows the papers' figures: components are nodes laid out by
depth (input at the bottom), each task is a coloured path through them. A node is
grey if it comes from the root and takes the colour of the task that created it
otherwise; nodes on several paths are shared (and frozen for all of them).
"""

import textwrap

from munet.model.root import slot_kind
from munet.store.manifest import ROOT_MODEL_ID, slot_order
from munet.tracking.history import mutation_text

ROOT_COLOUR = "#b0b0b0"


def _slot_rank(slot):
    kind = slot_kind(slot)
    index = int(slot.rpartition("_")[2]) if kind != slot else 0
    return {"patch_embedding": (0, 0), "position_embedding": (1, 0),
            "residual_adapter": (2 + index, 0), "encoder_block": (2 + index, 1),
            "final_norm": (10**6, 0), "head": (10**6 + 1, 0)}[kind]


def system_layout(manifest):
    """Rows (slot names, input first), node positions and each task's path of node ids."""
    paths = {}
    for task, record in sorted(manifest.tasks.items()):
        if record.get("active"):
            model = manifest.model(record["active"])
            paths[task] = [(slot, model["slots"][slot]) for slot in slot_order(model)]
    rows = sorted({slot for path in paths.values() for slot, _ in path}, key=_slot_rank)
    row_of = {slot: i for i, slot in enumerate(rows)}
    columns = {}  # row -> component ids in first-seen order
    for path in paths.values():
        for slot, cid in path:
            if cid not in columns.setdefault(row_of[slot], []):
                columns[row_of[slot]].append(cid)
    positions = {}
    for row, cids in columns.items():
        for i, cid in enumerate(cids):
            positions[cid] = (i - (len(cids) - 1) / 2, row)
    return rows, positions, {task: [cid for _, cid in path] for task, path in paths.items()}


def system_text(manifest):
    """One block per task: its path, each component marked root / shared / owned."""
    users = manifest.component_users()
    lines = [f"System version {manifest.version}: {len(manifest.tasks)} tasks, "
             f"{len(manifest.components)} components, "
             f"{sum(c['num_params'] for c in manifest.components.values()):,} params.",
             "Legend: [root] root component, [shared a,b] used by several tasks (frozen), "
             "[own] trained by this task only."]
    for task, record in sorted(manifest.tasks.items()):
        if not record.get("active"):
            continue
        model = manifest.model(record["active"])
        lines.append(f"\n{task}: active {record['active']} (test accuracy "
                     f"{_pct(model['metrics'].get('test_accuracy'))}, "
                     f"{manifest.path_params(model):,} params)")
        for slot in slot_order(model):
            cid = model["slots"][slot]
            sharers = sorted(users.get(cid, {task}))
            if manifest.components[cid]["created_by"] is None:
                mark = "root" + (f", shared by {','.join(sharers)}" if len(sharers) > 1 else "")
            elif len(sharers) > 1:
                mark = f"shared {','.join(sharers)}"
            else:
                mark = "own"
            lines.append(f"  {slot:<22} {cid:<48} [{mark}]")
    return "\n".join(lines)


def lineage_text(chain):
    """root -> ... -> model, one line per step with its mutations."""
    lines = [ROOT_MODEL_ID]
    for spec in chain:
        lines.append(f"  -> {spec['candidate']}  ({spec['task']}; "
                     f"{mutation_text(spec['mutations'])})")
    return "\n".join(lines)


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _colours(tasks):
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {task: palette(i % 10) for i, task in enumerate(sorted(tasks))}


def draw_system(manifest, path):
    """Writes the system picture to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows, positions, paths = system_layout(manifest)
    colours = _colours(paths)
    width = max([3.0] + [abs(x) * 2 + 3 for x, _ in positions.values()])
    figure, axes = pyplot.subplots(figsize=(min(4 + 1.6 * width, 30), 1.2 + 0.55 * len(rows)))
    offsets = {task: (i - (len(paths) - 1) / 2) * 0.06 for i, task in enumerate(paths)}
    for task, cids in paths.items():
        xs = [positions[c][0] + offsets[task] for c in cids]
        ys = [positions[c][1] for c in cids]
        axes.plot(xs, ys, "-", color=colours[task], linewidth=2.5, label=task, zorder=1)
    for cid, (x, y) in positions.items():
        creator = manifest.components[cid]["created_by"]
        colour = ROOT_COLOUR if creator is None else colours.get(creator, ROOT_COLOUR)
        sharers = sum(cid in cids for cids in paths.values())
        axes.scatter([x], [y], s=420, color=colour, edgecolors="black",
                     linewidths=2.5 if sharers > 1 else 0.8, zorder=2)
        if sharers > 1:
            axes.annotate(str(sharers), (x, y), ha="center", va="center", fontsize=8,
                          zorder=3)
    axes.set_yticks(range(len(rows)), rows, fontsize=8)
    axes.set_xticks([])
    axes.set_xlim(-width / 2, width / 2)
    axes.set_title(f"munet system version {manifest.version}: {len(paths)} tasks; "
                   "grey = root, colour = creating task, thick ring + number = shared",
                   fontsize=9)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def draw_lineage(chain, metrics, path):
    """Writes the lineage root -> ... -> model to `path` (PNG).

    `metrics` maps model id -> {"validation_accuracy": ...} where known.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    nodes = [ROOT_MODEL_ID] + [spec["candidate"] for spec in chain]
    figure, axes = pyplot.subplots(figsize=(9, 1.0 + 1.1 * len(nodes)))
    colours = _colours({spec["task"] for spec in chain})
    for i, node in enumerate(nodes):
        y = len(nodes) - 1 - i
        task = chain[i - 1]["task"] if i else None
        accuracy = (metrics.get(node) or {}).get("validation_accuracy")
        label = node if accuracy is None else f"{node}\nvalidation {_pct(accuracy)}"
        axes.text(0, y, label, ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round", "facecolor": colours.get(task, ROOT_COLOUR),
                        "alpha": 0.6})
        if i:
            axes.annotate("", xy=(0, y + 0.25), xytext=(0, y + 0.75),
                          arrowprops={"arrowstyle": "->"})
            label = textwrap.fill(mutation_text(chain[i - 1]["mutations"]), 60)
            axes.text(0.05, y + 0.5, label, fontsize=7, va="center")
    axes.set_xlim(-1, 1)
    axes.set_ylim(-0.6, len(nodes) - 0.4)
    axes.axis("off")
    axes.set_title(f"Lineage of {nodes[-1]}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path
