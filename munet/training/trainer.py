"""Training one assembled path: SGD with momentum or AdamW, global-norm clip 1.0,
cross-entropy (label smoothing as the path says), periodic validation, and the
best-validation weights of the trainable components kept."""

import time

import keras
import numpy as np

from munet.evolution import hyperparameters
from munet.training.schedules import PathSchedule


class KeepBestWeights(keras.callbacks.Callback):
    """After each validation, snapshots the trainable components if accuracy improved."""

    def __init__(self, layers, progress=None):
        super().__init__()
        self.layers = layers
        self.progress = progress
        self.best_accuracy = -1.0
        self.best_validation = None
        self.best_weights = None
        self.curve = []

    def on_epoch_end(self, epoch, logs=None):
        accuracy = float(logs["val_accuracy"])
        self.curve.append(accuracy)
        if accuracy > self.best_accuracy:
            self.best_accuracy = accuracy
            self.best_validation = epoch + 1
            self.best_weights = {slot: layer.get_weights() for slot, layer in self.layers.items()}
        if self.progress:
            self.progress(f"  validation {epoch + 1}: accuracy {accuracy:.4f} "
                          f"(best {self.best_accuracy:.4f})")


def make_optimizer(hparams, schedule):
    """The path's optimizer: hparams["optimizer"] is "sgd" (default) or "adamw"."""
    name = hparams.get("optimizer", hyperparameters.STATIC_DEFAULTS["optimizer"])
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule,
                                    momentum=float(hparams["momentum"]),
                                    nesterov=bool(hparams["nesterov"]), global_clipnorm=1.0)
    if name == "adamw":  # momentum and nesterov do not apply.
        return keras.optimizers.AdamW(learning_rate=schedule,
                                      weight_decay=hyperparameters.ADAMW_WEIGHT_DECAY,
                                      global_clipnorm=1.0)
    raise ValueError(f"Unknown optimizer {name!r} in the path's hyperparameters; expected "
                     f"one of {hyperparameters.OPTIMIZERS}.")


class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of logits against integer labels, with the one-hot targets mixed
    with the uniform distribution by `label_smoothing` (0: the plain sparse loss)."""

    def __init__(self, label_smoothing=0.0, name="smoothed_sparse_crossentropy"):
        super().__init__(name=name)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        targets = keras.ops.one_hot(labels, keras.ops.shape(y_pred)[-1])
        return keras.losses.categorical_crossentropy(
            targets, y_pred, from_logits=True, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {"label_smoothing": self.label_smoothing, "name": self.name}


def training_loss(label_smoothing):
    """The stock sparse cross-entropy, or its smoothed form when smoothing is on."""
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return SmoothedSparseCrossentropy(label_smoothing)


def compile_for_training(model, optimizer, steps_per_validation, label_smoothing=0.0):
    """Compiles a path as every candidate trains: XLA, and one graph call per validation
    interval, which runs its steps with no Python between them (the usual TPU setting;
    +12% examples/s on 2 CPU cores at batch 64, bitwise the same weights)."""
    model.compile(
        optimizer=optimizer,
        loss=training_loss(label_smoothing),
        metrics=["accuracy"],
        jit_compile=True,  # XLA: about 2.5x the steps/s of graph mode on CPU, same on TPU.
        steps_per_execution=steps_per_validation,
    )


def train(model, trainable_layers, train_data, validation_data, hparams, steps_per_validation,
          num_validations, batch_size, progress=None):
    """Trains `model` in place; returns a dict of results with the best weights."""
    total_steps = steps_per_validation * num_validations
    schedule = PathSchedule(hparams["schedule"], hparams["lr"], total_steps,
                            hparams["warmup_ratio"], steps_per_validation)
    compile_for_training(model, make_optimizer(hparams, schedule), steps_per_validation,
                         hparams["label_smoothing"])
    keep = KeepBestWeights(trainable_layers, progress)
    start = time.perf_counter()
    model.fit(
        train_data,
        steps_per_epoch=steps_per_validation,
        epochs=num_validations,
        validation_data=validation_data,
        callbacks=[keep],
        shuffle=False,  # The stream is shuffled in its pipeline; Keras would only warn.
        verbose=0,
    )
    seconds = time.perf_counter() - start
    return {
        "best_validation_accuracy": keep.best_accuracy,
        "best_validation": keep.best_validation,
        "validation_curve": keep.curve,
        "best_weights": keep.best_weights,
        "train_steps": total_steps,
        "train_seconds": seconds,
        "examples_per_second": total_steps * batch_size / seconds,
        "trainable_params": int(sum(np.prod(w.shape) for ws in keep.best_weights.values()
                                    for w in ws)),
    }


def accuracy(logits, labels):
    """Top-1 accuracy of logits against integer labels."""
    return float((logits.argmax(axis=1) == labels).mean())


def predict_logits(model, data):
    """Logits for every example of `data` (a batched dataset of (image, label)).

    Runs as a TensorFlow graph (3x faster than eager here); the same model, data and
    batch size give bitwise the same logits in any process.
    """
    import tensorflow as tf

    forward = getattr(model, "_munet_forward", None)
    if forward is None:  # One traced function per model, reused across splits.
        forward = tf.function(lambda images: model(images, training=False),
                              reduce_retracing=True)
        model._munet_forward = forward
    logits, labels = [], []
    for images, batch_labels in data:
        logits.append(np.asarray(forward(images)))
        labels.append(np.asarray(batch_labels))
    return np.concatenate(logits), np.concatenate(labels)
