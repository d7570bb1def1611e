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
