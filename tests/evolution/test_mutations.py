import hashlib
import json
import random

import pytest

from munet.errors import InvalidInputError
from munet.evolution.mutations import EVENT_PROBS, make_child
from munet.store.manifest import slot_order
from tests.helpers import add_task_model, root_manifest


def _sources(slots):
    return {slot: value["source"] for slot, value in slots.items()}


def test_child_of_a_locked_root_shares_frozen_blocks_and_gets_a_new_head():
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.1
    rng = random.Random(3)
    hparams, slots, mutations, probs = make_child(manifest, "t", "root", 10, rng)
    assert probs is None  # One shared probability: none per event.
    sources = _sources(slots)
    assert sources["final_norm"] == "clone"  # Always trainable.
    assert sources["head"] == "new" and slots["head"]["config"]["num_classes"] == 10
    refs = [s for s, v in sources.items() if v == "ref"]
    assert refs, "with mu=0.1 most root components stay frozen references"
    for slot, source in sources.items():
        if source == "clone" and slot != "final_norm":
            assert f"clone:{slot}" in mutations  # Cloning a locked component is a mutation.


def test_unlocked_components_of_the_task_are_always_cloned_and_others_never_trained():
    manifest = root_manifest(locked=True)
    add_task_model(manifest, "a", "a1", own_slots=["encoder_block_0", "final_norm", "head"])
    add_task_model(manifest, "b", "b1", slots_from="a1", own_slots=["final_norm", "head"])
    # b1 uses a's encoder_block_0 by reference; a revisits its own model a1.
    manifest.model("a1")["hparams"]["mutation_prob"] = 0.1
    for seed in range(30):
        _, slots, _, _ = make_child(manifest, "a", "a1", 10, random.Random(seed))
        # a1:encoder_block_0 is used by b's active model: a may not train it in place,
        # so it is either shared frozen or cloned (a copy), never anything else.
        assert slots["encoder_block_0"]["component"] == "a1:encoder_block_0"
        assert slots["head"] == {"source": "clone", "component": "a1:head"}  # Same task.
    del manifest.tasks["b"]  # Now nobody else uses a1's block: it must be cloned.
    _, slots, _, _ = make_child(manifest, "a", "a1", 10, random.Random(0))
    assert slots["encoder_block_0"] == {"source": "clone", "component": "a1:encoder_block_0"}


def test_mutations_insert_adapters_change_depth_and_resize_positions():
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.3
    inserted = depth_changed = resized = False
    for seed in range(200):
        hparams, slots, mutations, _ = make_child(manifest, "t", "root", 5, random.Random(seed))
        order = slot_order({"slots": slots, "hparams": hparams})
        assert order[0] == "patch_embedding" and order[-1] == "head"
        for slot in slots:
            if slot.startswith("residual_adapter"):
                inserted = True
                assert slots[slot]["source"] == "new"
                assert slots[slot]["config"]["adapter_dim"] == hparams["adapter_dim"]
        if hparams["num_layers"] != 3:
            depth_changed = True
            assert any(m.startswith("hp:num_layers") for m in mutations)
            assert "encoder_block_2" in slots  # Dropped blocks stay, dormant, for re-adding.
        if hparams["image_size"] != 28:
            resized = True
            assert slots["position_embedding"]["source"] == "resize"
            grid = hparams["image_size"] // 7
            assert slots["position_embedding"]["config"]["num_tokens"] == grid * grid + 1
    assert inserted and depth_changed and resized


def test_switching_the_optimizer_moves_the_learning_rate_with_it():
    manifest = root_manifest(locked=True)
    parent = manifest.model("root")["hparams"]
    parent.update(mutation_prob=0.3, optimizer="sgd", lr=0.05)
    switched = kept = 0
    for seed in range(60):
        hparams, _, mutations, _ = make_child(manifest, "t", "root", 10, random.Random(seed))
        if hparams["optimizer"] == "adamw":
            switched += 1
            assert "hp:optimizer:sgd->adamw" in mutations
            assert any(m.startswith("hp:lr:matched->") for m in mutations)
            assert hparams["lr"] in (0.001, 0.002, 0.005)  # 0.02-0.1 divided by 25.
        else:
            kept += 1
            assert hparams["lr"] in (0.02, 0.05, 0.1)  # At most one step from 0.05.
            assert not any(m.startswith("hp:lr:matched") for m in mutations)
    assert switched and kept


def test_start_hparams_apply_to_children_of_seeds_only():
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.1
    start = {"flip": True, "crop": True}
    seen_start = False
    for seed in range(20):
        hparams, _, mutations, _ = make_child(manifest, "t", "root", 10, random.Random(seed),
                                           start_hparams=start)
        assert mutations[:2] == ["start:crop:False->True", "start:flip:False->True"]
        seen_start |= hparams["flip"] and hparams["crop"]  # Mutation may step one back.
    assert seen_start
    add_task_model(manifest, "t", "t1", own_slots=["final_norm", "head"])
    manifest.model("t1")["hparams"].update(mutation_prob=0.1, flip=False)
    for seed in range(20):  # The task's own model: its values are inherited as usual.
        _, _, mutations, _ = make_child(manifest, "t", "t1", 10, random.Random(seed),
                                     start_hparams=start)
        assert not any(m.startswith("start:") for m in mutations)


def test_a_root_with_own_embeddings_makes_every_child_train_its_embeddings():
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.1
    shared = 0
    for seed in range(30):
        _, slots, _, _ = make_child(manifest, "t", "root", 10, random.Random(seed))
        shared += slots["patch_embedding"]["source"] == "ref"
    assert shared > 20  # Without the option they are cloned by mutation only (mu 0.1).
    manifest.root["own_embeddings"] = True
    blocks_shared = 0
    for seed in range(30):
        _, slots, mutations, _ = make_child(manifest, "t", "root", 10, random.Random(seed))
        for slot in ("patch_embedding", "position_embedding", "final_norm"):
            # A resized position embedding (image_size mutated) is a trainable copy too.
            assert slots[slot]["source"] in ("clone", "resize")
            assert slots[slot]["component"] == f"root:{slot}"
            assert f"clone:{slot}" not in mutations  # Always owned, not a mutation.
        blocks_shared += slots["encoder_block_0"]["source"] == "ref"
    assert blocks_shared > 20  # The blocks are still shared unless a mutation clones them.


def test_children_of_a_root_without_own_embeddings_draw_as_before_the_option():
    # The digest of these 20 children as munet made them before own_embeddings
    # existed: published benchmark runs stay reproducible with the option off.
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.3
    specs = [make_child(manifest, "t", "root", 10, random.Random(seed))[:3] for seed in range(20)]
    digest = hashlib.sha256(json.dumps(specs, sort_keys=True, default=str).encode())
    assert digest.hexdigest() == \
        "d2281908988fdecbe2639d461e76cedeb9fd68f83e636839a1ef62124c3b265b"


def _per_event(manifest):
    manifest.data["settings"] = {"mutation_probs": "per_event"}
    return manifest


def test_per_event_probabilities_start_at_mu_and_move_one_step_at_most():
    manifest = _per_event(root_manifest(locked=True))
    manifest.model("root")["hparams"]["mutation_prob"] = 0.2
    moved = 0
    for seed in range(30):
        hparams, slots, mutations, probs = make_child(manifest, "t", "root", 10,
                                                      random.Random(seed))
        mu = hparams["mutation_prob"]  # The child's own mu, after its own mutation.
        assert {f"hp:{key}" for key in ("lr", "momentum", "flip", "num_layers")} <= set(probs)
        assert "hp:mutation_prob" not in probs  # mu moves by itself, as in mu2Net.
        active = slot_order({"slots": slots, "hparams": hparams})
        frozen = [s for s in active if slots[s]["source"] == "ref"]
        cloned = [m.split(":")[1] for m in mutations if m.startswith("clone:")]
        for slot in frozen + cloned:  # Every clone draw has its event.
            assert f"clone:{slot}" in probs
        for event, prob in probs.items():
            assert prob in EVENT_PROBS
            assert abs(prob - mu) <= 0.02 + 1e-9, (event, prob, mu)
            moved += prob != mu
    assert moved  # With probability mu an event's probability takes a step.


def test_children_inherit_per_event_probabilities_and_draw_with_them():
    manifest = _per_event(root_manifest(locked=True))
    add_task_model(manifest, "t", "t1", own_slots=["final_norm", "head"])
    parent = manifest.model("t1")
    parent["hparams"]["mutation_prob"] = 0.1
    parent["mutation_probs"] = {f"hp:{key}": 0.02 for key in parent["hparams"]}
    parent["mutation_probs"].update({f"clone:encoder_block_{i}": 0.3 for i in range(3)})
    hp_changes = clones = 0
    for seed in range(100):
        _, _, mutations, probs = make_child(manifest, "t", "t1", 10, random.Random(seed))
        assert probs["clone:encoder_block_0"] in (0.28, 0.3)  # Clipped at the top.
        assert probs["hp:lr"] in (0.02, 0.04)
        hp_changes += sum(m.startswith("hp:") and not m.startswith("hp:mutation_prob")
                          for m in mutations)
        clones += sum(m.startswith("clone:encoder_block") for m in mutations)
    # 3 blocks at about 0.3 against 22 keys at about 0.02 a child; with one shared
    # mu of 0.1 it would be about 0.3 clones and 2.2 changes.
    assert clones / 100 > 0.6 and hp_changes / 100 < 0.9, (clones, hp_changes)
    assert parent["mutation_probs"]["hp:lr"] == 0.02  # The parent's record is untouched.


def test_init_records_the_mutation_probs_setting_and_older_systems_read_as_shared(tmp_path):
    from munet.cli import main
    from munet.evolution.population import settings
    from munet.store.repository import SystemStore
    from munet.system import new_system_store

    uri = str(tmp_path / "system")
    assert main(["--system", uri, "init", "--width", "16", "--depth", "1", "--num-heads", "2",
                 "--mlp-dim", "32", "--mutation-probs", "per_event"]) == 0
    manifest = SystemStore(uri).load()
    assert settings(manifest)["mutation_probs"] == "per_event"
    del manifest.data["settings"]["mutation_probs"]  # As a system made before the option.
    assert settings(manifest)["mutation_probs"] == "shared"
    with pytest.raises(InvalidInputError, match="mutation_probs must be one of.*'per_task'"):
        new_system_store(str(tmp_path / "other"), 1.0, "per_task")
    assert not (tmp_path / "other").exists()
