"""The root ViT: its configuration and its cut into named components."""

import dataclasses

from munet.errors import InvalidInputError


@dataclasses.dataclass
class RootConfig:
    """A small ViT that trains on 2 CPU cores.

    Args:
        image_size: input side in pixels (inputs are resized to it, 3 channels).
        patch_size: side of the square patches; must divide image_size.
        width: token width (hidden size).
        depth: number of encoder blocks.
        num_heads: attention heads; must divide width.
        mlp_dim: hidden size of each block's MLP.
        stem_channels: 0 for plain linear patches (ViT); > 0 puts a 3x3 convolution
            with that many channels in front of the patch projection (a hybrid
            ViT: costs about a third more compute at patch 4, learns faster from
            scratch).
        stem_layers: how many such convolutions (>= 1; used with a stem only).
        locked: whether the root's own weights stay frozen, as in the papers: a
            task trains copies (clones) of root components, never the root itself,
            and every task can build on the same frozen components. False lets the
            children of the root train all of it, i.e. from scratch.
        own_embeddings: whether every task trains its own copy of the patch and
            position embeddings, as it always does of the final norm (ours, not the
            papers', where they are cloned by mutation like any component). For a
            root pretrained on images unlike a task's (benchmarks/frozen.py measures
            what freezing them costs). Needs a locked root.
            Each task then owns about 7% of the default root's params more.
        seed: seed of the root's random initialisation.
    """

    image_size: int = 28
    patch_size: int = 7
    width: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_dim: int = 128
    stem_channels: int = 0
    stem_layers: int = 1
    locked: bool = True
    own_embeddings: bool = False
    seed: int = 0

    def validate(self):
        for field in ("image_size", "patch_size", "width", "depth", "num_heads", "mlp_dim",
                      "stem_layers"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(
                    f"Root ViT {field} must be a positive integer; received {value!r}."
                )
        for field in ("locked", "own_embeddings"):
            if not isinstance(getattr(self, field), bool):
                raise InvalidInputError(
                    f"Root ViT {field} must be True or False; received "
                    f"{getattr(self, field)!r}. Fix: pass {field}=True or {field}=False."
                )
        if self.own_embeddings and not self.locked:
            raise InvalidInputError(
                "Root ViT own_embeddings=True needs a locked root; received locked=False, "
                "whose children train all of it anyway. Fix: keep the root locked (drop "
                "--trainable-root) or drop own_embeddings (--own-embeddings)."
            )
        if not isinstance(self.stem_channels, int) or self.stem_channels < 0:
            raise InvalidInputError(
                f"Root ViT stem_channels must be an integer >= 0; received "
                f"{self.stem_channels!r}. Fix: 0 for plain patches, e.g. 32 for a "
                "convolutional stem."
            )
        if self.image_size % self.patch_size:
            raise InvalidInputError(
                f"Root ViT patch_size {self.patch_size} does not divide image_size "
                f"{self.image_size}. Fix: pick sizes such as image_size=28, patch_size=7."
            )
        if self.width % self.num_heads:
            raise InvalidInputError(
                f"Root ViT num_heads {self.num_heads} does not divide width {self.width}. "
                "Fix: pick e.g. width=64, num_heads=4."
            )
        return self


EMBEDDING_SLOTS = ("patch_embedding", "position_embedding")


def task_owned_slots(root):
    """The slots every child trains its own copy of, whatever its mutations: the
    final norm, and the embeddings if the root says so (older roots lack the key)."""
    return ("final_norm",) + (EMBEDDING_SLOTS if root.get("own_embeddings", False) else ())


def component_config(kind, root, image_size=None, num_classes=None, adapter_dim=None):
    """The flat constructor config of a component of `kind` for this root."""
    if kind == "patch_embedding":
        config = {"width": root["width"], "patch_size": root["patch_size"]}
        if root.get("stem_channels"):  # Absent for plain patches, as in older systems.
            config["stem_channels"] = root["stem_channels"]
            if root.get("stem_layers", 1) > 1:  # Absent for one layer, as before.
                config["stem_layers"] = root["stem_layers"]
        return config
    if kind == "position_embedding":
        grid = image_size // root["patch_size"]
        return {"num_tokens": grid * grid + 1, "width": root["width"]}
    if kind == "encoder_block":
        return {"width": root["width"], "num_heads": root["num_heads"], "mlp_dim": root["mlp_dim"]}
    if kind == "residual_adapter":
        return {"width": root["width"], "adapter_dim": adapter_dim}
    if kind == "final_norm":
        return {"width": root["width"]}
    if kind == "head":
        return {"width": root["width"], "num_classes": num_classes}
    raise ValueError(f"Unknown component kind {kind!r}.")


def root_slot_order(root):
    """The root's components input to output, as (slot, kind, config) tuples."""
    from munet.store.manifest import slot_order

    root_dict = dataclasses.asdict(root)
    slots = slot_order({"slots": {}, "hparams": {"num_layers": root.depth}})
    return [(slot, slot_kind(slot),
             component_config(slot_kind(slot), root_dict, image_size=root.image_size))
            for slot in slots]


def fresh_root_weights(root):
    """The root's random-init weights by slot (deterministic for root.seed)."""
    from munet.model.assembly import fresh_weights

    components = root_slot_order(root)
    order = sorted(slot for slot, _, _ in components)  # Seeds follow this order.
    return {slot: fresh_weights(kind, config, root.seed * 1000 + order.index(slot),
                                root.image_size)
            for slot, kind, config in components}


def slot_kind(slot):
    """'encoder_block_3' -> 'encoder_block'; 'head' -> 'head'."""
    base, _, index = slot.rpartition("_")
    return base if index.isdigit() else slot
