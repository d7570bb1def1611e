"""Versions: the version object, and a version parsed into a `State`.

A version object (versions/NNNNNNNN.json, see repository.py) holds the header, the
root shard's digest and the top of the index (see index.py): 16 inner-node digests.

A `State` is one parsed version: its header, its tables as LayeredMaps shared with
the versions derived from it, and the indexes commits need; `working_copy` gives a
commit's manifest (copy-on-write overlays of the tables, see maps.py).

Reading: a version is derived from the nearest cached version of the same store
(see cache.py) by comparing their indexes: only inner nodes, leaves and shards that
differ are read, one batch per level (concurrent requests on fsspec), so reloading
the head after a commit reads the version object plus the new pieces and costs what
changed. A cold process reads every piece once.
"""

import copy
import json

from munet.errors import CorruptManifestError
from munet.store import cache
from munet.store.index import changed_shards
from munet.store.manifest import FORMAT, HEADER_KEYS, Manifest
from munet.store.maps import GONE, LayeredMap, Overlay, copy_json
from munet.store.pieces import FANOUT, corrupt_piece, fetch, is_digest, sha256, shard_key

FORMAT_1 = "munet.manifest/1"
_EMPTY = frozenset()


# Version objects ---------------------------------------------------------------------

def _manifest_error(where, problem):
    return CorruptManifestError(
        f"Manifest {where} {problem}. Fix: restore that file from a backup, or read an "
        "earlier version with --version N (every earlier version is still stored)."
    )


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


def derive(base, header, root_digest, top, shard_changes, changed):
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


def load_state(storage, version, key, raw):
    """The State of version `version`, whose object at `key` has bytes `raw`."""
    cache_key = (storage.uri, sha256(raw))
    state = cache.VERSIONS.get(cache_key)
    if state is not cache.MISSING:
        return state
    doc = parse_version(raw, f"{storage.uri}/{key}", version)
    base = cache.nearest_version(storage.uri, version) or State.empty(storage.uri)
    top = doc["index"]
    # Inner nodes, then leaves, then shards that differ from the base: one batch each.
    changed_digests = changed_shards(storage, top, base.top, version)
    shard_changes = {task: digest or GONE for task, digest in changed_digests.items()}
    if doc["root"] != base.root_digest:
        changed_digests[None] = doc["root"]
    wanted = {d: ("shard", f"Shard of task {t!r}" if t is not None else "Root shard")
              for t, d in changed_digests.items() if d}
    shards = fetch(storage, wanted, version)
    changed = {}
    for task, digest in changed_digests.items():
        if digest and shards[digest].get("owner") != task:
            raise corrupt_piece(
                storage, shard_key(digest), wanted[digest][1], version,
                f"is the shard of {shards[digest].get('owner')!r}, not of {task!r}")
        changed[task] = shards[digest] if digest else None
    header = {k: doc.get(k) for k in HEADER_KEYS}
    state = derive(base, header, doc["root"], top, shard_changes, changed)
    cache.VERSIONS.put(cache_key, state)
    return state
