"""Adding candidates to a task's population and choosing its active model.

A child enters the population only if it beats its parent (a parent of another
task, or the root, sets no bar). The task's active model is its best-scoring
retained model (ties keep the current one); the population keeps the best
`max_population` models and always the active one.
"""

from munet.store.manifest import ROOT_MODEL_ID

MUTATION_PROBS = ("shared", "per_event")  # The mutation_probs setting's values.
DEFAULT_SETTINGS = {"scale_factor": 1.0, "max_population": 8, "mutation_probs": "shared"}


def settings(manifest):
    return dict(DEFAULT_SETTINGS, **manifest.data.get("settings", {}))


def component_id(candidate_id, slot):
    return f"{candidate_id}:{slot}"


def add_candidate(manifest, spec, result, metrics, version):
    """Adds the candidate's components and model record to `manifest` (in place)."""
    slots = {}
    for slot, source in spec["slots"].items():
        if slot in result["components"]:
            item = result["components"][slot]
            cid = component_id(spec["candidate"], slot)
            manifest.components[cid] = {
                "kind": item["kind"],
                "config": item["config"],
                "blob": item["blob"],
                "num_params": item["num_params"],
                "created_by": spec["task"],
            }
            slots[slot] = cid
        else:
            slots[slot] = source["component"]
    manifest.models[spec["candidate"]] = {
        "id": spec["candidate"],
        "task": spec["task"],
        "parent": spec["parent"],
        "generation": spec["generation"],
        "slots": slots,
        "hparams": spec["hparams"],
        "mutations": spec["mutations"],
        **({"mutation_probs": spec["mutation_probs"]} if "mutation_probs" in spec else {}),
        "metrics": metrics,
        "offspring": 0,
        "created_version": version,
    }
    return manifest.models[spec["candidate"]]


def count_offspring(manifest, task, parent_id):
    record = manifest.tasks[task]
    parent = manifest.models.get(parent_id)
    if parent is not None and parent["task"] == task:
        parent["offspring"] = parent.get("offspring", 0) + 1
    else:
        seeds = record.setdefault("seed_offspring", {})
        seeds[parent_id] = seeds.get(parent_id, 0) + 1


def choose_active(manifest, task):
    """Makes the best-scoring population model active; returns its id."""
    record = manifest.tasks[task]
    population = record["population"]
    if not population:
        return record.get("active")
    current = record.get("active")

    def rank(model_id):
        return (manifest.model(model_id)["metrics"]["score"], model_id == current)

    record["active"] = max(population, key=rank)
    limit = settings(manifest)["max_population"]
    keep = sorted(population, key=rank, reverse=True)[:limit]
    record["population"] = [m for m in population if m in keep]
    return record["active"]


def collect_garbage(manifest, task=None):
    """Drops models no population holds and components no model uses (blobs stay).

    With `task`, only what the commit of `task` can have left unused is looked at:
    the task's own models that its population no longer holds, then the components
    the task created or those dropped models used, each dropped only if no model of
    any task still uses it (the root's components always stay: the root model uses
    them). On a commit's working manifest those lookups are indexed, so the cost
    follows the task, not the system. Without `task` the whole manifest is scanned.
    """
    if task is not None:
        record = manifest.tasks.get(task) or {}
        retained = set(record.get("population", ())) | {record.get("active")}
        candidates = set(manifest.owned_components(task))
        for model_id in manifest.owned_models(task):
            if model_id not in retained and model_id != ROOT_MODEL_ID:
                candidates.update(manifest.models.pop(model_id)["slots"].values())
        for cid in sorted(c for c in candidates if c is not None):
            component = manifest.components.get(cid)
            if component is not None and component["created_by"] is not None \
                    and not manifest.models_using(cid):
                del manifest.components[cid]
        return
    retained = {ROOT_MODEL_ID}
    for record in manifest.tasks.values():
        retained.update(record["population"])
        if record.get("active"):
            retained.add(record["active"])
    for model_id in list(manifest.models):
        if model_id not in retained:
            del manifest.models[model_id]
    used = {cid for model in manifest.models.values() for cid in model["slots"].values()}
    for cid in list(manifest.components):
        if cid not in used:
            del manifest.components[cid]
