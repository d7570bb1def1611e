"""Reading the store's history: every version, who committed it, and model lineage."""

from munet.store import records
from munet.store.manifest import ROOT_MODEL_ID


def all_versions(store):
    """Every manifest of the system, version 1 (the root) first."""
    return [store.load(version) for version in store.versions()]


def committed_tasks(previous, manifest):
    """Tasks whose committed generations grew from `previous` to `manifest`."""
    changed = []
    for task, record in manifest.tasks.items():
        before = previous.tasks.get(task, {}).get("committed_generations", [])
        if len(record["committed_generations"]) > len(before):
            changed.append(task)
    return changed


def lineage(store, model_id):
    """The candidate specs from the root's first child down to `model_id`, in order.

    Read from the candidates' spec records, so ancestors that later left their
    population are still found.
    """
    chain = []
    seen = set()
    while model_id != ROOT_MODEL_ID:
        if model_id in seen:
            raise ValueError(f"Lineage of {model_id!r} loops back to itself.")
        seen.add(model_id)
        spec = records.read(store.storage, records.candidate_key(model_id, "spec"))
        if spec is None:
            raise FileNotFoundError(
                f"No spec record for model {model_id!r} in {store.uri!r}; the lineage "
                "cannot be traced past it."
            )
        chain.append(spec)
        model_id = spec["parent"]
    return list(reversed(chain))


def lineage_evaluations(store, chain):
    """The evaluation record of each model in `chain` (from `lineage`), by candidate id."""
    return {spec["candidate"]: records.read(
        store.storage, records.candidate_key(spec["candidate"], "evaluation"))
        for spec in chain}


def mutation_text(mutations):
    """A short label for a candidate's mutations, e.g. 'hp:lr:0.05->0.1, clone:head'."""
    return ", ".join(mutations) if mutations else "no mutation"
