import random

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
