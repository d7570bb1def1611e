"""A root pretrained on a dataset of its own (real data, real training, tiny budget)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from munet.errors import InvalidInputError
from munet.model.root import RootConfig, fresh_root_weights
from munet.store.repository import SystemStore
from munet.system import init_system, status

ROOT = RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, tfds_dir):
    """A system created by `munet init --pretrain-on mnist_t10k`, in a new process."""
    uri = str(tmp_path_factory.mktemp("pretrained") / "system")
    run = subprocess.run(
        [sys.executable, "-m", "munet", "--system", uri, "init", "--width", "32", "--depth",
         "2", "--num-heads", "2", "--mlp-dim", "64", "--pretrain-on", "mnist_t10k",
         "--pretrain-steps", "60"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert run.returncode == 0, run.stderr
    return {"uri": uri, "stdout": run.stdout}


@pytest.mark.slow
def test_the_pretrained_root_learned_and_its_components_hold_what_it_learned(pretrained):
    info = status(pretrained["uri"])
    record = info["root_pretraining"]
    assert record["dataset"] == "mnist_t10k" and record["steps"] == 60
    assert record["validation_accuracy"] > 0.2  # Chance is 0.1.
    assert record["device"] == "cpu"  # --accelerator auto, with no TPU or GPU here.
    assert "pretrained on mnist_t10k" in pretrained["stdout"]
    store = SystemStore(pretrained["uri"])
    manifest = store.load()
    assert "pretrained on mnist_t10k" in manifest.data["message"]
    from munet.model.paths import load_component

    fresh = fresh_root_weights(ROOT)
    for slot, weights in fresh.items():
        stored = load_component(store, manifest, f"root:{slot}")
        assert [w.shape for w in stored] == [w.shape for w in weights]
        assert not all(np.array_equal(a, b) for a, b in zip(stored, weights)), slot


@pytest.mark.slow
def test_status_says_whether_the_root_was_pretrained(pretrained, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-m", "munet", "--system", pretrained["uri"],
                          "status"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "pretrained on mnist_t10k" in out.stdout, out.stderr
    plain = str(tmp_path / "plain")
    init_system(plain, ROOT)
    assert status(plain)["root_pretraining"] is None


@pytest.mark.slow
def test_init_refuses_an_existing_system_before_pretraining(pretrained):
    out = subprocess.run(
        [sys.executable, "-m", "munet", "--system", pretrained["uri"], "init",
         "--pretrain-on", "mnist_t10k"], capture_output=True, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=60)
    assert out.returncode != 0 and "already exists" in out.stderr, out.stderr
    assert "Pretrained" not in out.stdout and SystemStore(pretrained["uri"]).head_version() == 1


def test_root_weights_that_do_not_fit_are_refused_and_nothing_is_written(tmp_path):
    weights = fresh_root_weights(RootConfig(width=64, depth=2, num_heads=2, mlp_dim=64))
    uri = str(tmp_path / "system")
    record = {"dataset": "mnist_t10k"}
    with pytest.raises(InvalidInputError, match="same RootConfig") as error:
        init_system(uri, ROOT, root_weights=weights, pretraining=record)
    assert "encoder_block_0" in str(error.value) or "patch_embedding" in str(error.value)
    missing = dict(fresh_root_weights(ROOT))
    missing.pop("final_norm")
    with pytest.raises(InvalidInputError, match="one entry per root component"):
        init_system(uri, ROOT, root_weights=missing, pretraining=record)
    assert not SystemStore(uri).exists()


def test_pretraining_steps_must_be_positive():
    from munet.training.pretrain import pretrain_root

    with pytest.raises(InvalidInputError, match="positive integer"):
        pretrain_root(ROOT, "mnist_t10k", 0)


@pytest.mark.parametrize("steps,plan", [(60, (1, 60)), (3000, (10, 300)), (1001, (7, 143)),
                                        (997, (1, 997))])
def test_pretraining_trains_exactly_the_steps_asked_for(steps, plan):
    from munet.training.pretrain import validation_plan

    assert validation_plan(steps) == plan


@pytest.mark.parametrize("arguments,words", [
    (["--pretrain-on", "mnist_t10k", "--scale-factor", "2"], "scale_factor must be in"),
    (["--pretrain-steps", "50"], "without --pretrain-on"),
])
def test_init_refuses_bad_arguments_before_any_pretraining(tmp_path, arguments, words):
    uri = str(tmp_path / "system")
    out = subprocess.run([sys.executable, "-m", "munet", "--system", uri, "init", *arguments],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert out.returncode != 0 and words in out.stderr, out.stderr
    assert "Pretrained" not in out.stdout and not SystemStore(uri).exists()
