"""Real data, real training (tiny budgets), from an empty store: the guarantees of the
growing system. One module-scoped system is grown once and inspected by each test."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from munet import system
from munet.errors import CorruptBlobError, EmptyDatasetError, InvalidInputError
from munet.errors import UnknownDatasetError
from munet.model.root import RootConfig
from munet.stages import chain
from munet.stages.generate import Budget
from munet.store.repository import SystemStore

pytestmark = pytest.mark.slow

FIRST = Budget(num_candidates=2, steps_per_validation=150, num_validations=2, batch_size=64,
               max_validation_examples=1000)
BUDGET = Budget(num_candidates=2, steps_per_validation=60, num_validations=2, batch_size=64,
                max_validation_examples=1000)
ROOT = RootConfig(width=48, depth=3, num_heads=3, mlp_dim=96)


@pytest.fixture(scope="module")
def grown(tmp_path_factory, tfds_dir):
    """fashion_mnist first (A), its test logits, then digits (B) and mnist (C), B improved."""
    uri = str(tmp_path_factory.mktemp("system"))
    system.init_system(uri, ROOT)
    # Fixed run ids make the mutations (drawn from the generation id) the same on every run.
    chain.add_task(uri, "fashion", "fashion_mnist", data_dir=tfds_dir, budget=FIRST,
                   run_id="e2e")
    before = system.evaluate_task(uri, "fashion")
    version_a = SystemStore(uri).head_version()
    summaries = chain.add_task(uri, "digits", "digits", data_dir=tfds_dir, budget=BUDGET,
                               seed=1, run_id="e2e")
    summaries += chain.add_task(uri, "mnist", "mnist", data_dir=tfds_dir, budget=BUDGET,
                                seed=2, run_id="e2e")
    summaries += chain.evolve_task(uri, "digits", budget=BUDGET, seed=3,
                                   run_id="e2e-improve")
    return {"uri": uri, "before": before, "version_a": version_a, "summaries": summaries}


def test_commit_summaries_say_whether_the_active_model_changed(grown):
    store = SystemStore(grown["uri"])
    for summary in grown["summaries"]:
        if not summary["committed"]:
            assert not summary["active_changed"]
            continue
        before = store.load(summary["version"] - 1).tasks.get(summary["task"], {})
        assert summary["active_changed"] == (summary["active"] != before.get("active"))
    firsts = [s for s in grown["summaries"] if s["committed"]][:1]
    assert firsts and firsts[0]["active_changed"]  # A new task's first commit.


def test_tasks_reach_accuracy_far_above_chance(grown):
    info = system.status(grown["uri"])
    print(json.dumps(info["tasks"], indent=1))
    # Chance is 0.1 for each. The bounds leave room for the mutations drawn, which
    # change when a hyperparameter is added: fashion's unmutated child of the random
    # root scores 0.55 after its 300 steps.
    assert info["tasks"]["fashion"]["test_accuracy"] > 0.45
    assert info["tasks"]["digits"]["test_accuracy"] > 0.6
    assert info["tasks"]["mnist"]["test_accuracy"] > 0.3  # 4,000 images, 120 steps.


def test_later_tasks_reuse_components_of_earlier_ones(grown):
    manifest = SystemStore(grown["uri"]).load()
    users = manifest.component_users()
    shared = {cid: tasks for cid, tasks in users.items() if len(tasks) > 1}
    print("shared components:", shared)
    assert any({"fashion", "digits"} <= tasks for tasks in shared.values()), \
        "digits should run through components of fashion's path"
    for cid in shared:  # Shared components are frozen: no task may train them.
        for task in shared[cid]:
            assert manifest.is_locked(cid, task, users)


def test_adding_and_improving_other_tasks_never_changes_a_task_bit_for_bit(grown):
    accuracy, logits, labels = system.evaluate_task(grown["uri"], "fashion")
    before_accuracy, before_logits, before_labels = grown["before"]
    assert SystemStore(grown["uri"]).head_version() > grown["version_a"] + 2
    assert np.array_equal(labels, before_labels)
    assert logits.dtype == before_logits.dtype and np.array_equal(logits, before_logits)
    assert accuracy == before_accuracy


def test_cli_status_and_logits_from_outside(grown, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    run = [sys.executable, "-m", "munet", "--system", grown["uri"]]
    out = subprocess.run(run + ["status", "--json"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout)["tasks"]) == {"fashion", "digits", "mnist"}
    path = tmp_path / "fashion.npy"
    out = subprocess.run(run + ["evaluate", "--task", "fashion", "--logits", str(path)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert np.array_equal(np.load(path), grown["before"][1])  # Same bits in a new process.


def test_cli_show_writes_pictures_and_the_report(grown, tmp_path, capsys):
    from munet.cli import main

    out = tmp_path / "pictures"
    assert main(["--system", grown["uri"], "show", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {
        "system.png", "lineage-digits.png", "lineage-fashion.png", "lineage-mnist.png",
        "continual_learning.json", "continual_learning.md"}
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in
               ("system.png", "lineage-fashion.png"))
    markdown = (out / "continual_learning.md").read_text()
    assert markdown.strip() and markdown.strip() in printed  # What it printed, kept.
    summary = json.loads((out / "continual_learning.json").read_text())
    assert summary["version"] == SystemStore(grown["uri"]).head_version()
    assert set(summary["per_task"]) == {"fashion", "digits", "mnist"}


def _snapshot(uri):
    files = []
    for folder, _, names in os.walk(uri):
        files += [os.path.join(folder, n) for n in names]
    return {f: os.path.getmtime(f) for f in files}


@pytest.mark.parametrize("task,dataset,splits,error,words", [
    ("new", "no_such_dataset_xyz", None, UnknownDatasetError, "no builder"),
    ("../evil", "digits", None, InvalidInputError, "Invalid task name"),
    ("", "digits", None, InvalidInputError, "Invalid task name"),
    ("a/b", "digits", None, InvalidInputError, "Invalid task name"),
    ("new", "digits", {"validation": "train[:0]"}, EmptyDatasetError, "holds no examples"),
    ("fashion", "digits", None, InvalidInputError, "already exists"),
])
def test_bad_input_is_refused_clearly_and_changes_nothing(grown, task, dataset, splits, error,
                                                          words):
    before = _snapshot(grown["uri"])
    with pytest.raises(error, match=words) as raised:
        chain.add_task(grown["uri"], task, dataset, splits=splits, budget=BUDGET)
    assert "Fix" in str(raised.value) or "Did you mean" in str(raised.value) or \
        "Expected" in str(raised.value) or "expected" in str(raised.value)
    assert _snapshot(grown["uri"]) == before


@pytest.mark.parametrize("task,start,words", [
    ("fashion", {"flip": True}, "already exists with starting hyperparameters {}"),
    ("new", {"flip": "maybe"}, "'flip' cannot start at 'maybe'"),
])
def test_bad_starting_hparams_are_refused_and_change_nothing(grown, task, start, words):
    before = _snapshot(grown["uri"])
    with pytest.raises(InvalidInputError, match=words):
        chain.add_task(grown["uri"], task, "fashion_mnist", budget=BUDGET, start_hparams=start)
    assert _snapshot(grown["uri"]) == before
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-m", "munet", "--system", grown["uri"], "add-task",
                          "--task", "new", "--dataset", "digits", "--hparam", "flip"],
                         capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "expected NAME=VALUE, e.g. flip=true" in out.stderr


def test_a_flipped_byte_in_a_blob_is_caught_and_loses_nothing(grown, tmp_path):
    import shutil

    from munet.stages.commit import commit_generation
    from munet.stages.generate import generate_candidates
    from munet.stages.train import train_candidate
    from munet.store import records

    uri = str(tmp_path / "copy")
    shutil.copytree(grown["uri"], uri)
    store = SystemStore(uri)
    manifest = store.load()
    cid = manifest.active_components(manifest.active_model("digits"))[-1]
    blob = manifest.components[cid]["blob"]
    path = os.path.join(uri, "blobs", "sha256", blob[:2], blob + ".safetensors")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptBlobError, match=cid):
        system.evaluate_task(uri, "digits")
    version = store.head_version()
    # A candidate that loads the damaged weights fails loudly when it trains. Mutations
    # are drawn from the generation id: the first id giving such a candidate is fixed.
    for attempt in range(50):
        generation = f"corrupt-{attempt}"
        loaders = [c for c in generate_candidates(uri, "digits", generation, BUDGET, seed=9)
                   if any(source.get("component") == cid for source in records.read(
                       store.storage, records.candidate_key(c, "spec"))["slots"].values())]
        if loaders:
            break
    assert loaders, "no generation sampled a child of digits' active model"
    with pytest.raises(CorruptBlobError, match=cid):
        train_candidate(uri, loaders[0])
    assert not commit_generation(uri, generation, track=False)["committed"]
    assert store.head_version() == version  # Nothing committed.
    accuracy, logits, _ = system.evaluate_task(uri, "fashion")  # Others still load.
    assert np.array_equal(logits, grown["before"][1])


def test_a_candidate_spec_older_than_a_hyperparameter_trains_at_its_default(grown, tmp_path):
    """A candidate generated before shift, erase and label_smoothing existed (its spec
    lacks them) still trains after an upgrade, at their defaults (off)."""
    import shutil

    from munet.stages.generate import generate_candidates
    from munet.stages.train import train_candidate
    from munet.store import records

    uri = str(tmp_path / "copy")
    shutil.copytree(grown["uri"], uri)
    store = SystemStore(uri)
    candidate = generate_candidates(uri, "digits", "older-spec", BUDGET, seed=4)[0]
    key = records.candidate_key(candidate, "spec")
    spec = records.read(store.storage, key)
    for name in ("shift", "erase", "label_smoothing"):
        del spec["hparams"][name]
    records.write(store.storage, key, spec)
    result = train_candidate(uri, candidate)
    assert result["best_validation_accuracy"] > 0.3  # Trained: chance is 0.1.


def test_a_task_with_flip_average_predicts_the_mean_over_mirrors(grown, tfds_dir, tmp_path):
    """A task added with flip_average on predicts, in every evaluation, the mean of its
    path's logits for the image and its mirror; other tasks predict as before."""
    import shutil

    import tensorflow as tf

    from munet.data import pipeline
    from munet.model.paths import model_for_path
    from munet.training.trainer import predict_logits

    uri = str(tmp_path / "copy")
    shutil.copytree(grown["uri"], uri)
    budget = Budget(num_candidates=1, steps_per_validation=60, num_validations=1,
                    batch_size=64, max_validation_examples=500)
    chain.add_task(uri, "mirrored", "fashion_mnist", data_dir=tfds_dir, budget=budget,
                   seed=5, run_id="e2e-mirror", start_hparams={"flip_average": True})
    _, logits, labels = system.evaluate_task(uri, "mirrored")

    store = SystemStore(uri)
    manifest = store.load()
    record = manifest.tasks["mirrored"]
    hparams = manifest.model(record["active"])["hparams"]
    # The starting value; the child's mutations (fixed by its run id) leave it on.
    assert hparams["flip_average"] is True, manifest.model(record["active"])["mutations"]
    hparams["flip_average"] = False  # In memory only: the same path, image alone.
    plain = model_for_path(store, manifest, record["active"])
    data = pipeline.evaluation_input(record, record["splits"]["test"], hparams, 256)
    own, own_labels = predict_logits(plain, data)
    mirrored, _ = predict_logits(plain, data.map(lambda x, y: (tf.reverse(x, [2]), y)))
    assert np.array_equal(labels, own_labels)
    assert np.abs(own - mirrored).max() > 1e-3
    assert np.abs(logits - (own + mirrored) / 2).max() <= 1e-4
    assert np.array_equal(system.evaluate_task(uri, "fashion")[1], grown["before"][1])
