import random

import pytest

from munet.errors import InvalidInputError
from munet.evolution import hyperparameters
from tests.helpers import ROOT


def test_step_moves_one_position_and_clips_at_the_ends():
    rng = random.Random(0)
    values = [1, 2, 3]
    seen = {hyperparameters.step(values, 2, rng) for _ in range(50)}
    assert seen == {1, 3}
    assert {hyperparameters.step(values, 1, rng) for _ in range(50)} == {1, 2}
    assert hyperparameters.step(values, 2.9, rng) in (2, 3)  # Off-list value: nearest first.


def test_defaults_are_on_their_lists():
    lists = hyperparameters.value_lists(ROOT)
    for key, value in hyperparameters.defaults(ROOT).items():
        assert value in lists[key], key
    assert lists["num_layers"] == [1, 2, 3]
    assert all(size % ROOT["patch_size"] == 0 for size in lists["image_size"])


def test_root_hparams_follow_whether_the_root_is_locked():
    locked = hyperparameters.root_hparams(dict(ROOT, locked=True))
    assert (locked["optimizer"], locked["lr"]) == ("sgd", 0.05)  # The papers' fine-tuning.
    unlocked = hyperparameters.root_hparams(dict(ROOT, locked=False))
    assert (unlocked["optimizer"], unlocked["lr"]) == ("adamw", 0.002)  # From scratch.
    lists = hyperparameters.value_lists(ROOT)
    assert all(value in lists[key] for key, value in unlocked.items())
    # A path stored before `optimizer` existed trained with SGD, and still does.
    assert hyperparameters.defaults(dict(ROOT, locked=False))["optimizer"] == "sgd"


def test_matching_lr_moves_by_the_optimizers_ratio_onto_the_list():
    assert hyperparameters.matching_lr(0.05, "sgd", "adamw") == 0.002
    assert hyperparameters.matching_lr(0.002, "adamw", "sgd") == 0.05
    assert hyperparameters.matching_lr(0.1, "sgd", "adamw") == 0.005  # 0.004, nearest (log).
    assert hyperparameters.matching_lr(0.02, "sgd", "sgd") == 0.02


def test_start_hparams_are_read_from_text_or_json_onto_their_lists():
    checked = hyperparameters.check_start_hparams(
        {"flip": "TRUE", "lr": "0.002", "num_layers": 2, "optimizer": "sgd", "crop": False},
        ROOT)
    assert checked == {"crop": False, "flip": True, "lr": 0.002, "num_layers": 2,
                       "optimizer": "sgd"}
    assert type(checked["num_layers"]) is int and type(checked["lr"]) is float


@pytest.mark.parametrize("start,words", [
    ({"flp": True}, "Unknown hyperparameter 'flp'; expected one of"),
    ({"flip": 1}, "'flip' cannot start at 1; expected one of [False, True]"),
    ({"flip": "yes"}, "'flip' cannot start at 'yes'"),
    ({"lr": 0.003}, "'lr' cannot start at 0.003"),
    ({"num_layers": 9}, "'num_layers' cannot start at 9; expected one of [1, 2, 3]"),
    ({"optimizer": "adam"}, "expected one of ['sgd', 'adamw']"),
    (["flip"], "must be a mapping of name to value; received ['flip']"),
])
def test_bad_start_hparams_are_refused_saying_what_would_do(start, words):
    with pytest.raises(InvalidInputError) as error:
        hyperparameters.check_start_hparams(start, ROOT)
    assert words in str(error.value) and "Fix" in str(error.value)


def test_start_hparams_replace_the_parent_values_and_an_optimizer_brings_its_lr():
    parent = hyperparameters.root_hparams(dict(ROOT, locked=False))  # adamw at 0.002.
    started, labels = hyperparameters.apply_start_hparams(parent, {"flip": True})
    assert started == dict(parent, flip=True) and labels == ["start:flip:False->True"]
    started, labels = hyperparameters.apply_start_hparams(parent, {"optimizer": "sgd"})
    assert (started["optimizer"], started["lr"]) == ("sgd", 0.05)
    assert labels == ["start:lr:0.002->0.05", "start:optimizer:adamw->sgd"]
    started, _ = hyperparameters.apply_start_hparams(parent, {"optimizer": "sgd", "lr": 0.01})
    assert started["lr"] == 0.01  # A named lr wins.
    assert hyperparameters.apply_start_hparams(parent, {"flip": False}) == (parent, [])
