"""FLOPs counted from component configs agree with TensorFlow's own count of the graph."""

import pytest

from munet.model.flops import component_flops, path_flops
from munet.model.root import RootConfig


@pytest.mark.parametrize("root", [RootConfig(width=16, depth=2, num_heads=2, mlp_dim=32),
                                  RootConfig(width=64, depth=3, num_heads=4, mlp_dim=128),
                                  RootConfig(patch_size=4, width=32, depth=2, num_heads=2,
                                             mlp_dim=64, stem_channels=16),
                                  RootConfig(patch_size=4, width=32, depth=1, num_heads=2,
                                             mlp_dim=64, stem_channels=16, stem_layers=2)])
def test_path_flops_match_tensorflows_count(tmp_path, root):
    from munet.model.paths import model_for_path
    from munet.store.repository import SystemStore
    from munet.system import init_system

    init_system(str(tmp_path), root)
    store = SystemStore(str(tmp_path))
    manifest = store.load()
    counted = _tensorflow_flops(model_for_path(store, manifest, "root"))
    ours = path_flops(manifest, manifest.model("root"))
    print(f"tensorflow {counted:,}, munet {ours:,}")
    assert 0.9 * counted <= ours <= 1.2 * counted


def test_a_path_that_averages_mirrors_counts_two_passes(tmp_path):
    from munet.model.paths import model_for_path
    from munet.store.repository import SystemStore
    from munet.system import init_system

    init_system(str(tmp_path), RootConfig(width=16, depth=2, num_heads=2, mlp_dim=32))
    store = SystemStore(str(tmp_path))
    manifest = store.load()
    single = path_flops(manifest, manifest.model("root"))
    single_counted = _tensorflow_flops(model_for_path(store, manifest, "root"))
    manifest.model("root")["hparams"]["flip_average"] = True  # In memory only.
    assert path_flops(manifest, manifest.model("root")) == 2 * single
    counted = _tensorflow_flops(model_for_path(store, manifest, "root"))
    assert 1.9 * single_counted <= counted <= 2.1 * single_counted


def _tensorflow_flops(model):
    """TensorFlow's own count of the FLOPs of one example's inference."""
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(
        tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return model_analyzer.profile(graph, options=options).total_float_ops


def test_attention_grows_quadratically_with_tokens():
    config = {"width": 8, "num_heads": 2, "mlp_dim": 16}
    small = component_flops("encoder_block", config, 17, 0)
    large = component_flops("encoder_block", config, 65, 0)
    assert large > 65 / 17 * small  # More than linear: the T x T attention term.
    with pytest.raises(ValueError, match="Unknown component kind 'conv'"):
        component_flops("conv", config, 17, 0)
