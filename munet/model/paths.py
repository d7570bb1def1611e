"""Turning stored paths and candidate specs into Keras models."""

from munet.evolution.hyperparameters import averages_mirrors
from munet.model.assembly import Part, build_model, fresh_weights, resize_position_embedding
from munet.model.root import slot_kind
from munet.store.manifest import slot_order


def load_component(store, manifest, component_id):
    record = manifest.components[component_id]
    return store.blobs.get(record["blob"], what=f"component {component_id!r}")


def model_for_path(store, manifest, model_id):
    """An inference model (all frozen) for a committed model of the manifest."""
    model = manifest.model(model_id)
    parts = []
    for slot in slot_order(model):
        cid = model["slots"][slot]
        record = manifest.components[cid]
        weights = load_component(store, manifest, cid)
        parts.append(Part(slot, record["kind"], record["config"], weights, False))
    return build_model(parts, model["hparams"]["image_size"], name=_keras_name(model_id),
                       flip_average=averages_mirrors(model["hparams"]))[0]


def candidate_parts(store, manifest, spec, trained=None):
    """Parts of a candidate: for training (trained=None) or from its trained components.

    `trained` maps slot -> {"kind", "config", "blob"} as written by the training stage.
    """
    order = slot_order({"slots": spec["slots"], "hparams": spec["hparams"]})
    parts = []
    for index, slot in enumerate(order):
        source = spec["slots"][slot]
        if trained is not None and slot in trained:
            item = trained[slot]
            weights = store.blobs.get(item["blob"], what=f"{spec['candidate']}:{slot}")
            parts.append(Part(slot, item["kind"], item["config"], weights, False))
            continue
        if source["source"] == "new":
            weights = fresh_weights(source["kind"], source["config"], spec["seed"] + index,
                                    spec["hparams"]["image_size"])
            parts.append(Part(slot, source["kind"], source["config"], weights, True))
            continue
        record = manifest.components[source["component"]]
        weights = load_component(store, manifest, source["component"])
        config = record["config"]
        if source["source"] == "resize":
            config = source["config"]
            weights = resize_position_embedding(weights, config["num_tokens"])
        parts.append(Part(slot, slot_kind(slot), config, weights, source["source"] != "ref"))
    return parts


def model_for_candidate(store, manifest, spec, trained=None):
    parts = candidate_parts(store, manifest, spec, trained)
    return build_model(parts, spec["hparams"]["image_size"], name=_keras_name(spec["candidate"]),
                       flip_average=averages_mirrors(spec["hparams"]))


def _keras_name(identifier):
    return "path_" + "".join(c if c.isalnum() else "_" for c in identifier)
