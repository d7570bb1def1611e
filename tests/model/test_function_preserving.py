"""Adapter insertion and layer cloning leave the function unchanged before training."""

import numpy as np
import pytest

from munet.model.assembly import Part, build_model, fresh_weights
from munet.model.root import RootConfig, component_config
from munet.system import init_system


@pytest.fixture(scope="module")
def root_system(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("system"))
    return uri, init_system(uri, RootConfig(width=32, depth=3, num_heads=2, mlp_dim=64))


def _root_parts(uri, manifest, trainable=()):
    from munet.model.paths import load_component
    from munet.store.repository import SystemStore

    store = SystemStore(uri)
    root = manifest.model("root")
    parts = []
    for slot in ["patch_embedding", "position_embedding", "encoder_block_0", "encoder_block_1",
                 "encoder_block_2", "final_norm"]:
        cid = root["slots"][slot]
        record = manifest.components[cid]
        parts.append(Part(slot, record["kind"], record["config"],
                          load_component(store, manifest, cid), slot in trainable))
    head_config = component_config("head", manifest.root, num_classes=7)
    head = fresh_weights("head", head_config, 1, 28)
    head[0] = np.random.default_rng(0).normal(size=head[0].shape).astype(np.float32)
    parts.append(Part("head", "head", head_config, head, True))
    return parts


def _images():
    return np.random.default_rng(1).uniform(-1, 1, (16, 28, 28, 3)).astype(np.float32)


def test_inserting_zero_initialised_adapters_is_an_identity(root_system):
    uri, manifest = root_system
    base, _ = build_model(_root_parts(uri, manifest), 28)
    parts = _root_parts(uri, manifest)
    for index, position in ((0, 2), (1, 4)):  # In front of encoder blocks 0 and 1.
        config = component_config("residual_adapter", manifest.root, adapter_dim=16)
        weights = fresh_weights("residual_adapter", config, 10 + index, 28)
        assert np.abs(weights[2]).max() > 0  # The down projection is random,
        assert not weights[4].any()  # the up projection starts at zero.
        parts.insert(position + index, Part(f"residual_adapter_{index}", "residual_adapter",
                                            config, weights, True))
    adapted, layers = build_model(parts, 28)
    assert "residual_adapter_1" in layers
    difference = np.abs(np.asarray(base(_images())) - np.asarray(adapted(_images()))).max()
    assert difference <= 1e-6


def test_cloning_layers_as_trainable_copies_is_an_identity(root_system):
    uri, manifest = root_system
    frozen, _ = build_model(_root_parts(uri, manifest), 28)
    cloned, layers = build_model(
        _root_parts(uri, manifest, trainable={"encoder_block_1", "patch_embedding"}), 28)
    assert layers["encoder_block_1"].trainable and not layers["encoder_block_0"].trainable
    difference = np.abs(np.asarray(frozen(_images())) - np.asarray(cloned(_images()))).max()
    assert difference <= 1e-6
    trainable = {w.path.split("/")[0] for w in cloned.trainable_weights}
    assert trainable == {"patch_embedding", "encoder_block_1", "head"}
