"""Mutating a parent path into a child candidate spec (muNet section 2.1).

Mutation actions, each drawn with the child's mutation probability mu:
- hyperparameter change: one step along the key's value list (num_layers too: dropping
  or re-adding top blocks; a re-added block is the one the parent kept dormant, which
  traces back to the nearest ancestor that had it, ultimately the frozen root);
- layer cloning: a frozen component of the parent becomes a trainable copy;
- layer insertion: a zero-initialised residual adapter in front of an encoder block.
Which probability each mutation is drawn with is a system setting (mutation_probs):
- "shared" (muNet, mu2Net): every draw of a child uses its `mutation_prob`, mu;
- "per_event" (mu2Net+, from the mu3Net code): each mutation event (`hp:<key>`,
  `clone:<slot>`, `insert:<slot>`) has a probability of its own, inherited from
  parent to child like a hyperparameter and starting at mu the first time the event
  comes up. Before each use it takes one step up or down in EVENT_PROBS with
  probability mu, so over many generations a lineage can come to draw some
  mutations more often than others. mu itself still mutates with probability mu.
Always, whatever mu: components the task may train (locked by no other task) are
cloned, the final norm is cloned (and the patch and position embeddings, if the
root says own_embeddings), the head is cloned from a same-task parent and made new
otherwise. A resized image invalidates the position embedding: the child gets a
trainable copy resized to the new grid.

A spec only describes the child; the training stage materialises it. Slots read:
  {"source": "ref", "component": id}      frozen, shared by reference
  {"source": "clone", "component": id}    trainable copy of id
  {"source": "resize", "component": id, "config": {...}}  trainable resized copy
  {"source": "new", "kind": k, "config": {...}}           trainable, freshly initialised
"""

from munet.evolution import hyperparameters
from munet.evolution.population import settings
from munet.model.root import component_config, slot_kind, task_owned_slots
from munet.store.manifest import slot_order

TRAINABLE_SOURCES = ("clone", "resize", "new")
EVENT_PROBS = [round(0.02 * i, 2) for i in range(1, 16)]  # 0.02 to 0.30, as in mu3Net.


def make_child(manifest, task, parent_id, num_classes, rng, users=None, start_hparams=None):
    """Returns (hparams, slots, mutations, mutation_probs) of a child of `parent_id`
    for `task`; mutation_probs ({event: probability}) is None unless the system's
    mutation_probs setting is "per_event".

    `start_hparams` (the task's, checked at ingestion) replace the parent's values
    when the parent is not the task's own model, before mutation.
    """
    users = manifest.component_users() if users is None else users
    parent = manifest.model(parent_id)
    root = manifest.root
    lists = hyperparameters.value_lists(root)
    hparams = dict(hyperparameters.defaults(root), **parent["hparams"])
    mutations = []
    if start_hparams and parent["task"] != task:
        hparams, mutations = hyperparameters.apply_start_hparams(hparams, start_hparams)
    parent_optimizer = hparams["optimizer"]
    per_event = settings(manifest)["mutation_probs"] == "per_event"
    event_probs = dict(parent.get("mutation_probs", {})) if per_event else None

    def chance(event, mu):
        """The probability to draw `event` with: mu, or the event's own one, which
        first moves a step with probability mu."""
        if event_probs is None:
            return mu
        prob = event_probs.get(event, mu)
        if rng.random() < mu:
            prob = hyperparameters.step(EVENT_PROBS, prob, rng)
        event_probs[event] = prob
        return prob

    def mutate_hparam(key, mu):
        if rng.random() < mu:
            new = hyperparameters.step(lists[key], hparams[key], rng)
            if new != hparams[key]:
                mutations.append(f"hp:{key}:{hparams[key]}->{new}")
                hparams[key] = new

    mutate_hparam("mutation_prob", hparams["mutation_prob"])
    mu = hparams["mutation_prob"]
    for key in sorted(lists):
        if key != "mutation_prob":
            mutate_hparam(key, chance(f"hp:{key}", mu))
    if hparams["optimizer"] != parent_optimizer:  # Keep lr in the new optimizer's range.
        hparams["lr"] = hyperparameters.matching_lr(hparams["lr"], parent_optimizer,
                                                    hparams["optimizer"])
        mutations.append(f"hp:lr:matched->{hparams['lr']}")

    parent_slots = dict(parent["slots"])
    for i in range(hparams["num_layers"]):
        slot = f"residual_adapter_{i}"
        if slot not in parent_slots and rng.random() < chance(f"insert:{slot}", mu):
            parent_slots[slot] = None  # Inserted below.
            mutations.append(f"insert:{slot}")

    child_model = {"slots": parent_slots, "hparams": hparams}
    active = set(slot_order(child_model))
    owned = task_owned_slots(root)
    slots = {}
    for slot in sorted(parent_slots):
        cid = parent_slots[slot]
        kind = slot_kind(slot)
        if slot == "head":
            continue
        if cid is None:
            config = component_config(kind, root, adapter_dim=hparams["adapter_dim"])
            slots[slot] = {"source": "new", "kind": kind, "config": config}
        elif slot not in active:
            slots[slot] = {"source": "ref", "component": cid}
        elif kind == "position_embedding" and _grid_changed(manifest, cid, root, hparams):
            config = component_config(kind, root, image_size=hparams["image_size"])
            slots[slot] = {"source": "resize", "component": cid, "config": config}
        elif slot in owned or not manifest.is_locked(cid, task, users):
            slots[slot] = {"source": "clone", "component": cid}
        elif rng.random() < chance(f"clone:{slot}", mu):
            slots[slot] = {"source": "clone", "component": cid}
            mutations.append(f"clone:{slot}")
        else:
            slots[slot] = {"source": "ref", "component": cid}

    if parent["task"] == task and "head" in parent["slots"]:
        slots["head"] = {"source": "clone", "component": parent["slots"]["head"]}
    else:
        config = component_config("head", root, num_classes=num_classes)
        slots["head"] = {"source": "new", "kind": "head", "config": config}
    return hparams, slots, mutations, event_probs


def _grid_changed(manifest, component_id, root, hparams):
    wanted = component_config("position_embedding", root, image_size=hparams["image_size"])
    return manifest.components[component_id]["config"]["num_tokens"] != wanted["num_tokens"]
