"""The pieces a manifest is stored in: one shard per owner and the index nodes.

The manifest is partitioned by owner. A task owns its record, the models whose
`task` it is and the components it created (`created_by`); the root owns the root
model, the root components and every other top-level key (`root`, `settings`, ...).
Each owner's slice is one immutable JSON piece, named by the SHA-256 of its bytes
and checked against it on every read:

  shards/sha256/ab/<digest>.json  a task's slice: {"owner": task, "task": its record,
                                  "models": {...}, "components": {...}}; the root's:
                                  {"owner": null, "data": {...}, "models", "components"}
  index/sha256/ab/<digest>.json   index nodes (see index.py): a leaf {"shards": {task:
                                  shard digest}} or an inner node {"nodes": [16 leaf
                                  digests or null]}

`fetch` reads pieces in one batch, checks their digest and shape, and keeps them in
the process's cache of parsed pieces (see cache.py).
"""

import hashlib
import json

from munet.errors import CorruptManifestError
from munet.store import cache

FANOUT = 16  # Children of an inner node of the index, and inner nodes in a version.
_HEX = frozenset("0123456789abcdef")


def sha256(raw):
    return hashlib.sha256(raw).hexdigest()


def is_digest(value):
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def encode_piece(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def shard_key(digest):
    return f"shards/sha256/{digest[:2]}/{digest}.json"


def node_key(digest):
    return f"index/sha256/{digest[:2]}/{digest}.json"


def corrupt_piece(storage, key, what, version, problem):
    return CorruptManifestError(
        f"{what} {storage.uri}/{key}, read for version {version}, {problem}. Pieces are "
        "written once by munet and never change afterwards. Fix: restore that file from a "
        "backup or copy of this store; versions that do not use it still load (pass "
        "--version N)."
    )


# Validation of pieces ----------------------------------------------------------------

def _entries_problems(doc, name, field, owner):
    entries = doc.get(name)
    if not isinstance(entries, dict):
        return [f"'{name}' should be an object"]
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            return [f"{name} {key!r} should be an object"]
        if entry.get(field) != owner:
            return [f"{name} {key!r} has {field} {entry.get(field)!r}, expected {owner!r}"]
    return []


def _shard_problems(doc):
    if not isinstance(doc, dict):
        return ["it should be a JSON object"]
    owner = doc.get("owner")
    if owner is not None and not isinstance(owner, str):
        return ["'owner' should be a task name or null"]
    problems = []
    if owner is None and not isinstance(doc.get("data"), dict):
        problems.append("'data' should be an object")
    if owner is not None and not isinstance(doc.get("task"), (dict, type(None))):
        problems.append("'task' should be an object or null")
    problems += _entries_problems(doc, "models", "task", owner)
    problems += _entries_problems(doc, "components", "created_by", owner)
    return problems


def _node_problems(doc, kind):
    if kind == "inner":
        nodes = doc.get("nodes") if isinstance(doc, dict) else None
        if not (isinstance(nodes, list) and len(nodes) == FANOUT
                and all(n is None or is_digest(n) for n in nodes)):
            return [f"'nodes' should be a list of {FANOUT} digests or nulls"]
        return []
    shards = doc.get("shards") if isinstance(doc, dict) else None
    if not (isinstance(shards, dict) and all(
            isinstance(t, str) and is_digest(d) for t, d in shards.items())):
        return ["'shards' should map task names to digests"]
    return []


# Reading -----------------------------------------------------------------------------

def fetch(storage, wanted, version):
    """Parsed pieces: `wanted` maps digest -> (kind, what); kind 'shard', 'inner', 'leaf'.

    Cached pieces are not read again; the others are read in one batch, checked
    against their digest and their shape, and cached.
    """
    found, missing = {}, {}
    for digest, (kind, what) in wanted.items():
        doc = cache.PIECES.get((storage.uri, digest))
        if doc is cache.MISSING:
            missing[digest] = (kind, what)
        else:
            found[digest] = doc
    if not missing:
        return found
    keys = {(shard_key if kind == "shard" else node_key)(d): d for d, (kind, _) in missing.items()}
    raws = storage.read_many(list(keys))
    for key, digest in keys.items():
        kind, what = missing[digest]
        raw = raws.get(key)
        if raw is None:
            raise corrupt_piece(storage, key, what, version,
                                "is missing (the store was changed outside munet)")
        actual = sha256(raw)
        if actual != digest:
            raise corrupt_piece(
                storage, key, what, version,
                f"has SHA-256 {actual}, expected {digest}: the file was modified after it "
                "was written (disk error or manual edit)")
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise corrupt_piece(storage, key, what, version,
                                f"matches its hash but is not valid JSON ({error})") from None
        problems = _shard_problems(doc) if kind == "shard" else _node_problems(doc, kind)
        if problems:
            raise corrupt_piece(storage, key, what, version,
                                f"is malformed: {'; '.join(problems)}")
        cache.PIECES.put((storage.uri, digest), doc)
        found[digest] = doc
    return found
