"""The root a new system starts from: random-init bits that never drift, or given weights."""

import numpy as np
import pytest

from munet.errors import InvalidInputError
from munet.model.paths import load_component
from munet.model.root import RootConfig, fresh_root_weights
from munet.store.repository import SystemStore
from munet.system import init_system

# Blob digests of init_system(RootConfig()) as every version of munet so far made them.
DEFAULT_ROOT_BLOBS = {
    "root:encoder_block_0": "93d57c4139f22f3a4d73d6e5b5cdb24677002c2948c744b2e3de3b1a8e505667",
    "root:encoder_block_1": "565c61ff0e11fc56aedb9a715f5ac5c99d1a8418922aac8abbdb37afbbcbbfe6",
    "root:encoder_block_2": "1b760512efba961864a470344d3a5cfd928fd4763c5cd3f260cf7745a24e60fe",
    "root:encoder_block_3": "1876851f80da3598cb2523df285610aceb29af6023d381262f8ff6f9192d8f83",
    "root:final_norm": "ec8c562c1912d1c00c1fa63ca687b96021bb6526b4ca06c2646e233c06044b80",
    "root:patch_embedding": "6fbe9b5423d6c647922afefa6b63b83b27ff0f486e8d255a7035a66b67d2d2c1",
    "root:position_embedding": "1876beb5032ef8e460c506787fbe86e7ab7d67988ce75fa10211798b8dc7f4cd",
}
SMALL = RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64)


def test_the_default_random_root_is_bit_identical_to_earlier_versions(tmp_path):
    uri = str(tmp_path / "system")
    init_system(uri, RootConfig())
    manifest = SystemStore(uri).load()
    assert {cid: c["blob"] for cid, c in manifest.components.items()} == DEFAULT_ROOT_BLOBS
    assert manifest.pretraining is None


def test_given_root_weights_are_stored_exactly_with_their_record(tmp_path):
    weights = fresh_root_weights(RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64,
                                            seed=5))
    uri = str(tmp_path / "system")
    record = {"dataset": "mnist_t10k", "steps": 1}
    init_system(uri, SMALL, root_weights=weights, pretraining=record)
    store = SystemStore(uri)
    manifest = store.load()
    assert manifest.pretraining == record
    seed_0 = fresh_root_weights(SMALL)
    for slot, arrays in weights.items():
        stored = load_component(store, manifest, f"root:{slot}")
        assert all(np.array_equal(a, b) for a, b in zip(stored, arrays)), slot
        if slot != "final_norm":  # A fresh LayerNorm is ones and zeros under any seed.
            assert not all(np.array_equal(a, b) for a, b in zip(stored, seed_0[slot])), slot


@pytest.mark.parametrize("weights,record,words", [
    ("fresh", None, "go together"),
    (None, {"dataset": "mnist_t10k"}, "go together"),
    ("fresh", {"steps": 3}, "naming its 'dataset'"),
])
def test_weights_and_record_must_come_together(tmp_path, weights, record, words):
    weights = fresh_root_weights(SMALL) if weights == "fresh" else None
    uri = str(tmp_path / "system")
    with pytest.raises(InvalidInputError, match=words):
        init_system(uri, SMALL, root_weights=weights, pretraining=record)
    assert not SystemStore(uri).exists()


@pytest.mark.parametrize("field", ["locked", "own_embeddings"])
def test_root_switches_must_be_booleans(field):
    with pytest.raises(InvalidInputError, match=f"{field} must be True or False; received 'yes'"):
        RootConfig(**{field: "yes"}).validate()


def test_own_embeddings_is_refused_for_a_root_its_children_train_whole():
    with pytest.raises(InvalidInputError, match="needs a locked root; received locked=False"):
        RootConfig(locked=False, own_embeddings=True).validate()


def test_init_records_own_embeddings_in_the_root_and_older_roots_read_as_without(tmp_path):
    from munet.cli import main
    from munet.model.root import task_owned_slots

    uri = str(tmp_path / "system")
    assert main(["--system", uri, "init", "--width", "32", "--depth", "2", "--num-heads", "2",
                 "--mlp-dim", "64", "--own-embeddings"]) == 0
    root = SystemStore(uri).load().root
    assert root["own_embeddings"] is True
    assert task_owned_slots(root) == ("final_norm", "patch_embedding", "position_embedding")
    del root["own_embeddings"]  # As a system made before the option stores it.
    assert task_owned_slots(root) == ("final_norm",)
