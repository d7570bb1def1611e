"""tf.data input pipelines: decode, convert to 3 channels, resize, scale, augment.

Every image, whatever its size and channel count, becomes a float32
image_size x image_size x 3 tensor in [-1, 1], as in the papers. Augmentation
(train only) follows the path's hyperparameters: random crop (area/aspect), random
shift (translation), flip, brightness/contrast/saturation/hue deltas, random erasing.

The examples come from the spec's TFDS data dir (or $MUNET_TFDS_DATA_DIR), local or
gs:// (see munet.data.catalog); `load_split`'s dataset keeps what it read in memory,
so a split is read from there once per dataset.

Training shuffles the whole split whenever its decoded images fit in
SHUFFLE_BUFFER_BYTES, so that every step of every candidate may draw any example. A
fixed 10,000-example buffer would not do: each candidate starts a fresh stream, and a
500-step candidate of batch 64 would only ever see the first ~42,000 examples of its
split in file order. Larger splits get the biggest buffer that fits (never under
SHUFFLE_BUFFER_MIN) and a shard order drawn from the candidate's seed.
"""

import math

import tensorflow as tf

from munet.data.catalog import open_builder

SHUFFLE_BUFFER_MIN = 10_000  # examples
SHUFFLE_BUFFER_BYTES = 512 * 2**20  # decoded uint8 images held for shuffling


def load_split(spec, split):
    """(uint8 image, int64 label) pairs of `split`, in a fixed order, decoded once."""
    return read_split(open_builder(spec), split)


def read_split(builder, split, shuffle_seed=None):
    """`split` of an open TFDS builder, decoded once: in a fixed order, or with shards
    read in an order drawn from `shuffle_seed`."""
    if shuffle_seed is None:
        dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    else:
        import tensorflow_datasets as tfds

        dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=True,
                                     read_config=tfds.ReadConfig(shuffle_seed=shuffle_seed))
    return dataset.cache()


def shuffle_buffer_size(spec, num_examples):
    """Examples to shuffle over: all `num_examples` if their decoded images fit in
    SHUFFLE_BUFFER_BYTES (or in SHUFFLE_BUFFER_MIN examples), else as many as fit."""
    shape = spec.get("image_shape") or []
    if not shape or None in shape:  # Images of varying size: assume 224 x 224 x 3.
        shape = [224, 224, 3]
    fitting = max(SHUFFLE_BUFFER_MIN, SHUFFLE_BUFFER_BYTES // math.prod(shape))
    return max(1, min(num_examples, fitting))


def to_rgb(image):
    channels = image.shape[-1]
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels == 4:
        return image[..., :3]
    return image


def _augment(image, hparams, seed):
    """`image` is float32 in [0, 1], any size, 3 channels."""
    if hparams["crop"]:
        aspect = hparams["crop_aspect_min"]
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image),
            bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
            seed=seed,
            min_object_covered=0.0,
            aspect_ratio_range=(aspect, 1.0 / aspect),
            area_range=(hparams["crop_area_min"], 1.0),
            use_image_if_no_bounding_boxes=True,
        )
        channels = image.shape[-1]
        image = tf.slice(image, begin, size)
        # The crop's height and width are known only when it runs; its channels are
        # known now, and the later steps (shift) need them static.
        image.set_shape([None, None, channels])
    return image


def _shift(image, hparams, seed):
    """`image` moved by up to hparams["shift"] x its side in each direction: zero
    padding (black, the background of Fashion-MNIST and MNIST), then a random crop
    back to its static size."""
    height, width = image.shape[-3], image.shape[-2]
    pixels = int(round(hparams["shift"] * max(height, width)))
    if not pixels:
        return image
    padded = tf.pad(image, [[pixels, pixels], [pixels, pixels], [0, 0]])
    return tf.image.stateless_random_crop(padded, [height, width, image.shape[-1]],
                                          seed=seed + [0, 6])


def _colour(image, hparams, seed):
    if hparams["flip"]:
        image = tf.image.stateless_random_flip_left_right(image, seed=seed + [0, 1])
    if hparams["brightness"]:
        image = tf.image.stateless_random_brightness(image, hparams["brightness"], seed + [0, 2])
    if hparams["contrast"]:
        c = hparams["contrast"]
        image = tf.image.stateless_random_contrast(image, 1 - c, 1 + c, seed + [0, 3])
    if hparams["saturation"]:
        s = hparams["saturation"]
        image = tf.image.stateless_random_saturation(image, 1 - s, 1 + s, seed + [0, 4])
    if hparams["hue"]:
        image = tf.image.stateless_random_hue(image, hparams["hue"], seed + [0, 5])
    return tf.clip_by_value(image, 0.0, 1.0)


ERASE_AREA = (0.02, 0.4)  # Share of the image an erased rectangle covers (Zhong et al.).
ERASE_ASPECT_MIN = 0.3  # Height / width between this and its inverse.


def _erase(image, hparams, seed):
    """With probability hparams["erase"], one rectangle of `image` (its area and aspect
    drawn from ERASE_AREA and ERASE_ASPECT_MIN, cut at the borders) replaced by uniform
    noise in [0, 1]: random erasing."""
    probability = hparams["erase"]
    if not probability:
        return image
    height, width = image.shape[-3], image.shape[-2]
    draws = tf.random.stateless_uniform([5], seed=seed + [0, 7])
    low, high = ERASE_AREA
    area = (low + (high - low) * draws[0]) * height * width
    log_aspect = math.log(ERASE_ASPECT_MIN) * (1.0 - 2.0 * draws[1])
    aspect = tf.exp(log_aspect)
    box_height = tf.clip_by_value(tf.round(tf.sqrt(area * aspect)), 1.0, height)
    box_width = tf.clip_by_value(tf.round(tf.sqrt(area / aspect)), 1.0, width)
    top = tf.floor(draws[2] * (height - box_height + 1))
    left = tf.floor(draws[3] * (width - box_width + 1))
    rows = tf.range(height, dtype=tf.float32)[:, None]
    cols = tf.range(width, dtype=tf.float32)[None, :]
    inside = ((rows >= top) & (rows < top + box_height)
              & (cols >= left) & (cols < left + box_width) & (draws[4] < probability))
    # Folded, not seed + [0, 8]: that is the next example's seed + [0, 7], its box draws.
    noise_seed = tf.random.experimental.stateless_fold_in(seed, 8)
    noise = tf.random.stateless_uniform(tf.shape(image), seed=noise_seed)
    return tf.where(inside[:, :, None], noise, image)


def resize(image, size):
    """`image` resized to size x size (bilinear, antialiased). An image known to have
    that size already is returned as it is: resizing it would give it back bit for
    bit, at two thirds of the input pipeline's CPU time (28 x 28 images)."""
    if tuple(image.shape[-3:-1]) == (size, size):
        return image
    return tf.image.resize(image, (size, size), method="bilinear", antialias=True)


def preprocess(image, hparams, training, seed=None):
    image = tf.image.convert_image_dtype(to_rgb(image), tf.float32)
    if training:
        image = _augment(image, hparams, seed)
    image = resize(image, hparams["image_size"])
    if training:
        image = _shift(image, hparams, seed)
        image = _colour(image, hparams, seed)
        image = _erase(image, hparams, seed)
    return image * 2.0 - 1.0


def training_input(spec, split, hparams, batch_size, seed):
    """An endless, shuffled, augmented batch stream (the whole split shuffled when it fits
    in memory: see the module docstring)."""
    builder = open_builder(spec)
    buffer = shuffle_buffer_size(spec, builder.info.splits[split].num_examples)
    dataset = read_split(builder, split, shuffle_seed=seed)
    dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.enumerate()

    def prepare(index, example):
        image, label = example
        example_seed = tf.stack([tf.cast(seed, tf.int64), index])
        return preprocess(image, hparams, True, tf.cast(example_seed, tf.int32)), label

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def evaluation_input(spec, split, hparams, batch_size, max_examples=None):
    """The split in its fixed order, unaugmented, in batches (last one partial)."""
    dataset = load_split(spec, split)
    if max_examples:
        dataset = dataset.take(max_examples)
    dataset = dataset.map(
        lambda image, label: (preprocess(image, hparams, False), label),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.batch(batch_size).cache().prefetch(tf.data.AUTOTUNE)
