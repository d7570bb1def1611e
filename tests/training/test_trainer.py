"""The trainer's optimizers, on real data."""

import keras
import pytest

from munet.evolution import hyperparameters
from munet.training import trainer

ROOT = {"width": 16, "patch_size": 4, "num_heads": 2, "mlp_dim": 32, "depth": 1,
        "image_size": 8, "locked": False}


def test_the_optimizer_follows_the_hyperparameter():
    hparams = hyperparameters.root_hparams(ROOT)
    adamw = trainer.make_optimizer(hparams, 0.002)
    assert isinstance(adamw, keras.optimizers.AdamW)
    assert adamw.weight_decay == hyperparameters.ADAMW_WEIGHT_DECAY
    assert adamw.global_clipnorm == 1.0
    sgd = trainer.make_optimizer(dict(hparams, optimizer="sgd", nesterov=True), 0.05)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    legacy = {key: value for key, value in hparams.items() if key != "optimizer"}
    assert isinstance(trainer.make_optimizer(legacy, 0.05), keras.optimizers.SGD)
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adam'.*'sgd', 'adamw'"):
        trainer.make_optimizer(dict(hparams, optimizer="adam"), 0.05)


def digits_path(prepared, hparams):
    """A fresh one-block path on digits, its training stream (batch 32) and validation."""
    from munet.data import catalog, pipeline
    from munet.model.assembly import Part, build_model, fresh_weights
    from munet.model.root import component_config

    spec = prepared("digits")
    spec["splits"] = catalog.resolve_splits(spec)
    kinds = ["patch_embedding", "position_embedding", "encoder_block", "final_norm", "head"]
    parts = []
    for index, kind in enumerate(kinds):
        config = component_config(kind, ROOT, image_size=8, num_classes=10)
        parts.append(Part(kind, kind, config, fresh_weights(kind, config, index, 8), True))
    model, layers = build_model(parts, 8)
    train = pipeline.training_input(spec, spec["splits"]["train"], hparams, 32, 0)
    validation = pipeline.evaluation_input(spec, spec["splits"]["validation"], hparams, 64)
    return model, layers, train, validation


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_each_optimizer_learns_digits(prepared, optimizer):
    hparams = dict(hyperparameters.root_hparams(ROOT), optimizer=optimizer)
    hparams["lr"] = 0.05 if optimizer == "sgd" else 0.002
    model, layers, train, validation = digits_path(prepared, hparams)
    outcome = trainer.train(model, layers, train, validation, hparams, 100, 2, 32)
    assert outcome["best_validation_accuracy"] > 0.5  # Chance is 0.1.


def test_steps_between_validations_run_in_one_call_as_if_one_by_one(prepared, monkeypatch):
    """The trainer runs the steps between two validations in one graph call: exactly the
    budgeted steps, bitwise the same weights as Keras running them one call per step."""
    hparams = hyperparameters.root_hparams(ROOT)
    model, layers, train, validation = digits_path(prepared, hparams)
    outcome = trainer.train(model, layers, train, validation, hparams, 30, 2, 32)
    assert model.steps_per_execution == 30
    assert int(model.optimizer.iterations) == 60 and len(outcome["validation_curve"]) == 2

    compile_with_options = keras.Model.compile

    def one_step_per_call(self, **options):
        return compile_with_options(self, **dict(options, steps_per_execution=1))

    monkeypatch.setattr(keras.Model, "compile", one_step_per_call)
    reference, reference_layers, train, validation = digits_path(prepared, hparams)
    expected = trainer.train(reference, reference_layers, train, validation, hparams, 30, 2, 32)
    assert reference.steps_per_execution == 1
    assert outcome["validation_curve"] == expected["validation_curve"]
    for got, want in zip(model.get_weights(), reference.get_weights()):
        assert (got == want).all()


def test_label_smoothing_mixes_uniform_targets_into_the_loss():
    import numpy as np

    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], np.float32)
    labels = np.array([0, 2])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    targets = np.eye(3)[labels] * 0.8 + 0.2 / 3  # smoothing 0.2 over 3 classes
    expected = -(targets * log_probs).sum(axis=1).mean()
    smoothed = trainer.training_loss(0.2)
    assert np.isclose(float(smoothed(labels, logits)), expected, rtol=1e-5)
    assert np.isclose(float(smoothed(labels[:, None], logits)), expected, rtol=1e-5)
    plain = trainer.training_loss(0.0)
    assert isinstance(plain, keras.losses.SparseCategoricalCrossentropy)
    assert float(smoothed(labels, logits)) > float(plain(labels, logits))


def test_a_path_with_label_smoothing_trains_with_it(prepared):
    hparams = dict(hyperparameters.root_hparams(ROOT), label_smoothing=0.1)
    model, layers, train, validation = digits_path(prepared, hparams)
    outcome = trainer.train(model, layers, train, validation, hparams, 100, 2, 32)
    assert model.loss.label_smoothing == 0.1
    assert outcome["best_validation_accuracy"] > 0.5  # Chance is 0.1.
