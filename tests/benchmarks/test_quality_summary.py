"""The quality summary reads real quality results and compares the runs correctly."""

import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(REPO, "docs", "benchmarks")
RUNS = ["quality_pretrained_lineage_b128.json", "quality_pretrained_lineage_b128_seed1.json",
        "quality_pretrained_lineage_b128_g6.json",
        "quality.json"]  # From before --seed existed: repeat 0.


def summarise(tmp_path, *paths):
    return subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "quality_summary.py"),
                           *paths, "--name", "summary", "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)


def test_summary_of_published_runs(tmp_path):
    paths = [os.path.join(RESULTS, name) for name in RUNS]
    # A copy of one run marked as meeting the target, so the count cannot stay at 0.
    meeting = json.load(open(paths[0]))
    meeting["target_met"] = True
    (tmp_path / "meeting.json").write_text(json.dumps(meeting))
    paths.append(str(tmp_path / "meeting.json"))
    done = summarise(tmp_path, *paths)
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads((tmp_path / "summary.json").read_text())
    assert (tmp_path / "summary.png").stat().st_size > 0
    sources = [json.load(open(path)) for path in paths]

    expected = [source["munet_minus_finetune_points"] for source in sources]
    measured = [run["points"] for run in written["runs"]]
    assert len(measured) == len(expected)
    for value, wanted in zip(measured, expected):
        assert abs(value - wanted) < 1e-9
    assert abs(written["summary"]["points"]["mean"] - statistics.fmean(expected)) < 1e-9
    assert abs(written["summary"]["points"]["sd"] - statistics.stdev(expected)) < 1e-9
    assert written["summary"]["share"]["max"] == max(
        source["munet_params_share_of_finetune"] for source in sources)
    assert written["summary"]["runs_meeting_target"] == 1

    # Per task: the difference of the two approaches' test accuracies, averaged over runs.
    fashion = [100 * (s["figures"]["munet"]["fashion_mnist"]["test_accuracy"]
                      - s["figures"]["finetune"]["fashion_mnist"]["test_accuracy"])
               for s in sources]
    fashion_points = written["summary"]["per_task_points"]["fashion_mnist"]
    assert abs(fashion_points["mean"] - statistics.fmean(fashion)) < 1e-9
    assert abs(fashion_points["sd"] - statistics.stdev(fashion)) < 1e-9
    assert (fashion_points["min"], fashion_points["max"]) == (min(fashion), max(fashion))
    markdown = (tmp_path / "summary.md").read_text()
    assert "| quality_pretrained_lineage_b128_g6 | 0 | Intel" in markdown
    assert "| quality | 0 | AMD EPYC |" in markdown  # No seed recorded: repeat 0.
    assert f"| fashion_mnist | 5 | {statistics.fmean(fashion):+.2f} |" in markdown
    assert "Runs meeting the target: 1 of 5." in markdown
    assert "benchmarks/quality_summary.py" in markdown  # The command that made it.


def test_summary_names_a_file_that_is_not_a_quality_result(tmp_path):
    other = os.path.join(RESULTS, "scale.json")
    done = summarise(tmp_path, other)
    assert done.returncode != 0
    assert "scale.json: not a quality result" in done.stderr
    assert "benchmarks/quality.py" in done.stderr  # How to fix it.
    assert not (tmp_path / "summary.json").exists()
