"""Inference FLOPs per example of a path, counted from its components' configs.

A multiply-add counts as 2 FLOPs. Matrix products dominate; LayerNorms, GELUs,
softmaxes and additions are counted as a few FLOPs per element. Training costs about
3x one forward pass (forward, backward to activations, backward to weights). A path
with `flip_average` runs two forward passes per example at inference, one in training.
"""

from munet.evolution.hyperparameters import averages_mirrors
from munet.model.root import slot_kind
from munet.store.manifest import slot_order

ELEMENTWISE_FLOPS = 5  # LayerNorm, GELU, softmax: a few FLOPs per element.


def component_flops(kind, config, num_tokens, num_params):
    """FLOPs one example spends in one component; `num_tokens` includes the class token."""
    if kind == "patch_embedding":
        width, stem = config["width"], config.get("stem_channels", 0)
        if not stem:
            return 2 * (num_params - width) * (num_tokens - 1)
        pixels = (num_tokens - 1) * config["patch_size"] ** 2
        stem_flops = 2 * 9 * 3 * stem * pixels + ELEMENTWISE_FLOPS * stem * pixels
        stem_flops += (config.get("stem_layers", 1) - 1) * (
            2 * 9 * stem * stem * pixels + ELEMENTWISE_FLOPS * stem * pixels)
        projection_weights = config["patch_size"] ** 2 * stem * width
        return stem_flops + 2 * projection_weights * (num_tokens - 1)
    if kind == "position_embedding":
        return config["width"] * num_tokens
    if kind == "encoder_block":
        width, mlp = config["width"], config["mlp_dim"]
        projections = 2 * num_tokens * (4 * width * width + 2 * width * mlp)
        attention = 2 * 2 * num_tokens * num_tokens * width  # scores, then weighted sum
        elementwise = ELEMENTWISE_FLOPS * num_tokens * (2 * width + mlp + num_tokens)
        return projections + attention + elementwise
    if kind == "residual_adapter":
        width, hidden = config["width"], config["adapter_dim"]
        return 2 * num_tokens * 2 * width * hidden + ELEMENTWISE_FLOPS * num_tokens * width
    if kind == "final_norm":
        return ELEMENTWISE_FLOPS * num_tokens * config["width"]
    if kind == "head":
        return 2 * config["width"] * config["num_classes"]  # the class token only
    raise ValueError(
        f"Unknown component kind {kind!r}. Expected one of patch_embedding, "
        "position_embedding, encoder_block, residual_adapter, final_norm, head."
    )


def path_flops(manifest, model):
    """Inference FLOPs per example of a committed model of `manifest`."""
    patch_size = manifest.root["patch_size"]
    grid = model["hparams"]["image_size"] // patch_size
    num_tokens = grid * grid + 1
    total = 0
    for slot in slot_order(model):
        record = manifest.components[model["slots"][slot]]
        total += component_flops(slot_kind(slot), record["config"], num_tokens,
                                 record["num_params"])
    if averages_mirrors(model["hparams"]):
        total *= 2
    return int(total)

