"""Each benchmark runs once in its smallest setting, so the scripts keep working.
These check that the figures are produced and sane, not how fast anything is."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from munet.store.repository import SystemStore

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_benchmark(script, tmp_path, *arguments):
    # TMPDIR: the scripts' own stores land in the test's folder, removed with it.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", script), "--quick",
                           "--output-dir", str(tmp_path), *arguments],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_speed_quick(tmp_path, tfds_dir):
    out = run_benchmark("speed.py", tmp_path, "--data-dir", tfds_dir)
    result = json.loads((tmp_path / "speed-quick.json").read_text())
    assert 0.3 < result["throughput_ratio_munet_over_plain"] < 3  # Same model, same work.
    assert 0 < result["share_of_peak"] < 1
    assert result["candidates_per_hour"]["candidates_per_hour"] > 0
    assert "benchmarks/speed.py --quick" in result["command"]
    assert "(a) training examples/s" in out
    assert "Machine:" in (tmp_path / "speed-quick.md").read_text()
    assert (tmp_path / "speed-quick.png").read_bytes()[:4] == b"\x89PNG"


def test_scale_quick(tmp_path):
    run_benchmark("scale.py", tmp_path)
    result = json.loads((tmp_path / "scale-quick.json").read_text())
    assert [row["tasks"] for row in result["rows"]] == [5, 20]
    assert result["task0_flops_constant"]
    assert all(row["bytes_ratio"] >= 1.0 for row in result["rows"])  # Weights are stored.
    assert (tmp_path / "scale-quick.png").read_bytes()[:4] == b"\x89PNG"


def test_restarts_quick(tmp_path, tfds_dir):
    out = run_benchmark("restarts.py", tmp_path, "--data-dir", tfds_dir)
    result = json.loads((tmp_path / "restarts-quick.json").read_text())
    assert [(r["repeat"], r["schedule"]) for r in result["rows"]] == [
        (0, "cosine"), (0, "restarts"), (1, "cosine"), (1, "restarts")]
    assert all(len(r["validation_curve"]) == 3 and 0.1 < r["test_accuracy"] <= 1
               for r in result["rows"])
    # Within a repeat only the schedule differs, and it changes the training.
    rows = result["rows"]
    assert rows[0]["validation_curve"] != rows[1]["validation_curve"]
    assert rows[2]["validation_curve"] != rows[3]["validation_curve"]
    means = result["mean_test_accuracy"]
    assert result["restart_cost_points"] == pytest.approx(
        100 * (means["cosine"] - means["restarts"]))
    assert "restarting costs" in out
    assert (tmp_path / "restarts-quick.png").read_bytes()[:4] == b"\x89PNG"


def test_frozen_quick(tmp_path, tfds_dir):
    out = run_benchmark("frozen.py", tmp_path, "--data-dir", tfds_dir)
    result = json.loads((tmp_path / "frozen-quick.json").read_text())
    # The quick root has 2 blocks.
    names = ["all", "top 2", "top 1", "head", "adapters", "adapters + embeddings"]
    assert [(r["repeat"], r["setting"]) for r in result["rows"]] == [
        (repeat, name) for repeat in (0, 1) for name in names]
    assert result["rows"][2]["trainable_root_slots"] == ["encoder_block_1", "final_norm"]
    trainable = [result["trainable_params"][name] for name in names[:4]]
    assert trainable == sorted(trainable, reverse=True) and len(set(trainable)) == 4
    head, adapters, embeddings = (result["trainable_params"][name] for name in names[3:])
    assert head < adapters < embeddings
    # Within a repeat the same data order and head: freezing is what changes training.
    curves = [r["validation_curve"] for r in result["rows"][:6]]
    assert len({tuple(c) for c in curves}) == 6
    means = result["mean_test_accuracy"]
    assert result["cost_points"]["head"] == pytest.approx(100 * (means["all"] - means["head"]))
    assert result["cost_points"]["all"] == 0
    assert "| top 1 |" in out
    assert (tmp_path / "frozen-quick.png").read_bytes()[:4] == b"\x89PNG"


def test_quality_repeats_draw_anew_and_repeat_zero_is_the_published_run():
    from benchmarks.quality import draws

    assert draws(0) == ("quality", 0, 1000)  # What the published results used.
    runs = [draws(seed) for seed in range(4)]
    assert len({run[0] for run in runs}) == 4  # New mutations in every repeat.
    seeds = [run[1] + task for run in runs for task in range(10)]
    baseline_seeds = [run[2] + task for run in runs for task in range(10)]
    assert len(set(seeds)) == len(seeds) and len(set(baseline_seeds)) == len(baseline_seeds)


def test_quality_reuses_baselines_only_from_a_run_with_the_same_baseline_settings(tmp_path):
    from benchmarks.quality import baseline_key, reused_baselines
    from munet.errors import InvalidInputError

    path = os.path.join(REPO, "docs", "benchmarks",
                        "quality_pretrained_lineage_b128_own_embeddings.json")
    with open(path) as handle:
        previous = json.load(handle)
    # munet's own settings may differ: scale factor, candidates, own embeddings.
    here = json.loads(json.dumps(previous))
    here["budget"].update(scale_factor=0.9, candidates=8)
    here["root"]["own_embeddings"] = False
    here["root_digest"] = "ab" * 32  # That file predates the digest: not compared.
    figures, source = reused_baselines(path, baseline_key(here))
    assert figures["finetune"] == previous["figures"]["finetune"] and "munet" not in figures
    assert source["file"] == "docs/benchmarks/quality_pretrained_lineage_b128_own_embeddings.json"
    assert source["machine"] == previous["machine"] and source["seconds"] > 0
    # Anything the baselines depend on may not.
    here["seed"], here["budget"]["batch_size"] = 1, 64
    with pytest.raises(InvalidInputError, match=r"other baseline settings: batch_size 128 "
                       r"there, 64 here; seed 0 there, 1 here\. Fix: rerun"):
        reused_baselines(path, baseline_key(here))
    broken = tmp_path / "broken.json"
    broken.write_text("{\"figures\": {}}")
    with pytest.raises(InvalidInputError, match="is not a readable quality result.*Fix: pass"):
        reused_baselines(str(broken), baseline_key(previous))


def test_quality_budget_rules():
    from benchmarks.quality import baseline_steps, munet_steps

    config = dict(rounds=1, generations=3, candidates=4, steps=500, validations=1)
    assert munet_steps(config) == 6000
    assert baseline_steps(config, "steps") == 6000  # The same steps for every approach.
    assert baseline_steps(config, "lineage") == 1500  # One munet lineage's steps.
    config["rounds"] = 2  # Every task visited twice: twice the steps for every approach.
    assert (munet_steps(config), baseline_steps(config, "lineage")) == (12000, 3000)
    with pytest.raises(ValueError, match="Unknown budget rule 'total'.*steps, lineage"):
        baseline_steps(config, "total")
    # One long generation: each candidate trains 3 validations of 500 steps, so a lineage
    # (and a baseline under the lineage rule) still trains 1,500 steps per task.
    config = dict(rounds=1, generations=1, candidates=4, steps=500, validations=3)
    assert (munet_steps(config), baseline_steps(config, "lineage")) == (6000, 1500)


def test_quality_says_how_many_munet_candidates_failed():
    from benchmarks.quality import describe_failures

    fine = {"mnist": {"candidates": 12, "failed_candidates": 0}}
    assert describe_failures(fine) == ""
    some = dict(fine, digits={"candidates": 12, "failed_candidates": 2})
    assert describe_failures(some) == (
        "2 of munet's 24 candidates failed to train (2 of digits; the run's output says "
        "why) and were skipped. ")


def test_quality_refuses_settings_outside_their_range(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "quality.py"),
                           "--quick", "--scale-factor", "1.5"], capture_output=True, text=True)
    assert done.returncode == 2  # Refused before any data is read or model built.
    assert "--scale-factor must be in (0, 1], got 1.5" in done.stderr
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "quality.py"),
                           "--quick", "--validations", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "--validations must be at least 1, got 0" in done.stderr
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "quality.py"),
                           "--quick", "--mutation-prob", "0.5"], capture_output=True, text=True)
    assert done.returncode == 2 and "--mutation-prob: Hyperparameter 'mutation_prob' cannot " \
        "start at 0.5; expected one of [0.1, 0.12" in done.stderr
    assert "Fix: pick a value from that list" in done.stderr


def kept_store(out):
    """The munet system store a quality.py run printed (it is kept for inspection)."""
    return re.search(r"system store \(kept after the run, for inspection\): (\S+)",
                     out).group(1)


@pytest.mark.parametrize("pretrain", [(), ("--pretrain-on", "mnist_t10k",
                                             "--pretrain-steps", "20")])
def test_quality_quick_on_one_task(tmp_path, tfds_dir, pretrain):
    # The pretrained run also takes the papers' budget rule, with 2 candidates of 2
    # validations of 20 steps. The random-root run visits the task twice with one
    # 40-step candidate and carves a larger validation split.
    other = ("--seed", "2", "--candidates", "2", "--budget-rule", "lineage",
             "--mutation-prob", "0.3", "--own-embeddings", "--steps", "20",
             "--validations", "2") if pretrain \
        else ("--candidates", "1", "--rounds", "2", "--validation-percent", "20",
              "--scale-factor", "0.95", "--steps", "40")
    out = run_benchmark("quality.py", tmp_path, "--tasks", "digits", "--data-dir", tfds_dir,
                        *pretrain, *other)
    store = kept_store(out)
    trained = [json.loads(path.read_text())
               for path in pathlib.Path(store).glob("candidates/*/result.json")]
    assert len(trained) == 2
    for record in trained:  # Each candidate trains V x S steps, validated every S.
        assert record["train_steps"] == 40
        assert len(record["validation_curve"]) == (2 if pretrain else 1)
    result = json.loads((tmp_path / "quality-quick.json").read_text())
    assert result["seed"] == (2 if pretrain else 0) and f"repeat {result['seed']}." in out
    if pretrain:  # Pretrained on data no task uses, then locked, as in the papers.
        assert result["root_pretraining"]["dataset"] == "mnist_t10k"
        assert result["root_pretraining"]["steps"] == 20 and result["root"]["locked"]
        assert "Same pretrained (mnist_t10k, 20 steps" in out
        # munet's tasks start at mutation probability 0.3; a child may step it to 0.28.
        assert result["budget"]["mutation_prob"] == 0.3
        assert "mutation probability, starting at 0.3, repeat 2" in out
        assert result["figures"]["munet"]["digits"]["hparams"]["mutation_prob"] >= 0.28
        # munet's task trains its own embeddings, final norm and head.
        assert result["root"]["own_embeddings"] and "owning its embeddings" in out
        assert {"patch_embedding", "position_embedding", "final_norm", "head"} <= set(
            result["figures"]["munet"]["digits"]["trained_slots"])
    else:
        assert result["root_pretraining"] is None and not result["root"]["locked"]
        assert not result["root"]["own_embeddings"] and "owning" not in out
        # A root that is not locked is trained whole by its first children.
        assert "patch_embedding" in result["figures"]["munet"]["digits"]["trained_slots"]
        assert result["budget"]["scale_factor"] == 0.95 and "size penalty scale 0.95" in out
        assert result["budget"]["mutation_prob"] is None and "mutation probability" not in out
        assert result["figures"]["munet"]["digits"]["hparams"]["mutation_prob"] < 0.2
        assert "Same random-init root" in out
    figures = result["figures"]
    assert set(figures) == {"munet", "finetune", "scratch", "adapters"}
    if pretrain:  # Baselines train one lineage's steps; munet both candidates'.
        assert (result["budget_rule"], result["baseline_steps_per_task"]) == ("lineage", 40)
        assert result["steps_per_task"] == 80 and "budget rule 'lineage'" in out
        assert "(2 validations of 20 steps, on one learning-rate schedule)" in out
        # The baselines validate every 20 steps too: the best of 2 kept.
        assert len(figures["finetune"]["digits"]["validation_curve"]) == 2
    else:  # Two visits of one 40-step candidate; validation is train's last 20%.
        assert (result["budget_rule"], result["baseline_steps_per_task"]) == ("steps", 80)
        assert result["steps_per_task"] == 80 and "80 training steps per task" in out
        assert "2 visits per task, round robin" in out
        assert result["splits"]["digits"]["validation"] == "train[80%:]"
        munet = figures["munet"]["digits"]
        assert munet["generations"] == 2 and munet["splits"] == result["splits"]["digits"]
    assert figures["munet"]["digits"]["train_steps"] == result["steps_per_task"]
    # Two candidates either way (2 x 1 generation, or 1 x 2 visits), none failed.
    assert (figures["munet"]["digits"]["candidates"],
            figures["munet"]["digits"]["failed_candidates"]) == (2, 0)
    assert "failed" not in out
    for mode, rows in figures.items():
        if mode != "munet":
            assert rows["digits"]["train_steps"] == result["baseline_steps_per_task"]
        assert 0.0 <= rows["digits"]["test_accuracy"] <= 1.0
    # Adapters train far fewer params than full fine-tuning of the same root.
    assert figures["adapters"]["digits"]["trainable_params"] < \
        figures["finetune"]["digits"]["trainable_params"] / 3
    assert result["munet_report"]["forgetting"] == 0.0
    assert "(a) munet, evolved" in out and (tmp_path / "quality-quick.png").exists()
    assert result["budget"]["mutation_probs"] == "shared" and "per_event" not in out
    if pretrain:  # munet again with other settings, the baselines taken as they were.
        first = os.path.join(str(tmp_path), "quality-quick.json")
        out = run_benchmark("quality.py", tmp_path, "--tasks", "digits", "--data-dir", tfds_dir,
                            *pretrain, *other, "--scale-factor", "0.9",
                            "--mutation-probs", "per_event",
                            "--baselines-from", first, "--name", "again")
        again = json.loads((tmp_path / "again-quick.json").read_text())
        assert again["root_digest"] == result["root_digest"]  # The same pretrained root.
        assert again["budget"]["scale_factor"] == 0.9 and again["baselines_from"]["seconds"] > 0
        assert again["budget"]["mutation_probs"] == "per_event" and "(per_event)" in out
        store = kept_store(out)
        manifest = SystemStore(store).load()
        assert manifest.data["settings"]["mutation_probs"] == "per_event"
        assert all("hp:lr" in model["mutation_probs"] for model in manifest.models.values()
                   if model["task"] == "digits")
        for mode in ("finetune", "scratch", "adapters"):
            assert again["figures"][mode] == figures[mode]
        assert f"taken from `{again['baselines_from']['file']}`" in out


def test_fashion_budget_quick(tmp_path, tfds_dir):
    out = run_benchmark("fashion_budget.py", tmp_path, "--data-dir", tfds_dir, "--name", "fb")
    result = json.loads((tmp_path / "fb-quick.json").read_text())  # --name names the files.
    generations = result["generations"]
    assert generations and generations[0]["committed"]  # The first child beats nothing.
    assert 0.1 < result["test_accuracy"] <= 1.0  # Trained: better than chance.
    assert result["train_steps"] == 40 * len(generations)
    assert not result["target_met"]  # A quick run never claims the target.
    assert result["root"]["stem_channels"] == 8  # The hybrid root, scaled down.
    assert result["start_hparams"] == {"flip": True, "flip_average": True,
                                       "shift": 0.04}  # Its defaults.
    # The loop stops once the longest generation no longer fits in the time left.
    assert result["wall_seconds"] <= 30 + max(g["seconds"] for g in generations)
    assert "Fashion-MNIST within a time budget on CPU" in out


def test_orchestration_overhead_quick(tmp_path):
    out = run_benchmark("orchestration_overhead.py", tmp_path, "--repeats", "1")
    result = json.loads((tmp_path / "orchestration_overhead-quick.json").read_text())
    assert len(result["direct_seconds"]) == len(result["dag_seconds"]) == 1
    # The DAG runs the same stages plus Airflow's bookkeeping: never free, never 10x.
    assert 0.5 < result["ratio_total"] < 10
    assert "benchmarks/orchestration_overhead.py --quick" in result["command"]
    assert "| repeat 1 |" in (tmp_path / "orchestration_overhead-quick.md").read_text()
    assert (tmp_path / "orchestration_overhead-quick.png").read_bytes()[:4] == b"\x89PNG"
    assert "DAG / direct" in out
