"""The hybrid root: a convolutional stem in front of the patch projection."""

import numpy as np
import pytest

from munet.errors import InvalidInputError
from munet.model.root import RootConfig, component_config
from munet.system import init_system


def test_a_stem_root_stores_its_stem_and_plain_roots_keep_their_old_config(tmp_path):
    plain = init_system(str(tmp_path / "plain"), RootConfig(width=16, depth=1, num_heads=2,
                                                            mlp_dim=32))
    stem = init_system(str(tmp_path / "stem"), RootConfig(width=16, depth=1, num_heads=2,
                                                          mlp_dim=32, stem_channels=8))
    assert plain.components["root:patch_embedding"]["config"] == {"width": 16, "patch_size": 7}
    config = stem.components["root:patch_embedding"]["config"]
    assert config == {"width": 16, "patch_size": 7, "stem_channels": 8}
    # Stem: 3x3x3x8 + 8; projection: 7x7x8x16 + 16 (instead of 7x7x3x16 + 16).
    assert stem.components["root:patch_embedding"]["num_params"] == 224 + 6288
    assert plain.components["root:patch_embedding"]["num_params"] == 2368


def test_a_patch_embedding_stored_without_a_stem_builds_the_plain_layer():
    from munet.model.assembly import fresh_weights
    from munet.model.layers import make_layer

    old = {"width": 8, "patch_size": 7}  # As stored before stems existed.
    layer = make_layer("patch_embedding", old, "patch_embedding")
    tokens = layer(np.zeros((2, 28, 28, 3), np.float32))
    assert tuple(tokens.shape) == (2, 16, 8) and layer.stem is None
    weights = fresh_weights("patch_embedding", dict(old, stem_channels=4), 0, 28)
    assert [w.shape for w in weights] == [(3, 3, 3, 4), (4,), (7, 7, 4, 8), (8,)]


def test_a_deeper_stem_stacks_convolutions_and_counts_their_flops(tmp_path):
    from munet.model.flops import component_flops
    from munet.model.layers import make_layer

    deep = init_system(str(tmp_path / "deep"), RootConfig(
        width=16, depth=1, num_heads=2, mlp_dim=32, stem_channels=8, stem_layers=3))
    config = deep.components["root:patch_embedding"]["config"]
    assert config == {"width": 16, "patch_size": 7, "stem_channels": 8, "stem_layers": 3}
    # Two more 3x3x8x8 + 8 convolutions than the one-layer stem above.
    assert deep.components["root:patch_embedding"]["num_params"] == 224 + 2 * 584 + 6288
    layer = make_layer("patch_embedding", config, "patch_embedding")
    assert tuple(layer(np.zeros((2, 28, 28, 3), np.float32)).shape) == (2, 16, 16)
    assert [w.shape for w in layer.get_weights()][:6:2] == [(3, 3, 3, 8), (3, 3, 8, 8),
                                                            (3, 3, 8, 8)]
    one = dict(config, stem_layers=1)
    extra = component_flops("patch_embedding", config, 17, 0) - component_flops(
        "patch_embedding", one, 17, 0)
    assert extra == 2 * (2 * 9 * 8 * 8 * 784 + 5 * 8 * 784)
    with pytest.raises(InvalidInputError, match="stem_layers must be a positive integer"):
        RootConfig(stem_channels=8, stem_layers=0).validate()


def test_a_negative_stem_is_refused_with_the_fix():
    with pytest.raises(InvalidInputError, match=r"stem_channels must be an integer >= 0; "
                                                r"received -1\..*Fix"):
        RootConfig(stem_channels=-1).validate()
    root = {"width": 8, "patch_size": 4, "stem_channels": 0}
    assert "stem_channels" not in component_config("patch_embedding", root)
