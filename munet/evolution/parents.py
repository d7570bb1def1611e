"""Parent sampling (muNet's PPDecay, with mu2Net's seed pass).

1. The task's own retained models, best score first; model i is accepted with
   probability 0.5 ** (children it already had for this task).
2. If none: the same rule over the seeds (other tasks' active models and the root),
   shuffled; a chosen seed moves to the end of the list.
3. If still none: a uniform pick among all of them.
"""

from munet.store.manifest import ROOT_MODEL_ID


def seed_models(manifest, task):
    seeds = [
        record["active"]
        for name, record in sorted(manifest.tasks.items())
        if name != task and record.get("active")
    ]
    return seeds + [ROOT_MODEL_ID]


def sample_parents(manifest, task, count, rng):
    """Chooses `count` parents (model ids), updating offspring counts as it goes."""
    record = manifest.tasks.get(task, {})
    own = sorted(
        record.get("population", []),
        key=lambda m: (manifest.model(m)["metrics"]["score"], manifest.model(m)["created_version"]),
        reverse=True,
    )
    offspring = {m: manifest.model(m).get("offspring", 0) for m in own}
    seeds = seed_models(manifest, task)
    rng.shuffle(seeds)
    seed_offspring = record.get("seed_offspring", {})
    offspring.update({s: seed_offspring.get(s, 0) for s in seeds})

    parents = []
    for _ in range(count):
        choice = next((m for m in own if rng.random() < 0.5 ** offspring[m]), None)
        if choice is None:
            choice = next((s for s in seeds if rng.random() < 0.5 ** offspring[s]), None)
            if choice is not None:
                seeds.remove(choice)
                seeds.append(choice)
        if choice is None:
            choice = rng.choice(own + seeds)
        offspring[choice] += 1
        parents.append(choice)
    return parents
