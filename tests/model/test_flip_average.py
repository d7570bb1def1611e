"""Test-time flip averaging (the `flip_average` hyperparameter): at inference a path's
logits are the mean over the image and its mirror; training sees the image alone."""

import numpy as np
import pytest

from munet.model.assembly import Part, build_model, fresh_weights
from munet.model.root import RootConfig, component_config

ROOT = RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64).__dict__


def _parts():
    slots = ["patch_embedding", "position_embedding", "encoder_block_0", "encoder_block_1",
             "final_norm", "head"]
    parts = []
    for index, slot in enumerate(slots):
        kind = "encoder_block" if slot.startswith("encoder_block") else slot
        config = component_config(kind, ROOT, 28, 5)
        weights = fresh_weights(kind, config, index, 28)
        if kind == "head":  # A zero head would predict the same for any image.
            weights[0] = np.random.default_rng(0).normal(size=weights[0].shape)
            weights[0] = weights[0].astype(np.float32)
        parts.append(Part(slot, kind, config, weights, slot in ("encoder_block_1", "head")))
    return parts


def _images():
    # A left-right ramp added, so that no image is its own mirror.
    ramp = np.linspace(-1, 1, 28, dtype=np.float32)[None, None, :, None]
    noise = np.random.default_rng(1).uniform(-1, 1, (8, 28, 28, 3)).astype(np.float32)
    return noise + ramp


@pytest.fixture(scope="module")
def models():
    plain, _ = build_model(_parts(), 28)
    averaged, layers = build_model(_parts(), 28, flip_average=True)
    return plain, averaged, layers


def test_inference_logits_are_the_mean_over_the_image_and_its_mirror(models):
    plain, averaged, _ = models
    images = _images()
    mirrored = images[:, :, ::-1, :]
    own, flipped = np.asarray(plain(images)), np.asarray(plain(mirrored))
    assert np.abs(own - flipped).max() > 1e-2  # The path alone tells mirrors apart.
    expected = (own + flipped) / 2
    assert np.abs(np.asarray(averaged(images, training=False)) - expected).max() <= 1e-5
    assert np.abs(np.asarray(averaged(mirrored)) - expected).max() <= 1e-5


def test_training_sees_the_image_alone(models):
    plain, averaged, _ = models
    images = _images()
    assert np.abs(np.asarray(averaged(images, training=True))
                  - np.asarray(plain(images, training=True))).max() <= 1e-6


def test_the_averaged_model_trains_only_the_trainable_slots():
    import keras

    from munet.training import trainer

    averaged, layers = build_model(_parts(), 28, flip_average=True)
    before = {slot: [w.copy() for w in layer.get_weights()] for slot, layer in layers.items()}
    assert len(averaged.trainable_weights) == sum(
        len(layers[slot].trainable_weights) for slot in ("encoder_block_1", "head"))
    trainer.compile_for_training(averaged, keras.optimizers.SGD(0.1), steps_per_validation=2)
    labels = np.arange(8) % 5
    averaged.fit(_images(), labels, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for slot, layer in layers.items():
        changed = any(not np.array_equal(old, new)
                      for old, new in zip(before[slot], layer.get_weights()))
        assert changed == (slot in ("encoder_block_1", "head")), slot


def test_compiled_evaluation_averages_too():
    """Validation inside `fit` runs the XLA-compiled model: it scores averaged logits."""
    import keras

    from munet.training import trainer

    averaged, _ = build_model(_parts(), 28, flip_average=True)
    trainer.compile_for_training(averaged, keras.optimizers.SGD(0.1), steps_per_validation=2)
    images, labels = _images(), np.arange(8) % 5
    inner = averaged.get_layer("flip_average").inner
    expected = (np.asarray(inner(images)) + np.asarray(inner(images[:, :, ::-1, :]))) / 2
    single = np.asarray(inner(images))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    compiled = averaged.evaluate(images, labels, batch_size=8, verbose=0, return_dict=True)
    assert abs(compiled["loss"] - float(loss(labels, expected))) <= 1e-5
    assert abs(compiled["loss"] - float(loss(labels, single))) > 1e-3
