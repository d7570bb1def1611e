"""Stage 4, candidate evaluation: validation accuracy of the trained candidate, its score
(accuracy x scale ** (accounted params / root params)) and whether it beats its
parent. Test accuracy is measured for improved candidates, for reporting only: no
decision reads it."""

from munet.errors import InvalidInputError
from munet.evolution import population
from munet.evolution.score import score
from munet.stages.train import read_candidate
from munet.store import records
from munet.store.repository import SystemStore


def accuracy(model, data):
    from munet.training import trainer

    return trainer.accuracy(*trainer.predict_logits(model, data))


def evaluate_candidate(system_uri, candidate_id):
    """Evaluates one trained candidate (once); returns its evaluation record."""
    store = SystemStore(system_uri)
    key = records.candidate_key(candidate_id, "evaluation")
    existing = records.read(store.storage, key)
    if existing:
        return existing
    spec, generation, task_spec = read_candidate(store, candidate_id)
    result = records.read(store.storage, records.candidate_key(candidate_id, "result"))
    if result is None:
        raise InvalidInputError(
            f"Candidate {candidate_id!r} has not been trained yet. Fix: run the training "
            "stage for it first."
        )
    manifest = store.load(spec["base_version"])
    budget = generation["budget"]

    from munet.data import pipeline
    from munet.model.flops import path_flops
    from munet.model.paths import model_for_candidate

    model, _ = model_for_candidate(store, manifest, spec, trained=result["components"])
    validation = pipeline.evaluation_input(
        task_spec, task_spec["splits"]["validation"], spec["hparams"], budget["batch_size"],
        budget["max_validation_examples"])
    validation_accuracy = accuracy(model, validation)

    trial = manifest.shallow_copy()  # add_candidate only adds entries.
    child = population.add_candidate(trial, spec, result, {}, manifest.version)
    accounted = trial.accounted_params(child, spec["task"])
    scale = population.settings(manifest)["scale_factor"]
    candidate_score = score(validation_accuracy, accounted, manifest.root_params(), scale)
    parent = manifest.model(spec["parent"])
    parent_score = parent["metrics"]["score"] if parent["task"] == spec["task"] else None
    improved = parent_score is None or candidate_score > parent_score

    evaluation = {
        "candidate": candidate_id,
        "validation_accuracy": validation_accuracy,
        "training_best_validation_accuracy": result["best_validation_accuracy"],
        "accounted_params": accounted,
        "path_params": trial.path_params(child),
        "flops_per_example": path_flops(trial, child),
        "trainable_params": result["trainable_params"],
        "score": candidate_score,
        "parent_score": parent_score,
        "improved": improved,
        "test_accuracy": None,
    }
    if improved:
        test = pipeline.evaluation_input(
            task_spec, task_spec["splits"]["test"], spec["hparams"], budget["batch_size"])
        evaluation["test_accuracy"] = accuracy(model, test)
    records.write(store.storage, key, evaluation)
    return evaluation
