"""One Keras layer per component kind of the ViT.

Kinds: patch_embedding, position_embedding (class token + position embedding),
encoder_block, residual_adapter, final_norm, head. A component's weights are the
layer's `get_weights()` list, in order.
"""

import keras
from keras import layers, ops

LN_EPSILON = 1e-6


class PatchEmbedding(layers.Layer):
    """Cuts images into patch_size x patch_size patches and projects each to `width`.

    With `stem_channels` > 0 (a hybrid ViT), `stem_layers` 3x3 convolutions with
    that many channels and a GELU each run over the full-resolution image first, so
    each token also sees the pixels around its patch.
    """

    def __init__(self, width, patch_size, stem_channels=0, stem_layers=1, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.patch_size = patch_size
        self.stem_channels = stem_channels
        self.stem = None
        self.more_stem = []
        if stem_channels:
            self.stem = layers.Conv2D(stem_channels, 3, padding="same", activation="gelu",
                                      name="stem")
            self.more_stem = [
                layers.Conv2D(stem_channels, 3, padding="same", activation="gelu",
                              name=f"stem_{number}")
                for number in range(2, stem_layers + 1)
            ]
        self.projection = layers.Conv2D(width, patch_size, strides=patch_size, name="projection")

    def call(self, images):
        if self.stem is not None:
            images = self.stem(images)
        for convolution in self.more_stem:
            images = convolution(images)
        patches = self.projection(images)
        return ops.reshape(patches, (ops.shape(patches)[0], -1, self.width))


class PositionEmbedding(layers.Layer):
    """Prepends the class token and adds a learned position embedding."""

    def __init__(self, num_tokens, width, **kwargs):
        super().__init__(**kwargs)
        self.num_tokens = num_tokens
        self.width = width

    def build(self, input_shape):
        self.class_token = self.add_weight(
            shape=(1, 1, self.width), initializer="zeros", name="class_token"
        )
        self.embedding = self.add_weight(
            shape=(1, self.num_tokens, self.width),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="embedding",
        )

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        class_tokens = ops.broadcast_to(self.class_token, (batch, 1, self.width))
        return ops.concatenate([class_tokens, tokens], axis=1) + self.embedding


class EncoderBlock(layers.Layer):
    """A pre-norm transformer block: self-attention then an MLP, both residual."""

    def __init__(self, width, num_heads, mlp_dim, **kwargs):
        super().__init__(**kwargs)
        self.norm_1 = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm_1")
        self.attention = layers.MultiHeadAttention(
            num_heads, key_dim=width // num_heads, name="attention"
        )
        self.norm_2 = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm_2")
        self.mlp_in = layers.Dense(mlp_dim, activation="gelu", name="mlp_in")
        self.mlp_out = layers.Dense(width, name="mlp_out")

    def call(self, tokens):
        normed = self.norm_1(tokens)
        tokens = tokens + self.attention(normed, normed)
        return tokens + self.mlp_out(self.mlp_in(self.norm_2(tokens)))


class ResidualAdapter(layers.Layer):
    """LayerNorm -> Dense(adapter_dim) -> GELU -> Dense(width), added residually.

    The output projection starts at zero, so a new adapter is the identity.
    """

    def __init__(self, width, adapter_dim, **kwargs):
        super().__init__(**kwargs)
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")
        self.down = layers.Dense(adapter_dim, activation="gelu", name="down")
        self.up = layers.Dense(width, kernel_initializer="zeros", name="up")

    def call(self, tokens):
        return tokens + self.up(self.down(self.norm(tokens)))


class FinalNorm(layers.LayerNormalization):
    """The encoder's final LayerNorm."""

    def __init__(self, width, **kwargs):
        super().__init__(epsilon=LN_EPSILON, **kwargs)
        self.width = width


class ClassifierHead(layers.Layer):
    """Reads the class token and maps it to logits (zero-initialised, as in ViT)."""

    def __init__(self, width, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(num_classes, kernel_initializer="zeros", name="dense")

    def call(self, tokens):
        return self.dense(tokens[:, 0])


LAYER_CLASSES = {
    "patch_embedding": PatchEmbedding,
    "position_embedding": PositionEmbedding,
    "encoder_block": EncoderBlock,
    "residual_adapter": ResidualAdapter,
    "final_norm": FinalNorm,
    "head": ClassifierHead,
}


def make_layer(kind, config, name):
    """A fresh, unbuilt layer for a component of `kind` with `config` (a flat dict)."""
    return LAYER_CLASSES[kind](name=name, **config)
