"""The index of task shards: a fixed depth of 16 inner nodes of 16 leaves.

A version object (see versions.py) holds the root shard's digest and the top of the
index: 16 inner-node digests. SHA-256 of the task name fixes where a task sits: its
first hex digit picks the inner node, its second the leaf (256 leaves). A leaf maps
its tasks to their shard digests (see pieces.py for both node shapes). A commit that
changes one task therefore writes that task's shard, one leaf, one inner node and the
version object (about 1 KB of index each), whatever the number of tasks. The depth is
fixed rather than grown with the system so that every commit writes the same number
of files (each write is an fsync on a disk, a request on GCS): commit time stays flat
from 1 to thousands of tasks. Leaves hold about tasks / 256 entries (4 at 1,000
tasks, 40 at 10,000), so the bytes written per commit grow only past ~10,000 tasks,
and then slowly.

Two indexes are compared (`changed_shards`) or one is updated (`update_index`) by
reading only the inner nodes and leaves on the way to what differs, one batch per
level.
"""

import hashlib
import json

from munet.store.pieces import FANOUT, corrupt_piece, encode_piece, fetch, node_key, sha256


def place(task):
    """(inner node, leaf) of `task` in the index."""
    digest = hashlib.sha256(task.encode()).hexdigest()
    return int(digest[0], 16), int(digest[1], 16)


def changed_shards(storage, top, base_top, version):
    """The tasks whose shard differs between the indexes `base_top` and `top` (tops
    of version `version` and of a base): task -> its shard digest in `top`, or None
    when it has none there."""
    inner_ids = {d for i in range(FANOUT) if top[i] != base_top[i]
                 for d in (top[i], base_top[i]) if d}
    inner = fetch(storage, {d: ("inner", "Index node") for d in inner_ids}, version)
    leaf_pairs = []
    for i in range(FANOUT):
        if top[i] != base_top[i]:
            new = inner[top[i]]["nodes"] if top[i] else [None] * FANOUT
            old = inner[base_top[i]]["nodes"] if base_top[i] else [None] * FANOUT
            leaf_pairs += [(i, j, new[j], old[j]) for j in range(FANOUT) if new[j] != old[j]]
    leaves = fetch(storage, {d: ("leaf", "Index node") for _, _, n, o in leaf_pairs
                             for d in (n, o) if d}, version)
    changed = {}
    for i, j, new_id, old_id in leaf_pairs:
        new = leaves[new_id]["shards"] if new_id else {}
        old = leaves[old_id]["shards"] if old_id else {}
        for task in new:
            if place(task) != (i, j):
                raise corrupt_piece(storage, node_key(new_id), "Index node", version,
                                    f"lists task {task!r}, which belongs in another leaf")
        for task in set(new) | set(old):
            if new.get(task) != old.get(task):
                changed[task] = new.get(task)
    return changed


def update_index(storage, base_top, changes, version):
    """The index after the task shards in `changes` (task -> new shard digest, or None
    for a task that has left) changed in the index `base_top`.

    Returns the new top, the new nodes (digest -> parsed node) and their pieces
    ([(key, bytes)], leaves then inner nodes).
    """
    by_place = {}
    for task, digest in changes.items():
        i, j = place(task)
        by_place.setdefault(i, {}).setdefault(j, {})[task] = digest
    top, nodes, leaf_pieces, inner_pieces = list(base_top), {}, [], []
    wanted = {base_top[i]: ("inner", "Index node") for i in by_place if base_top[i]}
    inner = fetch(storage, wanted, version)
    old_inner = {i: inner[base_top[i]]["nodes"] if base_top[i] else [None] * FANOUT
                 for i in by_place}
    wanted = {old_inner[i][j]: ("leaf", "Index node")
              for i, leaves in by_place.items() for j in leaves if old_inner[i][j]}
    old_leaves = fetch(storage, wanted, version)
    for i, leaves in sorted(by_place.items()):
        children = list(old_inner[i])
        for j, updates in sorted(leaves.items()):
            shards = dict(old_leaves[children[j]]["shards"]) if children[j] else {}
            for task, digest in updates.items():
                if digest:
                    shards[task] = digest
                else:
                    shards.pop(task, None)
            children[j] = _add_node({"shards": shards}, nodes, leaf_pieces) if shards else None
        top[i] = _add_node({"nodes": children}, nodes, inner_pieces) if any(children) else None
    return top, nodes, leaf_pieces + inner_pieces


def _add_node(doc, nodes, pieces):
    raw = encode_piece(doc)
    digest = sha256(raw)
    nodes[digest] = json.loads(raw)
    pieces.append((node_key(digest), raw))
    return digest
