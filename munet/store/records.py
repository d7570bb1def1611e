"""Small JSON records kept next to the versions: ingestion, generations, candidates.

  tasks/<task>/ingest.json               the task's dataset spec and splits
  tasks/<task>/last_attempt.json         the task's latest generation, committed or not
  generations/<generation>.json          task, base version, budget, candidate ids
  outcomes/<generation>.json             written by the commit stage: committed, version
  candidates/<candidate>/spec.json       parent, mutations, hyperparameters, slots
  candidates/<candidate>/result.json     trained components (blob digests), curves
  candidates/<candidate>/evaluation.json validation accuracy, score, improved, test
"""

import json

from munet.errors import CorruptManifestError


def ingest_key(task):
    return f"tasks/{task}/ingest.json"


def attempt_key(task):
    return f"tasks/{task}/last_attempt.json"


def generation_key(generation_id):
    return f"generations/{generation_id}.json"


def outcome_key(generation_id):
    return f"outcomes/{generation_id}.json"


def candidate_key(candidate_id, name):
    return f"candidates/{candidate_id}/{name}.json"


def encode(record):
    return json.dumps(record, indent=1, sort_keys=True).encode()


def read(storage, key):
    """The record at `key`, or None if it does not exist."""
    try:
        raw = storage.read_bytes(key)
    except FileNotFoundError:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptManifestError(
            f"Record {storage.uri}/{key} is not valid JSON ({error}). Fix: delete it and "
            "re-run the stage that writes it (stages are idempotent)."
        ) from None


def write(storage, key, record):
    storage.write_atomic(key, encode(record))
