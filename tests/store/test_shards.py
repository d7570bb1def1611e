"""The sharded store: a commit writes what changed, every version stays whole and
identical, damaged pieces are named, garbage collection stays within the task."""

import json
import os
import random
import threading

import pytest

from munet.errors import CorruptManifestError
from munet.evolution import population
from munet.store.cache import clear_cache
from munet.store.index import place
from munet.store.manifest import FORMAT, Manifest
from munet.store.pieces import encode_piece, node_key, sha256
from munet.store.repository import SystemStore, version_key
from munet.store.versions import load_state
from tests.helpers import add_task_model, root_manifest
from tests.store.test_repository import _committer

TASKS = [f"task{i}" for i in range(12)]


def files(root, folder):
    found = set()
    for path, _, names in os.walk(os.path.join(root, folder)):
        found.update(os.path.relpath(os.path.join(path, n), root) for n in names)
    return found


def every_file(root):
    return {f for folder in ("versions", "shards", "index", "blobs") for f in files(root, folder)}


def system_with_tasks(uri, tasks=TASKS):
    manifest = root_manifest()
    for task in tasks:
        add_task_model(manifest, task, f"{task}-m0", own_slots=("encoder_block_2", "head"))
    data = {k: v for k, v in manifest.data.items() if k not in ("format", "version")}
    data["settings"] = dict(population.DEFAULT_SETTINGS)
    store = SystemStore(uri)
    store.create(data)
    return store


def improve(task, model_id, score=0.9):
    """The commit stage's kind of change: a new model owning a head, made active."""
    def change(manifest):
        add_task_model(manifest, task, model_id, slots_from=manifest.tasks[task]["active"],
                       own_slots=("head",), score=score)
        manifest.tasks[task]["population"] = [model_id]
        population.collect_garbage(manifest, task)
        return manifest
    return change


def test_a_task_commit_writes_its_shard_one_leaf_one_inner_node_and_the_version(tmp_path):
    root = str(tmp_path)
    store = system_with_tasks(root)
    before = every_file(root)
    store.commit(improve("task3", "task3-m1"), "improve task3", task="task3")
    new = every_file(root) - before
    assert len([f for f in new if f.startswith("shards/")]) == 1
    assert len([f for f in new if f.startswith("index/")]) == 2  # A leaf, an inner node.
    assert [f for f in new if f.startswith("versions/")] == [version_key(2)]
    assert len(new) == 4
    shard = next(f for f in new if f.startswith("shards/"))
    doc = json.loads((tmp_path / shard).read_bytes())
    assert doc["owner"] == "task3" and set(doc["models"]) == {"task3-m1"}
    assert set(doc["components"]) == {"task3-m0:encoder_block_2", "task3-m1:head"}
    head = store.load()
    assert "task3-m0" not in head.models and "task3-m0:head" not in head.components

    before = every_file(root)  # A settings change: only the root shard is new.
    store.commit(lambda m: m.data["settings"].update(max_population=3) or m, "settings",
                 task="task3")
    new = every_file(root) - before
    assert {f.split("/")[0] for f in new} == {"shards", "versions"} and len(new) == 2
    assert store.load().data["settings"]["max_population"] == 3

    before = every_file(root)  # Nothing changed: only the version object.
    store.commit(lambda m: m, "touch", task="task5")
    assert every_file(root) - before == {version_key(4)}


def test_whole_system_commits_also_write_only_changed_shards(tmp_path):
    root = str(tmp_path)
    store = system_with_tasks(root)
    before = every_file(root)
    store.commit(improve("task7", "task7-m1"), "improve task7")  # task=None: any change.
    new = every_file(root) - before
    assert len([f for f in new if f.startswith("shards/")]) == 1 and len(new) == 4


def test_old_versions_load_identically_after_later_commits(tmp_path):
    root = str(tmp_path)
    store = system_with_tasks(root)
    rng = random.Random(0)
    seen = {1: store.load(1).to_bytes()}
    for index in range(30):
        task = rng.choice(TASKS + ["new-a", "new-b"])

        def change(manifest, task=task, index=index):
            if task not in manifest.tasks:
                add_task_model(manifest, task, f"{task}-n{index}", own_slots=("head",))
                return manifest
            return improve(task, f"{task}-n{index}", score=rng.random())(manifest)

        manifest = store.commit(change, f"{index}", task=task)
        seen[manifest.version] = manifest.to_bytes()
        assert store.load(manifest.version - 1).to_bytes() == seen[manifest.version - 1]
    for warm in (True, False):  # From this process's cache, then from storage only.
        if not warm:
            clear_cache()
        for version in reversed(store.versions()):
            assert store.load(version).to_bytes() == seen[version], version
    other = SystemStore(root)
    assert other.load().data["parent_version"] == other.head_version() - 1


def test_a_commit_does_not_change_the_version_it_started_from(tmp_path):
    store = system_with_tasks(str(tmp_path))
    before = store.load().to_bytes()

    def change(manifest):
        manifest.tasks["task1"]["population"].append("task1-m0")  # Private copies.
        manifest.models["task1-m0"]["metrics"]["score"] = 0.99
        manifest.data["settings"]["scale_factor"] = 0.5
        del manifest.models["task2-m0"]  # Another task's entry: replaced, not mutated.
        return manifest

    store.commit(change, "edit", task="task1")
    assert store.load(1).to_bytes() == before
    head = store.load()
    assert head.models["task1-m0"]["metrics"]["score"] == 0.99
    assert "task2-m0" not in head.models and head.data["settings"]["scale_factor"] == 0.5
    clear_cache()
    assert store.load().to_bytes() == head.to_bytes()


def test_a_corrupted_shard_is_named_with_the_fix_and_other_versions_still_load(tmp_path):
    root = str(tmp_path)
    store = system_with_tasks(root)
    before = files(root, "shards")
    store.commit(improve("task4", "task4-m1"), "improve", task="task4")
    (shard,) = files(root, "shards") - before
    data = bytearray((tmp_path / shard).read_bytes())
    data[10] ^= 0x01
    (tmp_path / shard).write_bytes(bytes(data))
    clear_cache()
    with pytest.raises(CorruptManifestError) as error:
        SystemStore(root).load()
    message = str(error.value)
    assert shard in message and "task 'task4'" in message and "SHA-256" in message
    assert "Fix:" in message and "backup" in message
    assert SystemStore(root).load(1).tasks["task4"]["active"] == "task4-m0"
    with pytest.raises(CorruptManifestError):  # Nothing is committed on top of it.
        store.commit(improve("task5", "task5-m1"), "x", task="task5")
    assert SystemStore(root).head_version() == 2

    os.remove(tmp_path / shard)
    clear_cache()
    with pytest.raises(CorruptManifestError, match="is missing") as error:
        SystemStore(root).load(2)
    assert shard in str(error.value)


def test_a_valid_piece_in_the_wrong_place_is_reported(tmp_path):
    root = str(tmp_path)
    store = system_with_tasks(root)
    state = load_state(store.storage, 1, version_key(1),
                       (tmp_path / version_key(1)).read_bytes())
    # Version 2 claims task0's leaf entry points at task1's shard (valid bytes, wrong owner).
    leaf_doc = {"shards": {"task0": state.shard_of["task1"]}}
    i, j = place("task0")
    raw = encode_piece(leaf_doc)
    store.storage.write_once(node_key(sha256(raw)), raw)
    inner = {"nodes": [None] * 16}
    inner["nodes"][j] = sha256(raw)
    raw_inner = encode_piece(inner)
    store.storage.write_once(node_key(sha256(raw_inner)), raw_inner)
    top = [None] * 16
    top[i] = sha256(raw_inner)
    version = dict(json.loads((tmp_path / version_key(1)).read_text()), version=2,
                   parent_version=1, index=top)
    (tmp_path / version_key(2)).write_text(json.dumps(version))
    clear_cache()
    with pytest.raises(CorruptManifestError, match="shard of 'task1', not of 'task0'"):
        SystemStore(root).load(2)


def test_a_format_1_manifest_is_a_clear_error(tmp_path):
    root = str(tmp_path)
    store = system_with_tasks(root)
    old = dict(root_manifest().data, format="munet.manifest/1", version=2, parent_version=1)
    (tmp_path / version_key(2)).write_text(json.dumps(old))
    with pytest.raises(CorruptManifestError) as error:
        store.load()
    message = str(error.value)
    assert "munet.manifest/1" in message and FORMAT in message
    assert "versions/00000002.json" in message and "Fix:" in message and "munet init" in message


def test_concurrent_task_committers_lose_nothing(tmp_path):
    uri = str(tmp_path)
    system_with_tasks(uri, tasks=["shared"])
    writers = [_committer(uri, f"w{i}", 12, "task") for i in range(3)]
    for process in writers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    clear_cache()
    store = SystemStore(uri)
    manifest = store.load()
    assert manifest.version == 1 + 3 * 12
    for i in range(3):
        record = manifest.tasks[f"w{i}"]
        assert record["entries"] == [f"w{i}-{j}" for j in range(12)]
        assert record["active"] == f"w{i}-11"
        assert manifest.owned_models(f"w{i}") == [f"w{i}-11"]  # Older ones collected.
        assert manifest.owned_components(f"w{i}") == [f"w{i}-11:head"]
    assert manifest.tasks["shared"]["active"] == "shared-m0"
    for version in store.versions():
        assert store.load(version).data["parent_version"] == (version - 1 or None)


def test_concurrent_task_commits_on_fsspec_lose_nothing():
    uri = "memory://munet-shard-cas-test"
    system_with_tasks(uri, tasks=["a", "b"])
    errors = []

    def writer(task):
        try:
            store = SystemStore(uri)
            for index in range(8):
                store.commit(improve(task, f"{task}-x{index}", score=0.5 + index / 100),
                             f"{task} {index}", task=task)
        except Exception as error:  # Reported below: the assertion names it.
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    clear_cache()
    manifest = SystemStore(uri).load()
    assert manifest.version == 17
    assert manifest.tasks["a"]["active"] == "a-x7" and manifest.tasks["b"]["active"] == "b-x7"
    assert sorted(manifest.models) == ["a-x7", "b-x7", "root"]


def test_task_garbage_collection_matches_the_whole_system_scan(tmp_path):
    """Restricted to the committing task, and never drops what another task uses."""
    store = system_with_tasks(str(tmp_path), tasks=["a", "b"])

    def setup(manifest):
        # b's model builds on a's block; then a moves on, so a's old model is dropped
        # while its block must stay (b uses it), its head must go.
        add_task_model(manifest, "b", "b-m1", slots_from="a-m0", own_slots=("head",))
        manifest.tasks["b"]["population"] = ["b-m1"]
        population.collect_garbage(manifest, "b")
        return manifest

    store.commit(setup, "b builds on a", task="b")
    head = store.load()
    assert "b-m0" not in head.models and "b-m0:head" not in head.components
    assert head.model("b-m1")["slots"]["encoder_block_2"] == "a-m0:encoder_block_2"

    def move_on(manifest, task=None):
        add_task_model(manifest, "a", "a-m1", own_slots=("encoder_block_2", "head"))
        manifest.tasks["a"]["population"] = ["a-m1"]
        population.collect_garbage(manifest, task)
        return manifest

    manifest = store.commit(lambda m: move_on(m, "a"), "a moves on", task="a")
    expected = move_on(Manifest(store.load(2).copy().data))  # The whole-system scan.
    assert sorted(manifest.models) == sorted(expected.models)
    assert sorted(manifest.components) == sorted(expected.components)
    assert "a-m0" not in manifest.models and "a-m0:head" not in manifest.components
    assert "a-m0:encoder_block_2" in manifest.components  # b's model still uses it.
    clear_cache()
    assert sorted(SystemStore(str(tmp_path)).load().components) == sorted(manifest.components)


def test_a_component_can_move_back_from_another_version(tmp_path):
    """The commit stage restores a dropped component of another task from an older
    version: it lands in its creator's shard."""
    store = system_with_tasks(str(tmp_path), tasks=["a", "b"])
    store.commit(improve("a", "a-m1"), "a", task="a")  # Drops a-m0 and its components.
    old = store.load(1)

    def bring_back(manifest):
        for cid in ("a-m0:encoder_block_2", "a-m0:head"):
            manifest.components[cid] = old.components[cid]
        return manifest

    manifest = store.commit(bring_back, "b restores", task="b")
    assert "a-m0:head" in manifest.owned_components("a")
    clear_cache()
    again = SystemStore(str(tmp_path)).load()
    assert again.to_bytes() == manifest.to_bytes()
    assert "a-m0:head" in again.components
