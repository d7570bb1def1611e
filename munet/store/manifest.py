"""The manifest: the whole system at one version, as the rest of munet reads it.

A manifest holds:
- `root`: the root ViT's configuration; `settings`: the evolution's settings;
- `components`: id -> {kind, config, blob, num_params, created_by};
- `models`: id -> a path through the components (slots), its hyperparameters,
  metrics, parent and offspring count; the root model has task None;
- `tasks`: name -> dataset spec, active model id, population (retained model ids),
  committed generation ids, offspring counts of the seeds it sampled;
- the version's header: format, version, parent_version, created_at, author, message.

In memory a manifest is one dict (`Manifest.data`) with those keys. On storage it
is partitioned by owner (see pieces.py): a task owns its record, the models whose
`task` it is and the components it created (`created_by`); the root owns the rest.

Manifests returned by the store share their entries (the dicts inside `tasks`,
`models`, `components`) with the store's cache of immutable versions: read them,
replace them, add or delete keys, but do not change them in place (use `copy()` for
a fully private manifest). The one exception is the manifest a commit's `change`
receives (see SystemStore.commit): there `tasks`, `models` and `components` are
copy-on-write overlays of the head's tables (dict-like, see maps.py), the committing
task's entries and the root's are private copies, and the keys the change sets or
deletes are tracked, so the store knows which owners changed without looking at the
others.
"""

import copy
import json
from collections.abc import Mapping

FORMAT = "munet.manifest/2"
ROOT_MODEL_ID = "root"
HEADER_KEYS = ("format", "version", "parent_version", "created_at", "author", "message")
PARTITIONED_KEYS = ("tasks", "models", "components")


def slot_order(model):
    """The active slots of a model, input to output."""
    slots = model["slots"]
    order = ["patch_embedding", "position_embedding"]
    for i in range(model["hparams"]["num_layers"]):
        if f"residual_adapter_{i}" in slots:
            order.append(f"residual_adapter_{i}")
        order.append(f"encoder_block_{i}")
    order.append("final_norm")
    if "head" in slots:
        order.append("head")
    return order


def _plain(value):
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class Manifest:
    """A manifest plus the queries the evolution needs.

    `data` may be given as a function that builds it: then it is built on first use
    (the store returns committed manifests so, as most callers only need a few keys).
    """

    def __init__(self, data, context=None, version=None):
        self._data = data
        self._version = version
        self._context = context  # Set by the store on a commit's working manifest.

    @property
    def data(self):
        if callable(self._data):
            self._data = self._data()
        return self._data

    @data.setter
    def data(self, value):
        self._data = value

    def to_bytes(self):
        """The whole manifest as one JSON document (for people and artifacts)."""
        return json.dumps(self.data, indent=1, sort_keys=True, default=_plain).encode()

    def copy(self):
        """A fully private deep copy (no entry shared with the store's cache)."""
        return Manifest(copy.deepcopy(self.data))

    def shallow_copy(self):
        """A copy whose top-level dicts are new and whose entries are shared: enough to
        add or remove entries (e.g. try a candidate) without changing this manifest."""
        data = dict(self.data)
        for key in PARTITIONED_KEYS:
            data[key] = dict(data[key])  # Also turns a working copy's overlays into dicts.
        return Manifest(data)

    @property
    def version(self):
        if callable(self._data) and self._version is not None:
            return self._version
        return self.data["version"]

    @property
    def root(self):
        return self.data["root"]

    @property
    def pretraining(self):
        """What the root was pretrained on ({dataset, steps, ...}); None if random-init."""
        return self.data.get("pretraining")

    @property
    def tasks(self):
        return self.data["tasks"]

    @property
    def models(self):
        return self.data["models"]

    @property
    def components(self):
        return self.data["components"]

    def model(self, model_id):
        return self.data["models"][model_id]

    def active_model(self, task):
        return self.models[self.tasks[task]["active"]]

    def active_components(self, model):
        return [model["slots"][slot] for slot in slot_order(model)]

    def component_users(self):
        """component id -> set of tasks whose active model uses it (the train locks)."""
        users = {}
        for task, record in self.tasks.items():
            if record.get("active"):
                for cid in self.active_components(self.models[record["active"]]):
                    users.setdefault(cid, set()).add(task)
        return users

    def is_locked(self, component_id, task, users=None):
        """Whether `task` may not train `component_id` (used by another task, or root)."""
        users = self.component_users() if users is None else users
        if self.components[component_id]["created_by"] is None and self.root.get(
            "locked", True
        ):
            return True
        return bool(users.get(component_id, set()) - {task})

    def accounted_params(self, model, task, users=None):
        """Params of the path, each shared component split among the tasks using it."""
        users = self.component_users() if users is None else users
        total = 0.0
        for cid in self.active_components(model):
            sharers = users.get(cid, set()) | {task}
            total += self.components[cid]["num_params"] / len(sharers)
        return total

    def path_params(self, model):
        return sum(self.components[c]["num_params"] for c in self.active_components(model))

    def root_params(self):
        return self.path_params(self.models[ROOT_MODEL_ID])

    # Ownership queries: O(what the owner holds) on a commit's working manifest,
    # a scan of the whole manifest otherwise.

    def _live_context(self):
        context = self._context
        if context is not None and all(
            self.data.get(key) is context.dicts[key] for key in PARTITIONED_KEYS
        ):
            return context
        return None

    def owned_models(self, owner):
        """Ids of the models whose task is `owner` (None: the root's)."""
        context = self._live_context()
        if context is None:
            return sorted(m for m, model in self.models.items() if model.get("task") == owner)
        touched = context.touched("models")
        ids = set(context.state.member_models(owner)) - touched
        ids.update(m for m in touched
                   if m in self.models and self.models[m].get("task") == owner)
        return sorted(ids)

    def owned_components(self, owner):
        """Ids of the components `owner` created (None: the root's)."""
        context = self._live_context()
        if context is None:
            return sorted(c for c, component in self.components.items()
                          if component.get("created_by") == owner)
        touched = context.touched("components")
        ids = set(context.state.member_components(owner)) - touched
        ids.update(c for c in touched if c in self.components
                   and self.components[c].get("created_by") == owner)
        return sorted(ids)

    def models_using(self, component_id):
        """Ids of the models whose slots hold `component_id`."""
        context = self._live_context()
        indexed = context.state.users_index() if context is not None else None
        if indexed is None or component_id in indexed.excluded:
            return {m for m, model in self.models.items()
                    if component_id in model["slots"].values()}
        touched = context.touched("models")
        ids = set(indexed.users.get(component_id, ())) - touched
        ids.update(m for m in touched
                   if m in self.models and component_id in self.models[m]["slots"].values())
        return ids
