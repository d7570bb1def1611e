"""Keras models assembled from components, for any path or candidate spec."""

import keras
import numpy as np

from munet.model.layers import make_layer


class Part:
    """One component placed in a model: kind, config, weights (None = fresh), trainable."""

    def __init__(self, slot, kind, config, weights, trainable):
        self.slot = slot
        self.kind = kind
        self.config = config
        self.weights = weights
        self.trainable = trainable


class FlipAverage(keras.layers.Layer):
    """Test-time flip averaging around a path: at inference, the mean of the path's
    logits for the images and for their mirror images (left-right); in training, the
    path's own logits for the images. Like every path model it is rebuilt from its
    components when needed and never serialised, so it has no `get_config`."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, images, training=None):
        logits = self.inner(images, training=training)
        if training:
            return logits
        mirrored = self.inner(keras.ops.flip(images, axis=2), training=False)
        return (logits + mirrored) / 2


def build_model(parts, image_size, name="path", flip_average=False):
    """A functional Keras model chaining `parts` in order; returns (model, layers by slot).

    With `flip_average`, the model's inference logits average the image and its mirror
    (see FlipAverage); the layers by slot are the same either way.
    """
    inputs = keras.Input((image_size, image_size, 3), name="image")
    outputs = inputs
    layers = {}
    for part in parts:
        layer = make_layer(part.kind, part.config, name=part.slot)
        outputs = layer(outputs)
        if part.weights is not None:
            layer.set_weights(part.weights)
        layer.trainable = part.trainable
        layers[part.slot] = layer
    model = keras.Model(inputs, outputs, name=name)
    if not flip_average:
        return model, layers
    images = keras.Input((image_size, image_size, 3), name="image")
    averaged = FlipAverage(model, name="flip_average")(images)
    return keras.Model(images, averaged, name=name), layers


def fresh_weights(kind, config, seed, image_size):
    """Initial weights of a new component (deterministic for a seed)."""
    keras.utils.set_random_seed(seed)
    layer = make_layer(kind, config, name=kind)
    if kind == "patch_embedding":
        shape = (image_size, image_size, 3)
    elif kind == "position_embedding":
        shape = (config["num_tokens"] - 1, config["width"])
    else:  # Token-wise components: any token count gives the same weights.
        shape = (2, config["width"])
    layer(keras.Input(shape))
    return layer.get_weights()


def count_params(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def resize_position_embedding(weights, num_tokens):
    """Bilinear resize of a (class token, position embedding) pair to a new grid."""
    import tensorflow as tf

    class_token, embedding = weights
    width = embedding.shape[-1]
    old_grid = int(round((embedding.shape[1] - 1) ** 0.5))
    new_grid = int(round((num_tokens - 1) ** 0.5))
    grid = embedding[0, 1:].reshape(old_grid, old_grid, width)
    resized = tf.image.resize(grid, (new_grid, new_grid), method="bilinear").numpy()
    embedding = np.concatenate([embedding[:, :1], resized.reshape(1, -1, width)], axis=1)
    return [class_token, embedding.astype(np.float32)]
