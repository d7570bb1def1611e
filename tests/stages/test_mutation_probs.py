"""A system whose mutation_probs setting is "per_event" records each candidate's
probabilities in its spec, its model record and its MLflow run, and children of the
task's own models carry them on (real data, real training, tiny budgets)."""

import os

import pytest

from munet import system
from munet.evolution.mutations import EVENT_PROBS
from munet.model.root import RootConfig
from munet.stages import chain
from munet.stages.generate import Budget
from munet.store import records
from munet.store.repository import SystemStore

ROOT = RootConfig(width=16, depth=2, num_heads=2, mlp_dim=32)
BUDGET = Budget(num_candidates=2, steps_per_validation=10, num_validations=1, batch_size=32,
                max_validation_examples=100)


@pytest.mark.slow
def test_per_event_probabilities_are_recorded_and_inherited(tmp_path, tfds_dir):
    uri = str(tmp_path / "system")
    system.init_system(uri, ROOT, mutation_probs="per_event")
    chain.add_task(uri, "digits", "digits", data_dir=tfds_dir, generations=2, budget=BUDGET,
                   run_id="probs", candidates_per_process=0)
    store = SystemStore(uri)
    manifest = store.load()
    assert manifest.data["settings"]["mutation_probs"] == "per_event"
    specs = {}
    for generation in ("digits-probs-g00", "digits-probs-g01"):
        for candidate in records.read(store.storage,
                                      records.generation_key(generation))["candidates"]:
            specs[candidate] = records.read(store.storage,
                                            records.candidate_key(candidate, "spec"))
    inherited = 0
    for candidate, spec in specs.items():
        probs = spec["mutation_probs"]
        assert "hp:lr" in probs and set(probs.values()) <= set(EVENT_PROBS)
        if spec["parent"] in specs:  # A child of one of the task's own candidates.
            parent = specs[spec["parent"]]["mutation_probs"]
            assert set(parent) <= set(probs)
            assert all(abs(probs[e] - p) <= 0.02 + 1e-9 for e, p in parent.items())
            inherited += 1
    assert inherited, "generation 2 starts from the task's own models"
    active = manifest.model(manifest.tasks["digits"]["active"])
    assert active["mutation_probs"] == specs[active["id"]]["mutation_probs"]

    from mlflow import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("munet").experiment_id
    run = client.search_runs([experiment], f"tags.`munet.candidate` = '{active['id']}'")[0]
    logged = dict(pair.split("=") for pair in run.data.params["mutation_probs"].split(","))
    assert logged == {e: str(p) for e, p in active["mutation_probs"].items()}
