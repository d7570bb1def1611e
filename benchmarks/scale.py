"""Scale: commit latency, load time and store size as the system grows to 10, 100 and
1,000 tasks (synthetic tasks, committed through the real store).

Each synthetic task owns a clone of the last encoder block and its own head, with
real weights written as blobs, and shares everything else with the root; a commit
adds one task (or improves one) as the commit stage changes the manifest: a new
model, made active, and the task's garbage collected (`collect_garbage(manifest,
task)`), committed with `store.commit(..., task=task)`.

The root is the default RootConfig (width 64, depth 4, 4 heads, MLP 128), the system
`munet init` makes, so a task's own weights are those of a real small task: one
block clone (33,472 params) and a 10-class head (650 params), 136 KB in float32.
An earlier version of this benchmark used width 16, where a block is ~10 KB: there
the 4-6 KB of metadata a commit writes whatever the width (the task's shard, its
index leaf and inner node, the version object, the blobs' headers) is half the
weights, so the "bytes added per task <= 1.05 x own weights" goal would measure the
width chosen rather than the store.

Measured per size: the median time of `samples` commits that improve an existing task
(and of the last task-adding commits), the store bytes each task-adding commit added
(everything it wrote: blobs, shard, index nodes, version object; the folder is walked
before and after) over the task's own weight bytes, the time to load the head in this
process (warm: after commits, only the version object is read; the time is that of
building the whole manifest's dicts) and with an empty cache (cold: every piece read
and checked, as in a fresh process), and task 0's inference FLOPs.

    .venv/bin/python benchmarks/scale.py              # 10, 100, 1000 tasks
    .venv/bin/python benchmarks/scale.py --quick      # 5, 20 tasks

Writes docs/benchmarks/scale.{json,md,png} (or --output-dir).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results  # noqa: E402

NUM_CLASSES = 10


def folder_bytes(path):
    total = 0
    for folder, _, names in os.walk(path):
        total += sum(os.path.getsize(os.path.join(folder, n)) for n in names)
    return total


def task_weights(rng, width, mlp_dim, heads):
    """A cloned encoder block and a head, as the Keras layers hold them."""
    import numpy as np

    def array(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    block = [array(width), array(width),  # norm_1
             array(width, heads, width // heads), array(heads, width // heads),  # query
             array(width, heads, width // heads), array(heads, width // heads),  # key
             array(width, heads, width // heads), array(heads, width // heads),  # value
             array(heads, width // heads, width), array(width),  # output
             array(width), array(width),  # norm_2
             array(width, mlp_dim), array(mlp_dim), array(mlp_dim, width), array(width)]
    head = [array(width, NUM_CLASSES), array(NUM_CLASSES)]
    return block, head


def add_or_improve(store, task, rng, root, version_tag):
    """One commit: `task` gets a new model owning a block clone and a head."""
    from munet.evolution import population
    from munet.model.assembly import count_params

    last = f"encoder_block_{root['depth'] - 1}"
    block, head = task_weights(rng, root["width"], root["mlp_dim"], root["num_heads"])
    owned = {last: ("encoder_block", block), "head": ("head", head)}
    blobs = {slot: (kind, store.blobs.put(w), count_params(w))
             for slot, (kind, w) in owned.items()}
    model_id = f"{task}-{version_tag}"

    def change(manifest):
        base = manifest.model("root")
        slots = dict(base["slots"])
        for slot, (kind, blob, params) in blobs.items():
            cid = f"{model_id}:{slot}"
            config = ({"width": root["width"], "num_classes": NUM_CLASSES} if kind == "head"
                      else manifest.components[base["slots"][slot]]["config"])
            manifest.components[cid] = {"kind": kind, "config": config, "blob": blob,
                                        "num_params": params, "created_by": task}
            slots[slot] = cid
        manifest.models[model_id] = {
            "id": model_id, "task": task, "parent": "root", "generation": model_id,
            "slots": slots, "hparams": dict(base["hparams"]), "mutations": [],
            "metrics": {"score": 0.5, "validation_accuracy": 0.5, "test_accuracy": 0.5},
            "offspring": 0, "created_version": manifest.version + 1}
        record = manifest.tasks.get(task)
        if record is None:
            record = manifest.tasks[task] = {
                "dataset": "synthetic", "tfds_name": "synthetic", "num_classes": NUM_CLASSES,
                "active": None, "population": [], "seed_offspring": {},
                "committed_generations": [], "created_version": manifest.version + 1}
        record["active"] = model_id
        record["population"] = [model_id]
        record["committed_generations"].append(model_id)
        population.collect_garbage(manifest, task)  # The replaced model leaves.
        return manifest

    start = time.perf_counter()
    store.commit(change, f"{task}: synthetic commit", task=task)
    seconds = time.perf_counter() - start
    own_bytes = 4 * sum(params for _, _, params in blobs.values())
    return seconds, own_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smallest setting (tests)")
    parser.add_argument("--sizes", default=None, help="comma-separated task counts")
    parser.add_argument("--samples", type=int, default=None, help="commits timed per size")
    parser.add_argument("--output-dir", default=results.DEFAULT_OUTPUT)
    args = parser.parse_args()
    import dataclasses

    import numpy as np

    from munet.model.flops import path_flops
    from munet.model.root import RootConfig
    from munet.store.repository import SystemStore
    from munet.system import init_system

    sizes = [int(s) for s in (args.sizes or ("5,20" if args.quick else "10,100,1000"))
             .split(",")]
    samples = args.samples or (5 if args.quick else 40)
    from munet.store import cache
    from munet.store.repository import version_key

    root_config = RootConfig()
    root = dataclasses.asdict(root_config)
    uri = tempfile.mkdtemp(prefix="munet-scale-")
    init_system(uri, root_config)
    store = SystemStore(uri)
    rng = np.random.default_rng(0)
    rows, added = [], 0
    for size in sizes:
        add_times, add_bytes, add_own = [], [], []
        while added < size:  # Grow to `size` tasks, timing each added task's commit.
            before = folder_bytes(uri)
            seconds, own = add_or_improve(store, f"task{added:05d}", rng, root, "v0")
            add_times.append(seconds)
            add_bytes.append(folder_bytes(uri) - before)
            add_own.append(own)
            added += 1
        improve = []  # Commits at this size that improve an existing task.
        for index in range(samples):
            seconds, _ = add_or_improve(store, f"task{index % size:05d}", rng, root,
                                        f"s{size}-{index}")
            improve.append(seconds)
        loads = []
        for _ in range(samples):
            start = time.perf_counter()
            manifest = store.load()
            manifest.data  # Built on first use: time the whole manifest in memory.
            loads.append(time.perf_counter() - start)
        cold = []
        for _ in range(3):
            cache.clear_cache()
            start = time.perf_counter()
            SystemStore(uri).load().data
            cold.append(time.perf_counter() - start)
        store.load()  # Warm the cache again for the next commits.
        first = manifest.active_model("task00000")
        recent = slice(-min(samples, len(add_bytes)), None)
        rows.append({
            "tasks": size,
            "commit_seconds_median": statistics.median(improve),
            "add_task_commit_seconds_median": statistics.median(add_times[recent]),
            "load_seconds_median": statistics.median(loads),
            "cold_load_seconds_median": statistics.median(cold),
            "version_object_bytes": os.path.getsize(
                os.path.join(uri, version_key(manifest.version))),
            "manifest_json_bytes": len(manifest.to_bytes()),
            "store_bytes": folder_bytes(uri),
            "bytes_added_per_task": statistics.mean(add_bytes[recent]),
            "own_bytes_per_task": statistics.mean(add_own[recent]),
            "bytes_ratio": statistics.mean(add_bytes[recent]) / statistics.mean(add_own[recent]),
            "task0_inference_flops": path_flops(manifest, first),
        })
        print(rows[-1], flush=True)
    first, last = rows[0], rows[-1]
    result = {
        "setting": "quick" if args.quick else "default",
        "root": root, "samples": samples, "rows": rows,
        "commit_ratio_largest_over_smallest": last["commit_seconds_median"]
        / first["commit_seconds_median"],
        "commit_ratio_goal": 1.2,
        "bytes_ratio_at_largest": last["bytes_ratio"],
        "bytes_ratio_goal": 1.05,
        "task0_flops_constant": len({r["task0_inference_flops"] for r in rows}) == 1,
    }
    lines = ["# Scale", "",
             "| tasks | commit ms (median) | add-task commit ms | load ms (warm / cold) | "
             "whole manifest KB | version object bytes | store bytes added per task / own "
             "param bytes | task0 inference FLOPs |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tasks']:,} | {1000 * r['commit_seconds_median']:.1f} | "
                     f"{1000 * r['add_task_commit_seconds_median']:.1f} | "
                     f"{1000 * r['load_seconds_median']:.2f} / "
                     f"{1000 * r['cold_load_seconds_median']:.1f} | "
                     f"{r['manifest_json_bytes'] / 1024:.0f} | {r['version_object_bytes']:,}"
                     f" | {r['bytes_added_per_task']:,.0f} / {r['own_bytes_per_task']:,.0f} = "
                     f"{r['bytes_ratio']:.2f} | {r['task0_inference_flops']:,} |")
    lines += ["", f"Commit time at {last['tasks']:,} tasks / at {first['tasks']:,}: "
              f"**{result['commit_ratio_largest_over_smallest']:.2f}** (goal <= 1.2). Store "
              f"bytes added per task / own params at {last['tasks']:,} tasks: "
              f"**{last['bytes_ratio']:.2f}** (goal <= 1.05). Per-task inference FLOPs "
              f"constant: **{result['task0_flops_constant']}**."]
    markdown = "\n".join(lines) + "\n"
    print(markdown)

    figure, axes = results.subplots(1, 2, figsize=(10, 4))
    tasks = [r["tasks"] for r in rows]
    axes[0].loglog(tasks, [1000 * r["commit_seconds_median"] for r in rows], "o-",
                   label="commit")
    axes[0].loglog(tasks, [1000 * r["load_seconds_median"] for r in rows], "s-",
                   label="load (warm)")
    axes[0].loglog(tasks, [1000 * r["cold_load_seconds_median"] for r in rows], "^-",
                   label="load (cold cache)")
    axes[0].set_xlabel("tasks")
    axes[0].set_ylabel("ms (median)")
    axes[0].legend()
    axes[1].semilogx(tasks, [r["bytes_ratio"] for r in rows], "o-")
    axes[1].axhline(1.05, color="grey", linestyle="--", label="goal 1.05")
    axes[1].set_xlabel("tasks")
    axes[1].set_ylabel("store bytes added per task / own param bytes")
    axes[1].legend()
    results.write_with_plot("scale", args.quick, result, markdown, args.output_dir, figure)
    return result


if __name__ == "__main__":
    main()
