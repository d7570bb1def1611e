import pytest

from munet.evolution.score import score
from tests.helpers import add_task_model, root_manifest


def test_score_penalises_size_only_below_scale_one():
    assert score(0.8, 5000, 1000) == 0.8
    assert score(0.8, 1000, 1000, scale=0.9) == pytest.approx(0.72)


def test_accounted_params_split_shared_components_among_their_users():
    manifest = root_manifest(locked=True)
    a = add_task_model(manifest, "a", "a1", own_slots=["final_norm", "head"])
    # Root components (100 params each here) are used by a's active path only.
    assert manifest.accounted_params(a, "a") == manifest.path_params(a)
    b = add_task_model(manifest, "b", "b1", own_slots=["final_norm", "head"])
    shared = 100 * 5  # patch, position, three blocks
    assert manifest.accounted_params(a, "a") == shared / 2 + 200
    assert manifest.accounted_params(b, "b") == shared / 2 + 200
