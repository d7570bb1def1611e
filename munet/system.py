"""The system as a whole: create it, describe it, evaluate any task's active model."""

import dataclasses

from munet.errors import InvalidInputError, StoreExistsError
from munet.evolution import hyperparameters
from munet.evolution.population import DEFAULT_SETTINGS, MUTATION_PROBS
from munet.store.manifest import ROOT_MODEL_ID
from munet.store.repository import SystemStore

def init_system(system_uri, root=None, scale_factor=1.0, max_population=8, author=None,
                root_weights=None, pretraining=None, mutation_probs="shared"):
    """Creates a system whose version 1 holds only the root ViT.

    `mutation_probs` is "shared" (every mutation drawn with the child's
    mutation_prob, as in muNet) or "per_event" (each kind of mutation with an
    inherited probability of its own, as in mu2Net+; see munet.evolution.mutations).

    The root is random-init unless `root_weights` ({slot: weights}, e.g. from
    munet.training.pretrain.pretrain_root) gives every root component's weights;
    `pretraining` (a flat dict of what made them) is then recorded in the manifest.
    """
    from munet.model.root import RootConfig, fresh_root_weights, root_slot_order

    root = (root or RootConfig()).validate()
    store = new_system_store(system_uri, scale_factor, mutation_probs)
    from munet.model.assembly import count_params

    if (root_weights is None) != (pretraining is None):
        raise InvalidInputError(
            "Root weights and their pretraining record go together; received "
            f"root_weights {'None' if root_weights is None else 'set'} and pretraining "
            f"{pretraining!r}. Fix: pass both (from pretrain_root) or neither."
        )
    if pretraining is not None and not (isinstance(pretraining, dict)
                                        and "dataset" in pretraining):
        raise InvalidInputError(
            f"The pretraining record must be a dict naming its 'dataset'; received "
            f"{pretraining!r}. Fix: pass the figures pretrain_root returned."
        )
    if root_weights is None:
        weights = fresh_root_weights(root)
    else:
        weights = root_weights
        _check_root_weights(weights, root)
    root_dict = dataclasses.asdict(root)
    slots, components = {}, {}
    for slot, kind, config in root_slot_order(root):
        cid = f"root:{slot}"
        slots[slot] = cid
        components[cid] = {
            "kind": kind,
            "config": config,
            "blob": store.blobs.put(weights[slot]),
            "num_params": count_params(weights[slot]),
            "created_by": None,
        }
    root_model = {
        "id": ROOT_MODEL_ID,
        "task": None,
        "parent": None,
        "generation": None,
        "slots": slots,
        "hparams": hyperparameters.root_hparams(root_dict),
        "mutations": [],
        "metrics": {"score": 0.0},
        "offspring": 0,
        "created_version": 1,
    }
    contents = {
        "root": root_dict,
        "settings": dict(DEFAULT_SETTINGS, scale_factor=scale_factor,
                         max_population=max_population, mutation_probs=mutation_probs),
        "components": components,
        "models": {ROOT_MODEL_ID: root_model},
        "tasks": {},
        "message": "init: random-init root ViT",
    }
    if pretraining is not None:
        contents["pretraining"] = dict(pretraining)
        contents["message"] = f"init: root ViT pretrained on {pretraining['dataset']}"
    return store.create(contents, author=author)


def new_system_store(system_uri, scale_factor=1.0, mutation_probs="shared"):
    """The store for a new system at `system_uri`, once `init`'s arguments are checked:
    refused if a system already exists there or a setting is out of range."""
    if not 0 < scale_factor <= 1:
        raise InvalidInputError(
            f"scale_factor must be in (0, 1]; received {scale_factor!r}. 1.0 means no "
            "size penalty (the papers' default); e.g. 0.9 favours smaller paths."
        )
    if mutation_probs not in MUTATION_PROBS:
        raise InvalidInputError(
            f"mutation_probs must be one of {list(MUTATION_PROBS)}; received "
            f"{mutation_probs!r}. Fix: use \"shared\" (one probability for every "
            "mutation, muNet's) or \"per_event\" (one per kind of mutation, mu2Net+'s)."
        )
    store = SystemStore(system_uri)
    if store.exists():
        raise store.exists_error()
    return store


def _check_root_weights(weights, root):
    """Refuses weights that do not fit the root's components, naming the first misfit."""
    from munet.model.root import fresh_root_weights

    expected = fresh_root_weights(root)
    if not isinstance(weights, dict) or set(weights) != set(expected):
        received = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise InvalidInputError(
            f"Root weights must give one entry per root component, {sorted(expected)}; "
            f"received {received}. Fix: pretrain with the same RootConfig as the system's."
        )
    for slot, arrays in expected.items():
        shapes = [tuple(w.shape) for w in weights[slot]]
        if shapes != [tuple(w.shape) for w in arrays]:
            raise InvalidInputError(
                f"Root weights for {slot!r} have shapes {shapes}; this root's {slot} needs "
                f"{[tuple(w.shape) for w in arrays]}. Fix: pretrain with the same "
                "RootConfig as the system's."
            )


def status(system_uri, version=None):
    """A plain-dict description of the system at a version (default: head)."""
    store = SystemStore(system_uri)
    manifest = store.load(version)
    users = manifest.component_users()
    root_params = manifest.root_params()
    tasks = {}
    for name, record in sorted(manifest.tasks.items()):
        model = manifest.model(record["active"]) if record.get("active") else None
        own = shared = 0
        if model:
            for cid in manifest.active_components(model):
                if users.get(cid, set()) - {name} or manifest.components[cid]["created_by"] is None:
                    shared += 1
                else:
                    own += 1
        tasks[name] = {
            "dataset": record["dataset"],
            "active_model": record.get("active"),
            "validation_accuracy": model["metrics"].get("validation_accuracy") if model else None,
            "test_accuracy": model["metrics"].get("test_accuracy") if model else None,
            "score": model["metrics"].get("score") if model else None,
            "path_params": manifest.path_params(model) if model else 0,
            "accounted_params": manifest.accounted_params(model, name, users) if model else 0,
            "num_layers": model["hparams"]["num_layers"] if model else None,
            "components_shared": shared,
            "components_owned": own,
            "population": len(record["population"]),
            "generations": len(record["committed_generations"]),
            "last_improved_at": record.get("last_improved_at"),
        }
    shared_components = sorted(cid for cid, u in users.items() if len(u) > 1)
    return {
        "uri": system_uri,
        "version": manifest.version,
        "head_version": store.head_version(),
        "created_at": manifest.data.get("created_at"),
        "message": manifest.data.get("message"),
        "root_params": root_params,
        "root_pretraining": manifest.pretraining,
        "system_params": sum(manifest.components[c]["num_params"] for c in users),
        "tasks": tasks,
        "shared_components": {cid: sorted(users[cid]) for cid in shared_components},
    }


def evaluate_task(system_uri, task, split="test", version=None, batch_size=256):
    """(accuracy, logits, labels) of a task's active model on one of its splits."""
    store = SystemStore(system_uri)
    manifest = store.load(version)
    if task not in manifest.tasks or not manifest.tasks[task].get("active"):
        raise InvalidInputError(
            f"Task {task!r} has no active model in {system_uri!r} at version "
            f"{manifest.version}; tasks there: {sorted(manifest.tasks) or 'none'}. Fix: add "
            f"it with `munet --system {system_uri} add-task --task {task} --dataset NAME`."
        )
    record = manifest.tasks[task]
    if split not in record["splits"]:
        raise InvalidInputError(
            f"Unknown split {split!r}; expected one of {sorted(record['splits'])}."
        )
    from munet.data import pipeline
    from munet.model.paths import model_for_path
    from munet.training.trainer import accuracy, predict_logits

    model = manifest.model(record["active"])
    keras_model = model_for_path(store, manifest, record["active"])
    data = pipeline.evaluation_input(record, record["splits"][split], model["hparams"], batch_size)
    logits, labels = predict_logits(keras_model, data)
    return accuracy(logits, labels), logits, labels

