"""The continual-learning report, on hand-made version histories."""

import pytest

from munet.tracking.report import continual_learning_report, report_markdown
from tests.helpers import add_task_model, root_manifest


def _commit(manifest, task, model_id, accuracy, own_slots=("head",), slots_from="root"):
    """The next version: `task` commits `model_id` (a generation named after it)."""
    manifest = manifest.copy()
    manifest.data["version"] += 1
    model = add_task_model(manifest, task, model_id, slots_from, own_slots)
    model["metrics"]["test_accuracy"] = accuracy
    record = manifest.tasks[task]
    record.setdefault("created_version", manifest.version)
    record["committed_generations"].append(f"{model_id}-generation")
    return manifest


@pytest.fixture
def history():
    v1 = root_manifest()
    v2 = _commit(v1, "a", "a1", 0.70)
    v3 = _commit(v2, "b", "b1", 0.50, own_slots=("head", "encoder_block_2"), slots_from="a1")
    v4 = _commit(v3, "a", "a2", 0.75, slots_from="a1")
    v5 = _commit(v4, "b", "b2", 0.60, own_slots=("head",), slots_from="b1")
    return [v1, v2, v3, v4, v5]


def test_matrix_transfer_and_params_from_the_history(history):
    report = continual_learning_report(None, history)
    assert report["versions"] == [1, 2, 3, 4, 5]
    assert report["tasks"] == ["a", "b"]
    assert report["accuracy_matrix"]["a"] == [None, 0.70, 0.70, 0.75, 0.75]
    assert report["accuracy_matrix"]["b"] == [None, None, 0.50, 0.50, 0.60]
    assert report["committed_by"] == {"1": [], "2": ["a"], "3": ["b"], "4": ["a"], "5": ["b"]}
    assert report["interference"] == []
    assert report["backward_transfer"] == 0.0 and report["forgetting"] == 0.0
    assert report["per_task"]["a"]["forward_transfer"] == pytest.approx(0.05)
    assert report["per_task"]["b"]["forward_transfer"] == pytest.approx(0.10)
    assert report["mean_test_accuracy"] == pytest.approx(0.675)
    b = report["per_task"]["b"]
    assert b["owned_params"] == 200  # head and encoder_block_2, 100 params each
    assert b["path_params"] == 700 and b["accounted_params"] < b["path_params"]
    text = report_markdown(report)
    assert "| b | 50.00 | 60.00 | +10.00 | 700 |" in text
    assert "v3 b" in text


def test_a_path_changed_by_another_tasks_commit_is_reported(history):
    broken = history[4].copy()  # b's commit also rewrote a component of a's path.
    cid = broken.tasks["a"]["active"] + ":head"
    broken.components[cid]["blob"] = "f" * 64
    broken.model(broken.tasks["a"]["active"])["metrics"]["test_accuracy"] = 0.65
    report = continual_learning_report(None, history[:4] + [broken])
    assert report["interference"] == [
        {"version": 5, "task": "a", "committed_by": ["b"], "accuracy_change": pytest.approx(-0.10)}]
    assert report["forgetting"] == pytest.approx(0.10)
    assert report["backward_transfer"] == pytest.approx(-0.05)  # -0.10 over 2 tasks
