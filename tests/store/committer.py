"""A writer process for the store tests: commits forever (or N times), one entry each.

usage: python committer.py URI WRITER COUNT [task]   (COUNT 0 = until killed)

Default: each commit adds a top-level entry (a whole-system commit, task=None).
With `task`: each commit adds a component and a model to the task named WRITER and
makes it active (a task commit, task=WRITER), as the commit stage does.
"""

import sys

import numpy as np

from munet.evolution import population
from munet.store.repository import SystemStore


def entry_change(writer, index, digest):
    def change(manifest):
        entries = manifest.data.setdefault("entries", {})
        entries[f"{writer}-{index}"] = digest
        return manifest
    return change


def task_change(writer, index, digest):
    def change(manifest):
        record = manifest.tasks.setdefault(writer, {"population": [], "active": None,
                                                    "entries": []})
        model_id = f"{writer}-{index}"
        manifest.components[f"{model_id}:head"] = {
            "kind": "head", "config": {}, "blob": digest, "num_params": 4096,
            "created_by": writer}
        manifest.models[model_id] = {"id": model_id, "task": writer,
                                     "slots": {"head": f"{model_id}:head"}}
        record["entries"].append(model_id)
        record["population"] = [model_id]
        record["active"] = model_id
        population.collect_garbage(manifest, writer)
        return manifest
    return change


def main(uri, writer, count, mode="entries"):
    store = SystemStore(uri)
    make_change = task_change if mode == "task" else entry_change
    index = 0
    while count == 0 or index < count:
        digest = store.blobs.put([np.full((64, 64), index, np.float32)])
        store.commit(make_change(writer, index, digest), f"{writer} {index}", author=writer,
                     task=writer if mode == "task" else None)
        index += 1
        print(index, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
