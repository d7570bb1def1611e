"""Stage 2, candidate generation: sample parents and mutate them into candidate specs.

A generation is named by its caller (e.g. from an Airflow run id) and is written
once: calling again with the same generation id returns the same candidates.
"""

import dataclasses
import random

from munet.errors import InvalidInputError
from munet.evolution.mutations import TRAINABLE_SOURCES, make_child
from munet.evolution.parents import sample_parents
from munet.names import check_name
from munet.store import records
from munet.store.repository import SystemStore, utc_now


@dataclasses.dataclass
class Budget:
    """How much work one generation does (not evolved: the run's budget).

    Args:
        num_candidates: children sampled and trained per generation.
        steps_per_validation: training steps between two validations.
        num_validations: validations per candidate (total steps = product of both).
        batch_size: training and evaluation batch size. 128 rather than 64: a default
            candidate's time is mostly compilation and evaluation, so on 2 CPU cores it
            trains on twice the examples for 5 to 20% more time (fashion_mnist, 3 seeds:
            test accuracy 73.3% against 72.1%), and its step uses the cores better.
        max_validation_examples: cap on validation examples (the papers use <= 10 batches).
    """

    num_candidates: int = 4
    steps_per_validation: int = 50
    num_validations: int = 3
    batch_size: int = 128
    max_validation_examples: int = 2000

    def validate(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(
                    f"Budget {field.name} must be a positive integer; received {value!r}. "
                    f"Fix: pass e.g. {field.name}={field.default}."
                )
        return self


def generate_candidates(system_uri, task, generation_id, budget=None, seed=0):
    """Writes the candidate specs of one generation; returns their ids."""
    check_name(task, "task name")
    check_name(generation_id, "generation id")
    budget = (budget or Budget()).validate()
    store = SystemStore(system_uri)
    existing = records.read(store.storage, records.generation_key(generation_id))
    if existing:
        if existing["task"] != task:
            raise InvalidInputError(
                f"Generation {generation_id!r} already exists for task {existing['task']!r}, "
                f"not {task!r}. Fix: use a new generation id."
            )
        return existing["candidates"]
    spec = records.read(store.storage, records.ingest_key(task))
    if spec is None:
        raise InvalidInputError(
            f"Task {task!r} has not been ingested into {system_uri!r}. Fix: run the "
            "ingestion stage first (`munet add-task` does it)."
        )
    manifest = store.load()
    rng = random.Random(f"{generation_id}/{seed}")
    parents = sample_parents(manifest, task, budget.num_candidates, rng)
    users = manifest.component_users()
    candidates = []
    for index, parent in enumerate(parents):
        candidate_id = f"{generation_id}-c{index:02d}"
        hparams, slots, mutations, mutation_probs = make_child(
            manifest, task, parent, spec["num_classes"], rng, users,
            spec.get("start_hparams"),
        )
        records.write(store.storage, records.candidate_key(candidate_id, "spec"), {
            "candidate": candidate_id,
            "generation": generation_id,
            "task": task,
            "parent": parent,
            "parent_task": manifest.model(parent)["task"],
            "base_version": manifest.version,
            "hparams": hparams,
            "slots": slots,
            "mutations": mutations,
            **({"mutation_probs": mutation_probs} if mutation_probs is not None else {}),
            "trainable_slots": sorted(s for s, v in slots.items()
                                      if v["source"] in TRAINABLE_SOURCES),
            "seed": rng.randrange(2**31),
        })
        candidates.append(candidate_id)
    generation = {
        "generation": generation_id,
        "task": task,
        "base_version": manifest.version,
        "budget": dataclasses.asdict(budget),
        "seed": seed,
        "candidates": candidates,
        "created_at": utc_now(),
    }
    if not store.storage.create_exclusive(records.generation_key(generation_id),
                                          records.encode(generation)):
        return records.read(store.storage, records.generation_key(generation_id))["candidates"]
    return candidates
