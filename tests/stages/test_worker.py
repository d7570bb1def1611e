"""Candidates train and evaluate in a worker process that is replaced every few
candidates, so a long evolution does not pile XLA's compiled code into one process
(real data, real training, tiny budgets)."""

import multiprocessing
import os
import signal

import pytest

from munet import system
from munet.model.root import RootConfig
from munet.stages import chain
from munet.stages.generate import Budget
from munet.stages.worker import CandidateWorker
from munet.store import records
from munet.store.repository import SystemStore

ROOT = RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64)
BUDGET = Budget(num_candidates=3, steps_per_validation=10, num_validations=2, batch_size=32,
                max_validation_examples=200)


def memory_maps():
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


def grow(tmp_path, name, tfds_dir, **options):
    uri = str(tmp_path / name)
    system.init_system(uri, ROOT)
    summaries = chain.add_task(uri, "digits", "digits", data_dir=tfds_dir, budget=BUDGET,
                               run_id="worker", **options)
    return uri, summaries


def candidate_figures(uri, generation_id):
    store = SystemStore(uri)
    generation = records.read(store.storage, records.generation_key(generation_id))
    figures = {}
    for candidate in generation["candidates"]:
        result = records.read(store.storage, records.candidate_key(candidate, "result"))
        evaluation = records.read(store.storage, records.candidate_key(candidate, "evaluation"))
        figures[candidate] = ({slot: c["blob"] for slot, c in result["components"].items()},
                              evaluation["validation_accuracy"], evaluation["score"])
    return figures


@pytest.mark.slow
def test_workers_train_what_the_calling_process_would_and_compile_nothing_here(
        tmp_path, tfds_dir):
    # In process first: this process compiles XLA code for every candidate it trains.
    before_here = memory_maps()
    here, _ = grow(tmp_path, "here", tfds_dir, candidates_per_process=0)
    grown_here = memory_maps() - before_here
    # Then in workers, one process per two candidates (so two processes for three).
    messages = []
    before_workers = memory_maps()
    isolated, summaries = grow(tmp_path, "workers", tfds_dir, candidates_per_process=2,
                               progress=messages.append)
    grown_workers = memory_maps() - before_workers

    generation = summaries[0]["generation"]
    assert generation == "digits-worker-g00"
    # Bitwise the same weights (content-addressed blobs) and the same figures.
    assert candidate_figures(isolated, generation) == candidate_figures(here, generation)
    models = [SystemStore(uri).load().active_model("digits") for uri in (isolated, here)]
    assert models[0]["id"] == models[1]["id"]
    for metric in ("validation_accuracy", "test_accuracy", "score"):
        assert models[0]["metrics"][metric] == models[1]["metrics"][metric]
    # The trainer's progress reaches the caller from the worker, in order.
    validations = [m for m in messages if m.strip().startswith("validation")]
    assert len(validations) == BUDGET.num_candidates * BUDGET.num_validations
    assert [m.split(":")[0].strip() for m in validations[:2]] == ["validation 1",
                                                                  "validation 2"]
    # Training here left hundreds of mappings of compiled code; the workers left none.
    assert grown_here > 300 * BUDGET.num_candidates
    assert grown_workers < 100


@pytest.mark.slow
def test_a_killed_worker_fails_its_candidate_only_and_the_next_one_trains(tmp_path, tfds_dir):
    killed, messages = [], []

    def kill_the_worker_before_the_second_candidate(message):
        messages.append(message)
        if message.endswith("candidate 2/3: digits-worker-g00-c01"):
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)

    uri, summaries = grow(tmp_path, "killed", tfds_dir, candidates_per_process=4,
                          progress=kill_the_worker_before_the_second_candidate)
    assert killed
    assert any("failed: WorkerDiedError: The worker process training candidate "
               "'digits-worker-g00-c01' ended without an answer" in m for m in messages)
    store = SystemStore(uri)
    first, second, third = records.read(
        store.storage, records.generation_key("digits-worker-g00"))["candidates"]
    assert records.read(store.storage, records.candidate_key(second, "result")) is None
    for candidate in (first, third):  # The third in a new worker.
        assert records.read(store.storage, records.candidate_key(candidate, "evaluation"))
    assert summaries[0]["committed"]
    assert second not in store.load().models  # Loadable, without the killed candidate.


def test_candidates_per_process_must_be_a_count():
    for wrong in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="candidates_per_process must be an integer"):
            CandidateWorker(wrong)
