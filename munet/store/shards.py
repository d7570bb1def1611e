"""How the store keeps manifests: one shard per owner, an index of shards, a cache.

The manifest is partitioned by owner. A task owns its record, the models whose
`task` it is and the components it created (`created_by`); the root owns the root
model, the root components and every other top-level key (`root`, `settings`, ...).
Each owner's slice is one immutable JSON piece, named by the SHA-256 of its bytes
and checked against it on every read:

  shards/sha256/ab/<digest>.json  a task's slice: {"owner": task, "task": its record,
                                  "models": {...}, "components": {...}}; the root's:
                                  {"owner": null, "data": {...}, "models", "components"}
  index/sha256/ab/<digest>.json   index nodes: a leaf {"shards": {task: shard digest}}
                                  or an inner node {"nodes": [16 leaf digests or null]}

A version object (versions/NNNNNNNN.json, see repository.py) holds the header, the
root shard's digest and the top of the index: 16 inner-node digests. SHA-256 of the
task name fixes where a task sits: its first hex digit picks the inner node, its
second the leaf (256 leaves). A commit that changes one task therefore writes that
task's shard, one leaf, one inner node and the version object (about 1 KB of index
each), whatever the number of tasks. The depth is fixed rather than grown with the
system so that every commit writes the same number of files (each write is an fsync
on a disk, a request on GCS): commit time stays flat from 1 to thousands of tasks.
Leaves hold about tasks / 256 entries (4 at 1,000 tasks, 40 at 10,000), so the bytes
written per commit grow only past ~10,000 tasks, and then slowly.

Reading: a process keeps parsed pieces (per store and digest; verified when read)
and the last few parsed versions. A version is derived from the nearest cached
version of the same store by comparing their indexes: only inner nodes, leaves and
shards that differ are read, one batch per level (concurrent requests on fsspec), so
reloading the head after a commit reads the version object plus the new pieces and
costs what changed. A cold process reads every piece once.

Committing: the store derives the new version from the head's parsed version and the
set of owners whose slice changed (see `plan_commit`): only those shards, their
leaves and inner nodes are encoded and written.
"""

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping

from munet.errors import CorruptManifestError
from munet.store.manifest import FORMAT, HEADER_KEYS, PARTITIONED_KEYS, Manifest
from munet.store.maps import GONE, LayeredMap, Overlay, copy_json

FORMAT_1 = "munet.manifest/1"
FANOUT = 16
MAX_CACHED_PIECES = 50_000
MAX_CACHED_VERSIONS = 8
_EMPTY = frozenset()
_MISSING = object()
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


def place(task):
    """(inner node, leaf) of `task` in the index."""
    digest = hashlib.sha256(task.encode()).hexdigest()
    return int(digest[0], 16), int(digest[1], 16)


class _LRU:
    def __init__(self, size):
        self.size = size
        self.items = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key, _MISSING)
            if value is not _MISSING:
                self.items.move_to_end(key)
            return value

    def put(self, key, value):
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def snapshot(self):
        with self.lock:
            return list(self.items.items())

    def clear(self):
        with self.lock:
            self.items.clear()


_PIECES = _LRU(MAX_CACHED_PIECES)  # (store uri, digest) -> parsed piece
_VERSIONS = _LRU(MAX_CACHED_VERSIONS)  # (store uri, version object digest) -> State


def clear_cache():
    """Forgets every parsed piece and version (the next reads go to storage)."""
    _PIECES.clear()
    _VERSIONS.clear()


# Errors ------------------------------------------------------------------------------

def _corrupt_piece(storage, key, what, version, problem):
    return CorruptManifestError(
        f"{what} {storage.uri}/{key}, read for version {version}, {problem}. Pieces are "
        "written once by munet and never change afterwards. Fix: restore that file from a "
        "backup or copy of this store; versions that do not use it still load (pass "
        "--version N)."
    )


def _manifest_error(where, problem):
    return CorruptManifestError(
        f"Manifest {where} {problem}. Fix: restore that file from a backup, or read an "
        "earlier version with --version N (every earlier version is still stored)."
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


def fetch(storage, wanted, version):
    """Parsed pieces: `wanted` maps digest -> (kind, what); kind 'shard', 'inner', 'leaf'.

    Cached pieces are not read again; the others are read in one batch, checked
    against their digest and their shape, and cached.
    """
    found, missing = {}, {}
    for digest, (kind, what) in wanted.items():
        doc = _PIECES.get((storage.uri, digest))
        if doc is _MISSING:
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
            raise _corrupt_piece(storage, key, what, version,
                                 "is missing (the store was changed outside munet)")
        actual = sha256(raw)
        if actual != digest:
            raise _corrupt_piece(
                storage, key, what, version,
                f"has SHA-256 {actual}, expected {digest}: the file was modified after it "
                "was written (disk error or manual edit)")
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _corrupt_piece(storage, key, what, version,
                                 f"matches its hash but is not valid JSON ({error})") from None
        problems = _shard_problems(doc) if kind == "shard" else _node_problems(doc, kind)
        if problems:
            raise _corrupt_piece(storage, key, what, version,
                                 f"is malformed: {'; '.join(problems)}")
        _PIECES.put((storage.uri, digest), doc)
        found[digest] = doc
    return found


# Version objects ---------------------------------------------------------------------

def encode_version(doc):
    return json.dumps(doc, indent=1, sort_keys=True).encode()


def parse_version(raw, where, version):
    """The version object's dict, after checking its shape; `where` names it in errors."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _manifest_error(where, f"is not valid JSON ({error}); manifests are written by "
                                     "munet only") from None
    if isinstance(doc, dict) and doc.get("format") == FORMAT_1:
        raise CorruptManifestError(
            f"Manifest {where} is in format {FORMAT_1!r}: a whole system in one file, "
            f"written by an earlier munet. This munet reads {FORMAT!r} only (one shard per "
            "task, so that a commit writes what changed). Fix: open this system with the "
            "munet release that created it, or create a new system (`munet init`) and add "
            "its tasks again."
        )
    if not isinstance(doc, dict):
        raise _manifest_error(where, "is malformed: it should be a JSON object")
    problems = []
    if doc.get("format") != FORMAT:
        problems.append(f"'format' is {doc.get('format')!r}, expected {FORMAT!r}")
    if not isinstance(doc.get("version"), int):
        problems.append("'version' should be an int")
    if not isinstance(doc.get("parent_version"), (int, type(None))):
        problems.append("'parent_version' should be an int or null")
    if not is_digest(doc.get("root")):
        problems.append("'root' should be the SHA-256 of the root shard")
    index = doc.get("index")
    if not (isinstance(index, list) and len(index) == FANOUT
            and all(n is None or is_digest(n) for n in index)):
        problems.append(f"'index' should be a list of {FANOUT} digests or nulls")
    if problems:
        raise _manifest_error(where, f"is malformed: {'; '.join(problems)}")
    if doc["version"] != version:
        raise _manifest_error(where, f"says it is version {doc['version']}")
    return doc


# Parsed versions ---------------------------------------------------------------------

class _UsersIndex:
    """component id -> ids of the models using it, for every non-root component."""

    def __init__(self, users, excluded):
        self.users = users  # A LayeredMap of frozensets.
        self.excluded = excluded  # The root's components: every model uses them.


class State:
    """One parsed version: header, tables and the indexes commits need.

    Immutable: its tables are LayeredMaps (see maps.py), shared with the versions
    derived from it; views and working copies get their own top-level maps.
    """

    def __init__(self, uri, header, extras, root_digest, top, shard_of, tasks, models,
                 components, members, users=None):
        self.uri = uri
        self.header = header
        self.extras = extras
        self.root_digest = root_digest
        self.top = top
        self.shard_of = shard_of  # task owner -> shard digest
        self.tasks = tasks
        self.models = models
        self.components = components
        self.members = members  # owner -> (model ids, component ids)
        self._users = users

    @classmethod
    def empty(cls, uri):
        return cls(uri, {}, {}, None, [None] * FANOUT, LayeredMap(), LayeredMap(),
                   LayeredMap(), LayeredMap(), LayeredMap())

    @property
    def version(self):
        return self.header.get("version", 0)

    def member_models(self, owner):
        return self.members.get(owner, (_EMPTY, _EMPTY))[0]

    def member_components(self, owner):
        return self.members.get(owner, (_EMPTY, _EMPTY))[1]

    def users_index(self):
        if self._users is None:
            excluded = self.member_components(None)
            users = {}
            for model_id, model in self.models.items():
                for cid in model["slots"].values():
                    if cid is not None and cid not in excluded:
                        users.setdefault(cid, set()).add(model_id)
            self._users = _UsersIndex(
                LayeredMap({c: frozenset(m) for c, m in users.items()}), excluded)
        return self._users

    def materialize(self):
        data = dict(self.header)
        data.update(self.extras)
        data.update(tasks=self.tasks.to_dict(), models=self.models.to_dict(),
                    components=self.components.to_dict())
        return data

    def view(self):
        """A manifest for readers: plain dicts (built on first use), entries shared
        with the cache."""
        return Manifest(self.materialize, version=self.version)

    def private_copy(self):
        return Manifest(copy.deepcopy(self.materialize()))

    def working_copy(self, task):
        """The manifest a commit of `task` changes: copy-on-write overlays of the tables
        (they record the keys set or deleted), with private copies of the task's
        entries and the root's."""
        dicts = {"tasks": Overlay(self.tasks), "models": Overlay(self.models),
                 "components": Overlay(self.components)}
        private = {"tasks": set(), "models": set(), "components": set()}
        for owner in {None, task}:
            model_ids, component_ids = self.members.get(owner, (_EMPTY, _EMPTY))
            for key, ids in (("models", model_ids), ("components", component_ids)):
                table = dicts[key]
                for entry_id in ids:
                    table.local[entry_id] = copy_json(table.base[entry_id])
                private[key].update(ids)
        if task in self.tasks:
            dicts["tasks"].local[task] = copy_json(self.tasks[task])
            private["tasks"].add(task)
        data = dict(self.header)
        data.update(copy_json(self.extras))
        data.update(dicts)
        return Manifest(data, _CommitContext(self, task, dicts, private))


class _CommitContext:
    def __init__(self, state, task, dicts, private):
        self.state = state
        self.task = task
        self.dicts = dicts
        self.private = private

    def touched(self, key):
        return self.dicts[key].touched | self.private[key]


def _derive(base, header, root_digest, top, shard_changes, changed):
    """The State of a version that differs from `base` in the owners of `changed`
    (owner -> parsed shard, None for a task owner that has left); `shard_changes`:
    task owner -> new shard digest or GONE."""
    changes = {"tasks": {}, "models": {}, "components": {}, "members": {}}
    removed, added = [], []
    for owner in changed:
        model_ids, component_ids = base.members.get(owner, (_EMPTY, _EMPTY))
        for model_id in model_ids:
            changes["models"][model_id] = GONE
            removed.append((model_id, base.models[model_id]))
        for component_id in component_ids:
            changes["components"][component_id] = GONE
        if owner is not None and owner in base.tasks:
            changes["tasks"][owner] = GONE
        if owner in base.members:
            changes["members"][owner] = GONE
    extras = base.extras
    for owner, doc in changed.items():
        if doc is None:
            continue
        if owner is None:
            extras = doc["data"]
        elif doc["task"] is not None:
            changes["tasks"][owner] = doc["task"]
        for name in ("models", "components"):
            table, table_changes = getattr(base, name), changes[name]
            twice = [key for key in doc[name] if (
                table_changes[key] is not GONE if key in table_changes else key in table)]
            if twice:
                raise CorruptManifestError(
                    f"Version {header.get('version')} of {base.uri} lists {name} "
                    f"{twice[:3]} in two shards (one of them is {owner or 'the root'!r}'s). "
                    "Fix: restore the store from a backup, or read an earlier version "
                    "with --version N.")
            table_changes.update(doc[name])
        added.extend(doc["models"].items())
        if doc["models"] or doc["components"] or owner is None:
            changes["members"][owner] = (frozenset(doc["models"]), frozenset(doc["components"]))
    users = None
    if base._users is not None and None not in changed:  # Carry the index forward.
        excluded, index = base._users.excluded, base._users.users
        edits = {}
        for sign, items in ((False, removed), (True, added)):
            for model_id, model in items:
                for cid in model["slots"].values():
                    if cid is None or cid in excluded:
                        continue
                    if cid not in edits:
                        edits[cid] = set(index.get(cid, ()))
                    (edits[cid].add if sign else edits[cid].discard)(model_id)
        users = _UsersIndex(index.updated(
            {cid: frozenset(ids) if ids else GONE for cid, ids in edits.items()
             if ids or cid in index}), excluded)
    return State(base.uri, header, extras, root_digest, top,
                 base.shard_of.updated(shard_changes),
                 base.tasks.updated(changes["tasks"]), base.models.updated(changes["models"]),
                 base.components.updated(changes["components"]),
                 base.members.updated(changes["members"]), users)


def _nearest_cached(uri, version):
    best = None
    for (store_uri, _), state in _VERSIONS.snapshot():
        if store_uri == uri and (best is None or abs(state.version - version)
                                 < abs(best.version - version)):
            best = state
    return best


def load_state(storage, version, key, raw):
    """The State of version `version`, whose object at `key` has bytes `raw`."""
    cache_key = (storage.uri, sha256(raw))
    state = _VERSIONS.get(cache_key)
    if state is not _MISSING:
        return state
    doc = parse_version(raw, f"{storage.uri}/{key}", version)
    base = _nearest_cached(storage.uri, version) or State.empty(storage.uri)
    top = doc["index"]
    # Inner nodes, then leaves, then shards that differ from the base: one batch each.
    inner_ids = {d for i in range(FANOUT) if top[i] != base.top[i]
                 for d in (top[i], base.top[i]) if d}
    inner = fetch(storage, {d: ("inner", "Index node") for d in inner_ids}, version)
    leaf_pairs = []
    for i in range(FANOUT):
        if top[i] != base.top[i]:
            new = inner[top[i]]["nodes"] if top[i] else [None] * FANOUT
            old = inner[base.top[i]]["nodes"] if base.top[i] else [None] * FANOUT
            leaf_pairs += [(i, j, new[j], old[j]) for j in range(FANOUT) if new[j] != old[j]]
    leaves = fetch(storage, {d: ("leaf", "Index node") for _, _, n, o in leaf_pairs
                             for d in (n, o) if d}, version)
    shard_changes = {}
    changed_digests = {}
    for i, j, new_id, old_id in leaf_pairs:
        new = leaves[new_id]["shards"] if new_id else {}
        old = leaves[old_id]["shards"] if old_id else {}
        for task in new:
            if place(task) != (i, j):
                raise _corrupt_piece(storage, node_key(new_id), "Index node", version,
                                     f"lists task {task!r}, which belongs in another leaf")
        for task in set(new) | set(old):
            if new.get(task) != old.get(task):
                changed_digests[task] = new.get(task)
                shard_changes[task] = new.get(task) or GONE
    if doc["root"] != base.root_digest:
        changed_digests[None] = doc["root"]
    wanted = {d: ("shard", f"Shard of task {t!r}" if t is not None else "Root shard")
              for t, d in changed_digests.items() if d}
    shards = fetch(storage, wanted, version)
    changed = {}
    for task, digest in changed_digests.items():
        if digest and shards[digest].get("owner") != task:
            raise _corrupt_piece(
                storage, shard_key(digest), wanted[digest][1], version,
                f"is the shard of {shards[digest].get('owner')!r}, not of {task!r}")
        changed[task] = shards[digest] if digest else None
    header = {k: doc.get(k) for k in HEADER_KEYS}
    state = _derive(base, header, doc["root"], top, shard_changes, changed)
    _VERSIONS.put(cache_key, state)
    return state


# Commits -----------------------------------------------------------------------------

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
            _PIECES.put((uri, digest), doc)
        changed = {}
        for owner, entry in self.docs.items():
            if entry is not None:
                _PIECES.put((uri, entry[0]), entry[1])
            changed[owner] = entry[1] if entry is not None else None
        state = _derive(self.base, self.header, self.root_digest, self.top,
                        self.shard_changes, changed)
        _VERSIONS.put((uri, sha256(self.version_raw)), state)
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
            model_ids, component_ids = base.members.get(owner, (_EMPTY, _EMPTY))
            regrouped[owner] = (set(model_ids), set(component_ids))
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
        model_ids, component_ids = regrouped.get(owner) or base.members.get(owner, (_EMPTY, _EMPTY))
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
    top, nodes, node_pieces = _update_index(storage, base, docs, header.get("version"))
    version_raw = encode_version(dict(header, root=root_digest, index=top))
    return Plan(storage, base, header, root_digest, top, shard_changes, docs, nodes,
                pieces + node_pieces, version_raw)


def _update_index(storage, base, docs, version):
    """The new top of the index after the task shards in `docs` changed."""
    by_place = {}
    for owner, entry in docs.items():
        if owner is not None:
            i, j = place(owner)
            by_place.setdefault(i, {}).setdefault(j, {})[owner] = entry[0] if entry else None
    top, nodes, leaf_pieces, inner_pieces = list(base.top), {}, [], []
    wanted = {base.top[i]: ("inner", "Index node") for i in by_place if base.top[i]}
    inner = fetch(storage, wanted, version)
    old_inner = {i: inner[base.top[i]]["nodes"] if base.top[i] else [None] * FANOUT
                 for i in by_place}
    wanted = {old_inner[i][j]: ("leaf", "Index node")
              for i, leaves in by_place.items() for j in leaves if old_inner[i][j]}
    old_leaves = fetch(storage, wanted, version)
    for i, leaves in sorted(by_place.items()):
        children = list(old_inner[i])
        for j, updates in sorted(leaves.items()):
            shards = dict(old_leaves[children[j]]["shards"]) if children[j] else {}
            for owner, digest in updates.items():
                if digest:
                    shards[owner] = digest
                else:
                    shards.pop(owner, None)
            children[j] = _add_node({"shards": shards}, nodes, leaf_pieces) if shards else None
        top[i] = _add_node({"nodes": children}, nodes, inner_pieces) if any(children) else None
    return top, nodes, leaf_pieces + inner_pieces


def _add_node(doc, nodes, pieces):
    raw = encode_piece(doc)
    digest = sha256(raw)
    nodes[digest] = json.loads(raw)
    pieces.append((node_key(digest), raw))
    return digest
