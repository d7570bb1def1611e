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


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_each_optimizer_learns_digits(prepared, optimizer):
    from munet.data import catalog, pipeline
    from munet.model.assembly import Part, build_model, fresh_weights
    from munet.model.root import component_config

    spec = prepared("digits")
    spec["splits"] = catalog.resolve_splits(spec)
    hparams = dict(hyperparameters.root_hparams(ROOT), optimizer=optimizer)
    hparams["lr"] = 0.05 if optimizer == "sgd" else 0.002
    kinds = ["patch_embedding", "position_embedding", "encoder_block", "final_norm", "head"]
    parts = []
    for index, kind in enumerate(kinds):
        config = component_config(kind, ROOT, image_size=8, num_classes=10)
        parts.append(Part(kind, kind, config, fresh_weights(kind, config, index, 8), True))
    model, layers = build_model(parts, 8)
    train = pipeline.training_input(spec, spec["splits"]["train"], hparams, 32, 0)
    validation = pipeline.evaluation_input(spec, spec["splits"]["validation"], hparams, 64)
    outcome = trainer.train(model, layers, train, validation, hparams, 100, 2, 32)
    assert outcome["best_validation_accuracy"] > 0.5  # Chance is 0.1.
