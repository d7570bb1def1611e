"""The training stream: shuffled over the whole split, reproducible from its seed."""

import hashlib

import numpy as np
import pytest

from munet.data import catalog, pipeline
from munet.evolution import hyperparameters

ROOT = {"width": 16, "patch_size": 4, "num_heads": 2, "mlp_dim": 32, "depth": 1,
        "image_size": 28, "locked": False}
SPLIT = "train[:30000]"  # Three times the old fixed buffer of 10,000 examples.


def _key(pixels):
    return hashlib.sha1(np.asarray(pixels, np.uint8).tobytes()).hexdigest()


def _drawn_positions(spec, seed, batches):
    """File-order positions of the examples the first `batches` batches of 50 draw."""
    position = {_key(image.numpy()[..., 0]): index
                for index, (image, _) in enumerate(pipeline.load_split(spec, SPLIT))}
    hparams = hyperparameters.root_hparams(ROOT)  # No augmentation: images stay exact.
    drawn = []
    for images, _ in pipeline.training_input(spec, SPLIT, hparams, 50, seed).take(batches):
        pixels = np.rint((images.numpy()[..., 0] + 1.0) * 127.5)
        drawn += [position.get(_key(image)) for image in pixels]
    return drawn


@pytest.mark.slow
def test_a_short_training_stream_draws_from_the_whole_split(prepared):
    # Every candidate starts a fresh stream; it must not see only the split's first part.
    spec = prepared("fashion_mnist")
    drawn = _drawn_positions(spec, seed=7, batches=40)
    assert None not in drawn  # Every drawn image is one of the split's.
    late = sum(position >= 20_000 for position in drawn)
    # 2,000 draws, a third of the split past 20,000: ~667 expected. A 10,000-example
    # buffer could not reach past position 12,000 in 2,000 draws.
    assert 500 < late < 850
    assert len(set(drawn)) > 1900  # Drawn without replacement within an epoch.
    assert _drawn_positions(spec, seed=7, batches=2) == drawn[:100]  # Same seed, same stream.
    assert _drawn_positions(spec, seed=8, batches=2) != drawn[:100]


def test_the_shuffle_buffer_holds_the_whole_split_when_it_fits():
    fashion = {"image_shape": [28, 28, 1]}
    assert pipeline.shuffle_buffer_size(fashion, 54_000) == 54_000
    assert pipeline.shuffle_buffer_size(fashion, 3_000_000) == \
        pipeline.SHUFFLE_BUFFER_BYTES // 784
    large = {"image_shape": [224, 224, 3]}  # 147 kB per image: only the minimum fits.
    assert pipeline.shuffle_buffer_size(large, 1_000_000) == pipeline.SHUFFLE_BUFFER_MIN
    assert pipeline.shuffle_buffer_size(large, 500) == 500
    varying = {"image_shape": [None, None, 3]}  # Sized as 224 x 224 x 3.
    assert pipeline.shuffle_buffer_size(varying, 1_000_000) == pipeline.SHUFFLE_BUFFER_MIN


@pytest.mark.parametrize("shape", [(28, 28, 3), (8, 8, 3), (None, None, 3)])
def test_resizing_to_the_same_size_is_skipped_bit_for_bit(shape, monkeypatch):
    import tensorflow as tf

    image = tf.random.stateless_uniform((28, 28, 3) if shape[0] is None else shape, [1, 2])
    resized = tf.image.resize(image, (28, 28), method="bilinear", antialias=True)
    calls = []
    real = tf.image.resize
    monkeypatch.setattr(tf.image, "resize", lambda *a, **k: calls.append(1) or real(*a, **k))
    if shape[0] is None:  # A random crop's size is known only when it runs.
        out = tf.function(lambda x: pipeline.resize(x, 28),
                          input_signature=[tf.TensorSpec(shape, tf.float32)])(image)
    else:
        out = pipeline.resize(image, 28)
    assert out.shape == (28, 28, 3)
    assert np.array_equal(out.numpy(), resized.numpy())  # The same pixels either way...
    assert len(calls) == (0 if shape == (28, 28, 3) else 1)  # ...skipped only if known same.


@pytest.mark.parametrize("shift, pixels", [(0.0, 0), (0.08, 2), (0.2, 6)])
def test_shift_translates_a_training_image_by_at_most_its_share_of_the_side(shift, pixels):
    import tensorflow as tf

    image = np.zeros((28, 28, 1), np.uint8)
    image[10:18, 12:20] = 255  # An 8 x 8 white square on black.
    hparams = dict(hyperparameters.STATIC_DEFAULTS, image_size=28, shift=shift)
    offsets = set()
    for seed in range(40):
        out = pipeline.preprocess(tf.constant(image), hparams, True,
                                  tf.constant([seed, 0], tf.int32)).numpy()
        assert out.shape == (28, 28, 3)
        rows, cols = np.nonzero(out[..., 0] > 0)
        assert len(rows) == 64  # Moved whole: nothing lost off the edge, nothing added.
        offsets.add((rows.min() - 10, cols.min() - 12))
    assert max(max(abs(r), abs(c)) for r, c in offsets) == pixels  # The full range, no more.
    assert len(offsets) > (10 if pixels else 0)  # Random per example, not one fixed move.
    plain = pipeline.preprocess(tf.constant(image), hparams, False).numpy()
    assert (plain[..., 0] > 0).sum() == 64 and plain[10, 12, 0] == 1.0  # Evaluation: unmoved.


@pytest.mark.parametrize("erase", [0.0, 0.5])
def test_erase_replaces_one_rectangle_of_that_share_of_training_images_with_noise(erase):
    import tensorflow as tf

    image = tf.zeros((28, 28, 1), tf.uint8)  # All black: -1 after scaling.
    hparams = dict(hyperparameters.STATIC_DEFAULTS, image_size=28, erase=erase)
    erased, areas, aspects, corners = 0, [], [], set()
    for seed in range(200):
        out = pipeline.preprocess(image, hparams, True, tf.constant([seed, 0], tf.int32))
        changed = np.any(out.numpy() != -1.0, axis=-1)
        if not changed.any():
            continue
        erased += 1
        rows, cols = np.nonzero(changed)
        box_height, box_width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert len(rows) == box_height * box_width  # One solid rectangle, nothing outside.
        areas.append(box_height * box_width / 784)
        aspects.append(box_height / box_width)
        corners.add((rows.min(), cols.min()))
    if not erase:
        assert erased == 0
        return
    assert 70 <= erased <= 130  # About half of the images (p = 0.5).
    low, high = pipeline.ERASE_AREA
    assert min(areas) >= low / 2 and max(areas) <= high * 1.2  # Rounded and cut at the edges.
    assert max(areas) - min(areas) > 0.2  # Sizes drawn per image, not one fixed box...
    assert min(aspects) < 0.6 and max(aspects) > 1.6  # ...nor one shape...
    assert len(corners) > 30  # ...nor one place.
    plain = pipeline.preprocess(image, hparams, False).numpy()
    assert np.all(plain == -1.0)  # Evaluation images are never erased.


def test_a_training_stream_erases_in_its_tf_data_map(prepared):
    spec = prepared("digits")
    split = catalog.resolve_splits(spec)["train"]
    hparams = dict(hyperparameters.STATIC_DEFAULTS, image_size=8)
    plain = next(iter(pipeline.training_input(spec, split, hparams, 64, seed=3)))
    erased = next(iter(pipeline.training_input(spec, split, dict(hparams, erase=0.5), 64,
                                               seed=3)))
    assert np.array_equal(plain[1].numpy(), erased[1].numpy())  # The same examples...
    changed = np.any(plain[0].numpy() != erased[0].numpy(), axis=(1, 2, 3))
    assert 16 <= changed.sum() <= 48  # ...about half of them erased.


def test_every_augmentation_at_once_runs_in_a_training_stream(prepared):
    # In tf.data's graph a random crop has no static shape; a shift after it once
    # failed every candidate drawing both ("Expected int32, but got None").
    spec = prepared("digits")
    split = catalog.resolve_splits(spec)["train"]
    hparams = dict(hyperparameters.STATIC_DEFAULTS, image_size=8, crop=True, shift=0.12,
                   flip=True, brightness=0.1, contrast=0.1, saturation=0.1, hue=0.01,
                   erase=0.5)
    images, labels = next(iter(pipeline.training_input(spec, split, hparams, 64, seed=3)))
    assert images.shape == (64, 8, 8, 3) and labels.shape == (64,)
    assert -1.0 <= images.numpy().min() and images.numpy().max() <= 1.0
    plain = next(iter(pipeline.training_input(
        spec, split, dict(hyperparameters.STATIC_DEFAULTS, image_size=8), 64, seed=3)))
    assert np.array_equal(labels.numpy(), plain[1].numpy())  # The same examples...
    assert not np.array_equal(images.numpy(), plain[0].numpy())  # ...augmented.
