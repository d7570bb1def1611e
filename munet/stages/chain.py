"""The five stages chained from one process: what `munet add-task` and `munet improve`
run. Ingestion, generation and commit run here; each candidate is trained and
evaluated in a worker process that is replaced every few candidates (stages/worker.py
says why).

The Airflow DAGs chain the very same stage functions (through components/), one
task per stage and one mapped task per candidate.
"""

import time
import uuid

from munet.stages.commit import commit_generation
from munet.stages.generate import Budget, generate_candidates
from munet.stages.ingest import ingest_task
from munet.stages.worker import DEFAULT_CANDIDATES_PER_PROCESS, CandidateWorker


def _say(progress, message):
    if progress:
        progress(message)


def evolve_task(system_uri, task, generations=1, budget=None, seed=0, run_id=None,
                accelerator="auto", progress=None, author=None,
                candidates_per_process=DEFAULT_CANDIDATES_PER_PROCESS):
    """Runs `generations` generations for an ingested task; returns commit summaries.

    Candidates train in a worker process replaced after `candidates_per_process` of
    them (0: in this process).
    """
    with CandidateWorker(candidates_per_process, progress) as worker:
        return _evolve(system_uri, task, generations, budget or Budget(), seed, run_id,
                       accelerator, progress, author, worker)


def _evolve(system_uri, task, generations, budget, seed, run_id, accelerator, progress, author,
            worker):
    run_id = run_id or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summaries = []
    for index in range(generations):
        generation_id = f"{task}-{run_id}-g{index:02d}"
        _say(progress, f"[{task}] generation {index + 1}/{generations}: {generation_id}")
        candidates = generate_candidates(system_uri, task, generation_id, budget, seed + index)
        failures = []
        for number, candidate_id in enumerate(candidates, start=1):
            _say(progress, f"[{task}] candidate {number}/{len(candidates)}: {candidate_id}")
            try:
                result, evaluation = worker.run(system_uri, candidate_id, accelerator)
            except Exception as error:  # One failed candidate does not fail the generation.
                _say(progress, f"[{task}]   failed: {type(error).__name__}: {error}")
                failures.append(error)
                continue
            _say(progress, (
                f"[{task}]   validation {evaluation['validation_accuracy']:.4f} score "
                f"{evaluation['score']:.4f} trained {result['trainable_params']} params in "
                f"{result['train_seconds']:.1f}s -> "
                f"{'improved' if evaluation['improved'] else 'not better than its parent'}"))
        if len(failures) == len(candidates):
            raise failures[0]  # Every candidate failed: a cause shared by all, report it.
        summary = commit_generation(system_uri, generation_id, author)
        if summary["committed"]:
            which = "new active" if summary["active_changed"] else "active still"
            _say(progress, f"[{task}] committed version {summary['version']}: {which} "
                           f"{summary['active']} (score {summary['score']:.4f})")
        else:
            _say(progress, f"[{task}] no candidate beat its parent: nothing committed")
        tracking = summary.get("tracking", {})
        if not tracking.get("ok", True):
            _say(progress, f"[{task}] MLflow tracking failed ({tracking['error']}); the "
                           f"store is complete. Fix: {tracking['fix']}.")
        summaries.append(summary)
    return summaries


def add_task(system_uri, task, dataset, splits=None, data_dir=None, generations=1, budget=None,
             seed=0, run_id=None, accelerator="auto", progress=None, author=None,
             start_hparams=None, candidates_per_process=DEFAULT_CANDIDATES_PER_PROCESS):
    spec = ingest_task(system_uri, task, dataset, splits, data_dir, start_hparams)
    _say(progress, f"[{task}] ingested {dataset}: {spec['num_examples']}")
    return evolve_task(system_uri, task, generations, budget, seed, run_id, accelerator,
                       progress, author, candidates_per_process)


def tasks_to_improve(system_uri, max_tasks=1):
    """Tasks to revisit: those least recently revisited first (never = first of all)."""
    from munet.store import records
    from munet.store.repository import SystemStore

    store = SystemStore(system_uri)
    manifest = store.load()

    def last_visit(name):
        attempt = records.read(store.storage, records.attempt_key(name)) or {}
        return attempt.get("at", "")

    return sorted(manifest.tasks, key=lambda name: (last_visit(name), name))[:max_tasks]
