"""The manifest: one immutable JSON document per system version.

A manifest holds the whole system at one version:
- `root`: the root ViT's configuration;
- `components`: id -> {kind, config, blob, num_params, created_by};
- `models`: id -> a path through the components (slots), its hyperparameters,
  metrics, parent and offspring count; the root model has task None;
- `tasks`: name -> dataset spec, active model id, population (retained model ids),
  committed generation ids, offspring counts of the seeds it sampled.
"""

import copy
import json

from munet.errors import CorruptManifestError

FORMAT = "munet.manifest/1"
ROOT_MODEL_ID = "root"
_REQUIRED = {
    "format": str,
    "version": int,
    "root": dict,
    "components": dict,
    "models": dict,
    "tasks": dict,
}


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


class Manifest:
    """A parsed manifest plus the queries the evolution needs."""

    def __init__(self, data):
        self.data = data

    @classmethod
    def from_bytes(cls, raw, where):
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CorruptManifestError(
                f"Manifest {where} is not valid JSON ({error}). Manifests are written by "
                "munet only. Fix: restore that file from a backup, or read an earlier "
                "version with --version N (every earlier version is still stored)."
            ) from None
        problems = [
            f"'{key}' should be a {kind.__name__}"
            for key, kind in _REQUIRED.items()
            if not isinstance(data, dict) or not isinstance(data.get(key), kind)
        ]
        if not problems and data["format"] != FORMAT:
            problems.append(f"'format' is {data['format']!r}, expected {FORMAT!r}")
        if problems:
            raise CorruptManifestError(
                f"Manifest {where} is malformed: {'; '.join(problems)}. Fix: restore that "
                "file from a backup, or read an earlier version with --version N."
            )
        return cls(data)

    def to_bytes(self):
        return json.dumps(self.data, indent=1, sort_keys=True).encode()

    def copy(self):
        return Manifest(copy.deepcopy(self.data))

    @property
    def version(self):
        return self.data["version"]

    @property
    def root(self):
        return self.data["root"]

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
