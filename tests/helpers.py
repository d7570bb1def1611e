"""Test helpers: small manifests built by hand (no TensorFlow needed)."""

from munet.evolution import hyperparameters
from munet.store.manifest import FORMAT, ROOT_MODEL_ID, Manifest

ROOT = {"image_size": 28, "patch_size": 7, "width": 8, "depth": 3, "num_heads": 2,
        "mlp_dim": 16, "locked": True, "seed": 0}


def _component(kind, params=100, created_by=None, config=None):
    return {"kind": kind, "config": config or {"width": 8}, "blob": "0" * 64,
            "num_params": params, "created_by": created_by}


def root_manifest(locked=True):
    root = dict(ROOT, locked=locked)
    slots = {"patch_embedding": "root:patch_embedding",
             "position_embedding": "root:position_embedding", "final_norm": "root:final_norm"}
    slots.update({f"encoder_block_{i}": f"root:encoder_block_{i}" for i in range(3)})
    components = {cid: _component(slot.rsplit("_", 1)[0] if "block" in slot else slot)
                  for slot, cid in slots.items()}
    components["root:position_embedding"]["config"] = {"num_tokens": 17, "width": 8}
    return Manifest({
        "format": FORMAT, "version": 1, "root": root, "components": components,
        "models": {ROOT_MODEL_ID: {"id": ROOT_MODEL_ID, "task": None, "parent": None,
                                   "slots": slots, "hparams": hyperparameters.defaults(root),
                                   "metrics": {"score": 0.0}, "offspring": 0,
                                   "created_version": 1, "mutations": []}},
        "tasks": {},
    })


def add_task_model(manifest, task, model_id, slots_from="root", own_slots=(), score=0.5,
                   active=True, offspring=0):
    """Adds a model for `task` derived from model `slots_from`, owning `own_slots`."""
    base = manifest.model(slots_from)
    slots = dict(base["slots"])
    for slot in own_slots:
        cid = f"{model_id}:{slot}"
        kind = slot.rsplit("_", 1)[0] if slot[-1].isdigit() else slot
        config = None
        if slot in base["slots"]:
            config = dict(manifest.components[base["slots"][slot]]["config"])
        manifest.components[cid] = _component(kind, created_by=task, config=config)
        slots[slot] = cid
    manifest.models[model_id] = {
        "id": model_id, "task": task, "parent": slots_from, "slots": slots,
        "hparams": dict(base["hparams"]), "metrics": {"score": score}, "offspring": offspring,
        "created_version": manifest.version, "mutations": []}
    record = manifest.tasks.setdefault(task, {"dataset": task, "population": [],
                                              "active": None, "seed_offspring": {},
                                              "committed_generations": [], "splits": {}})
    record["population"].append(model_id)
    if active:
        record["active"] = model_id
    return manifest.models[model_id]
