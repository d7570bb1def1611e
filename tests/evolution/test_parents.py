import random
from collections import Counter

from munet.evolution.parents import sample_parents, seed_models
from tests.helpers import add_task_model, root_manifest


def test_a_new_task_samples_every_seed_before_repeating_one():
    manifest = root_manifest()
    add_task_model(manifest, "a", "a1", own_slots=["head"])
    add_task_model(manifest, "b", "b1", own_slots=["head"])
    assert sorted(seed_models(manifest, "c")) == ["a1", "b1", "root"]
    parents = sample_parents(manifest, "c", 3, random.Random(0))
    assert sorted(parents) == ["a1", "b1", "root"]


def test_own_models_come_first_best_score_first_with_offspring_decay():
    manifest = root_manifest()
    add_task_model(manifest, "a", "good", own_slots=["head"], score=0.9)
    add_task_model(manifest, "a", "bad", own_slots=["head"], score=0.1, active=False)
    counts = Counter()
    for seed in range(200):
        counts.update(sample_parents(manifest, "a", 1, random.Random(seed)))
    assert counts["good"] == 200  # Offspring 0: accepted with probability 1.
    manifest.model("good")["offspring"] = 3  # Accepted with probability 1/8 now.
    counts = Counter()
    for seed in range(400):
        counts.update(sample_parents(manifest, "a", 1, random.Random(seed)))
    assert 20 < counts["good"] < 90 and counts["bad"] > 250
