"""Stage 3, candidate training: build the candidate's model from its spec, train the
components it owns on the task's data, and store their best-validation weights as
blobs. Frozen components are shared by reference and never written."""

import os
import time

from munet.errors import InvalidInputError
from munet.evolution import hyperparameters
from munet.model.assembly import count_params
from munet.model.root import slot_kind
from munet.store import records
from munet.store.repository import SystemStore, utc_now


def read_candidate(store, candidate_id):
    spec = records.read(store.storage, records.candidate_key(candidate_id, "spec"))
    if spec is None:
        raise InvalidInputError(
            f"Unknown candidate {candidate_id!r} in {store.uri!r}: no "
            f"{records.candidate_key(candidate_id, 'spec')}. Fix: pass an id printed by "
            "the generation stage."
        )
    generation = records.read(store.storage, records.generation_key(spec["generation"]))
    task_spec = records.read(store.storage, records.ingest_key(spec["task"]))
    return spec, generation, task_spec


def set_determinism(seed):
    """Seeds Python, NumPy and TensorFlow. Op determinism is not switched on: it turns
    XLA off (2.5x slower here), and XLA on a CPU already repeats its results."""
    import keras

    keras.utils.set_random_seed(seed)


def train_candidate(system_uri, candidate_id, accelerator="auto", progress=None):
    """Trains one candidate (once); returns its result record."""
    store = SystemStore(system_uri)
    key = records.candidate_key(candidate_id, "result")
    existing = records.read(store.storage, key)
    if existing:
        return existing
    spec, generation, task_spec = read_candidate(store, candidate_id)
    budget = generation["budget"]
    manifest = store.load(spec["base_version"])
    # A spec written before a hyperparameter existed lacks it: it trains at the default.
    hparams = dict(hyperparameters.defaults(manifest.root), **spec["hparams"])

    from munet.data import pipeline  # TensorFlow is imported only from here on.
    from munet.model.paths import model_for_candidate
    from munet.training import devices, trainer

    set_determinism(spec["seed"])
    device, strategy = devices.make_strategy(accelerator)
    started = time.time()
    with strategy.scope():
        model, layers = model_for_candidate(store, manifest, spec)
        trainable = {slot: layers[slot] for slot in spec["trainable_slots"]}
        train_data = pipeline.training_input(
            task_spec, task_spec["splits"]["train"], hparams, budget["batch_size"],
            spec["seed"])
        validation_data = pipeline.evaluation_input(
            task_spec, task_spec["splits"]["validation"], hparams,
            budget["batch_size"], budget["max_validation_examples"])
        outcome = trainer.train(
            model, trainable, train_data, validation_data, hparams,
            budget["steps_per_validation"], budget["num_validations"], budget["batch_size"],
            progress)
    components = {}
    for slot, weights in outcome.pop("best_weights").items():
        source = spec["slots"][slot]
        components[slot] = {
            "kind": slot_kind(slot),
            "config": source.get("config") or manifest.components[source["component"]]["config"],
            "blob": store.blobs.put(weights),
            "num_params": count_params(weights),
        }
    result = dict(
        outcome,
        candidate=candidate_id,
        components=components,
        device=device,
        wall_seconds=time.time() - started,
        started_at=utc_now(started),
        finished_at=utc_now(),
        host=os.uname().nodename,
    )
    records.write(store.storage, key, result)
    return result

