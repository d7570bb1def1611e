"""Training and evaluating candidates in a child process that is replaced every few
candidates: how `munet add-task`, `munet improve` and the benchmarks' evolutions run
many candidates in one command.

Why a child process: XLA keeps the code it compiles for a model mapped in the process
until the process ends. Neither `keras.backend.clear_session()` nor a fresh eager
context frees it (measured: about 300 to 900 memory mappings more per candidate
either way), and Linux stops a process at `vm.max_map_count` mappings (65,530 by
default), so one process that trained about a hundred candidates crashed inside
XLA ("Cannot allocate memory") with gigabytes of RAM free. A worker that is replaced
after `candidates_per_process` candidates bounds the count, and the calling process
never compiles a model at all.

The worker runs the same stage functions as every other runner (`train_candidate`,
then `evaluate_candidate`), from ids and the system URI only, so a candidate gives
bitwise the same weights and figures in the worker as in process.
"""

import concurrent.futures
import multiprocessing
from concurrent.futures.process import BrokenProcessPool

from munet.errors import MunetError

DEFAULT_CANDIDATES_PER_PROCESS = 16  # At most about 15,000 mappings of XLA code.

_messages = None  # In the worker: where progress messages go (the parent prints them).


class WorkerDiedError(MunetError):
    """The candidate's worker process ended without an answer (killed, or crashed)."""


def _start_worker(messages):
    global _messages
    _messages = messages


def _send(message):
    _messages.put(message)


def train_and_evaluate(system_uri, candidate_id, accelerator="auto", progress=None):
    """Trains then evaluates one candidate in this process; returns (result, evaluation)."""
    from munet.stages.evaluate import evaluate_candidate
    from munet.stages.train import train_candidate

    result = train_candidate(system_uri, candidate_id, accelerator, progress)
    return result, evaluate_candidate(system_uri, candidate_id)


def _in_worker(system_uri, candidate_id, accelerator, with_progress):
    return train_and_evaluate(system_uri, candidate_id, accelerator,
                              _send if with_progress else None)


class CandidateWorker:
    """Trains and evaluates candidates one at a time in a spawned child process, which
    is replaced after `candidates_per_process` candidates (and after a crash).

    Args:
        candidates_per_process: candidates one child process handles before it is
            replaced; 0 runs them in the calling process instead (no isolation, for
            a debugger).
        progress: called in this process with each progress message of the trainer.

    Use it as a context manager, so the child process ends with the block.
    """

    def __init__(self, candidates_per_process=DEFAULT_CANDIDATES_PER_PROCESS, progress=None):
        if (not isinstance(candidates_per_process, int) or isinstance(candidates_per_process, bool)
                or candidates_per_process < 0):
            raise ValueError(
                f"candidates_per_process must be an integer >= 0; received "
                f"{candidates_per_process!r}. Fix: pass e.g. "
                f"{DEFAULT_CANDIDATES_PER_PROCESS} (0 trains in this process).")
        self.candidates_per_process = candidates_per_process
        self.progress = progress
        self._context = multiprocessing.get_context("spawn")
        self._messages = None
        self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run(self, system_uri, candidate_id, accelerator="auto"):
        """Trains then evaluates one candidate; returns (result, evaluation)."""
        if self.candidates_per_process == 0:
            return train_and_evaluate(system_uri, candidate_id, accelerator, self.progress)
        if self._pool is None:
            self._messages = self._context.SimpleQueue()
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=self._context,
                max_tasks_per_child=self.candidates_per_process,
                initializer=_start_worker, initargs=(self._messages,))
        try:
            future = self._pool.submit(_in_worker, system_uri, candidate_id,
                                       accelerator, self.progress is not None)
            while True:
                try:
                    outcome = future.result(timeout=0.2)
                    break
                except concurrent.futures.TimeoutError:
                    self._relay_messages()
        except BrokenProcessPool as error:
            self._pool.shutdown(wait=False)
            self._pool = None
            raise WorkerDiedError(
                f"The worker process training candidate {candidate_id!r} ended without an "
                f"answer ({error}). The system is unchanged: nothing of this candidate was "
                "committed. Fix: look for the cause in the log above (often memory); the "
                "next candidate starts a new worker.") from None
        finally:
            self._relay_messages()
        return outcome

    def _relay_messages(self):
        # SimpleQueue.put writes to the pipe before the worker returns, so every message
        # of a finished candidate is readable here by the time its result is.
        while self._messages is not None and not self._messages.empty():
            message = self._messages.get()
            if self.progress:
                self.progress(message)
