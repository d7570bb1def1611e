import hashlib
import json
import random

from munet.evolution.mutations import make_child
from munet.store.manifest import slot_order
from tests.helpers import add_task_model, root_manifest


def _sources(slots):
    return {slot: value["source"] for slot, value in slots.items()}


def test_child_of_a_locked_root_shares_frozen_blocks_and_gets_a_new_head():
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.1
    rng = random.Random(3)
    hparams, slots, mutations = make_child(manifest, "t", "root", 10, rng)
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
        _, slots, _ = make_child(manifest, "a", "a1", 10, random.Random(seed))
        # a1:encoder_block_0 is used by b's active model: a may not train it in place,
        # so it is either shared frozen or cloned (a copy), never anything else.
        assert slots["encoder_block_0"]["component"] == "a1:encoder_block_0"
        assert slots["head"] == {"source": "clone", "component": "a1:head"}  # Same task.
    del manifest.tasks["b"]  # Now nobody else uses a1's block: it must be cloned.
    _, slots, _ = make_child(manifest, "a", "a1", 10, random.Random(0))
    assert slots["encoder_block_0"] == {"source": "clone", "component": "a1:encoder_block_0"}


def test_mutations_insert_adapters_change_depth_and_resize_positions():
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.3
    inserted = depth_changed = resized = False
    for seed in range(200):
        hparams, slots, mutations = make_child(manifest, "t", "root", 5, random.Random(seed))
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
        hparams, _, mutations = make_child(manifest, "t", "root", 10, random.Random(seed))
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
        hparams, _, mutations = make_child(manifest, "t", "root", 10, random.Random(seed),
                                           start_hparams=start)
        assert mutations[:2] == ["start:crop:False->True", "start:flip:False->True"]
        seen_start |= hparams["flip"] and hparams["crop"]  # Mutation may step one back.
    assert seen_start
    add_task_model(manifest, "t", "t1", own_slots=["final_norm", "head"])
    manifest.model("t1")["hparams"].update(mutation_prob=0.1, flip=False)
    for seed in range(20):  # The task's own model: its values are inherited as usual.
        _, _, mutations = make_child(manifest, "t", "t1", 10, random.Random(seed),
                                     start_hparams=start)
        assert not any(m.startswith("start:") for m in mutations)


def test_a_root_with_own_embeddings_makes_every_child_train_its_embeddings():
    manifest = root_manifest(locked=True)
    manifest.model("root")["hparams"]["mutation_prob"] = 0.1
    shared = 0
    for seed in range(30):
        _, slots, _ = make_child(manifest, "t", "root", 10, random.Random(seed))
        shared += slots["patch_embedding"]["source"] == "ref"
    assert shared > 20  # Without the option they are cloned by mutation only (mu 0.1).
    manifest.root["own_embeddings"] = True
    blocks_shared = 0
    for seed in range(30):
        _, slots, mutations = make_child(manifest, "t", "root", 10, random.Random(seed))
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
    specs = [make_child(manifest, "t", "root", 10, random.Random(seed)) for seed in range(20)]
    digest = hashlib.sha256(json.dumps(specs, sort_keys=True, default=str).encode())
    assert digest.hexdigest() == \
        "d2281908988fdecbe2639d461e76cedeb9fd68f83e636839a1ef62124c3b265b"
