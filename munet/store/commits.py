"""Commit planning: what committing a manifest on a version writes.

A commit derives the new version from the head's parsed version (see versions.py)
and the set of owners whose slice changed (`plan_commit`): only those shards, their
leaves and inner nodes (see index.py) are encoded and written, with the new version
object. Writing them, and the compare-and-swap on the head, is repository.py's.
"""

import json
from collections.abc import Mapping

from munet.store import cache
from munet.store.index import update_index
from munet.store.manifest import HEADER_KEYS, PARTITIONED_KEYS
from munet.store.maps import GONE
from munet.store.pieces import encode_piece, sha256, shard_key
from munet.store.versions import derive, encode_version

_MISSING = object()  # An entry that is not in the manifest.


def _owner(entry, field, name, key):
    if not isinstance(entry, dict):
        raise TypeError(f"{name} {key!r} should be a dict; received {type(entry).__name__}.")
    owner = entry.get(field)
    if owner is not None and not isinstance(owner, str):
        raise TypeError(f"{name} {key!r}: '{field}' should be a task name or None; "
                        f"received {owner!r}.")
    return owner


class Plan:
    """What committing a manifest on a base version writes, and the version it makes."""

    def __init__(self, storage, base, header, root_digest, top, shard_changes, docs, nodes,
                 pieces, version_raw):
        self.storage = storage
        self.base = base
        self.header = header
        self.root_digest = root_digest
        self.top = top
        self.shard_changes = shard_changes
        self.docs = docs  # owner -> (digest, parsed shard) or None
        self.nodes = nodes  # digest -> parsed index node
        self.pieces = pieces  # [(key, bytes)]: shards, then leaves, then inner nodes
        self.version_raw = version_raw

    def committed_state(self):
        """The State of the version once its object is written (and caches it)."""
        uri = self.storage.uri
        for digest, doc in self.nodes.items():
            cache.PIECES.put((uri, digest), doc)
        changed = {}
        for owner, entry in self.docs.items():
            if entry is not None:
                cache.PIECES.put((uri, entry[0]), entry[1])
            changed[owner] = entry[1] if entry is not None else None
        state = derive(self.base, self.header, self.root_digest, self.top,
                       self.shard_changes, changed)
        cache.VERSIONS.put((uri, sha256(self.version_raw)), state)
        return state


def plan_commit(storage, base, manifest, header):
    """The pieces and version object that commit `manifest` on top of `base`.

    On the working copy of a task (State.working_copy), only the owners of the keys the
    change set or deleted, the task and the root are re-encoded; on any other manifest
    every owner is (a commit that may have changed anything costs the whole system).
    """
    data = manifest.data
    for name in PARTITIONED_KEYS:
        if not isinstance(data.get(name), Mapping):
            raise TypeError(f"The manifest's '{name}' should be a dict; received "
                            f"{type(data.get(name)).__name__}.")
    context = manifest._live_context()
    if context is not None and context.state is base:
        touched = {name: context.touched(name) for name in PARTITIONED_KEYS}
    else:
        touched = {name: set(getattr(base, name)) | set(data[name]) for name in PARTITIONED_KEYS}
    for task in touched["tasks"]:
        record = data["tasks"].get(task)
        if not isinstance(task, str) or not isinstance(record, (dict, type(None))):
            raise TypeError(f"Task {task!r}: the key should be a name and the record a dict.")
    dirty = {None} | touched["tasks"]
    if context is not None and context.task is not None:
        dirty.add(context.task)
    regrouped = {}

    def members_of(owner):
        if owner not in regrouped:
            regrouped[owner] = (set(base.member_models(owner)),
                                set(base.member_components(owner)))
        return regrouped[owner]

    for position, name, field in ((0, "models", "task"), (1, "components", "created_by")):
        before, after = getattr(base, name), data[name]
        for key in touched[name]:
            old, new = before.get(key, _MISSING), after.get(key, _MISSING)
            if old is new:
                continue
            old_owner = _owner(old, field, name, key) if old is not _MISSING else _MISSING
            new_owner = _owner(new, field, name, key) if new is not _MISSING else _MISSING
            for owner in (old_owner, new_owner):
                if owner is not _MISSING:
                    dirty.add(owner)
            if old_owner is _MISSING or new_owner is _MISSING or old_owner != new_owner:
                if old_owner is not _MISSING:
                    members_of(old_owner)[position].discard(key)
                if new_owner is not _MISSING:
                    members_of(new_owner)[position].add(key)

    docs, pieces, shard_changes = {}, [], {}
    for owner in sorted(dirty, key=lambda o: (o is not None, o or "")):
        model_ids, component_ids = regrouped.get(owner) or (
            base.member_models(owner), base.member_components(owner))
        doc = {"owner": owner,
               "models": {m: data["models"][m] for m in model_ids},
               "components": {c: data["components"][c] for c in component_ids}}
        if owner is None:
            doc["data"] = {k: v for k, v in data.items()
                           if k not in HEADER_KEYS and k not in PARTITIONED_KEYS}
            old_digest = base.root_digest
        else:
            doc["task"] = data["tasks"].get(owner)
            old_digest = base.shard_of.get(owner)
            if doc["task"] is None and not model_ids and not component_ids:
                if old_digest is not None:
                    docs[owner] = None
                    shard_changes[owner] = GONE
                continue
        raw = encode_piece(doc)
        digest = sha256(raw)
        if digest != old_digest:
            pieces.append((shard_key(digest), raw))
            docs[owner] = (digest, json.loads(raw))  # Detached from the change's objects.
            if owner is not None:
                shard_changes[owner] = digest
    root_digest = docs[None][0] if None in docs else base.root_digest
    index_changes = {owner: entry[0] if entry else None
                     for owner, entry in docs.items() if owner is not None}
    top, nodes, node_pieces = update_index(storage, base.top, index_changes,
                                           header.get("version"))
    version_raw = encode_version(dict(header, root=root_digest, index=top))
    return Plan(storage, base, header, root_digest, top, shard_changes, docs, nodes,
                pieces + node_pieces, version_raw)
