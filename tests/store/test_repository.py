import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from munet.errors import CorruptManifestError, StoreExistsError, StoreNotFoundError
from munet.store.manifest import FORMAT
from munet.store.repository import SystemStore, version_key

COMMITTER = os.path.join(os.path.dirname(__file__), "committer.py")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def empty_system(uri):
    store = SystemStore(uri)
    store.create({"root": {}, "components": {}, "models": {}, "tasks": {}})
    return store


def add_entry(key):
    def change(manifest):
        manifest.data.setdefault("entries", {})[key] = True
        return manifest
    return change


def test_commits_make_a_readable_history(tmp_path):
    store = empty_system(str(tmp_path))
    store.commit(add_entry("a"), "first")
    store.commit(add_entry("b"), "second")
    assert store.head_version() == 3
    assert store.load(2).data["entries"] == {"a": True}
    assert store.load().data["entries"] == {"a": True, "b": True}
    assert store.load(3).data["parent_version"] == 2
    assert store.commit(lambda manifest: None, "nothing").version == 3  # No-op commit.


def test_init_twice_and_missing_store_are_clear_errors(tmp_path):
    empty_system(str(tmp_path / "s"))
    with pytest.raises(StoreExistsError, match="already exists"):
        empty_system(str(tmp_path / "s"))
    with pytest.raises(StoreNotFoundError, match="munet --system .* init"):
        SystemStore(str(tmp_path / "nothing")).load()


def test_stale_or_damaged_head_pointer_still_finds_the_latest(tmp_path):
    store = empty_system(str(tmp_path))
    store.commit(add_entry("a"), "a")
    (tmp_path / "HEAD").write_text("1\n")  # As if the writer died before moving HEAD.
    assert store.head_version() == 2
    (tmp_path / "HEAD").write_text("garbage")
    assert store.load().version == 2
    (tmp_path / "HEAD").write_text("99\n")
    assert store.head_version() == 2


@pytest.mark.parametrize("content,expected", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"format": FORMAT, "version": 2}).encode(), "malformed"),
    (json.dumps({"format": "other/9", "version": 2, "root": {}, "components": {},
                 "models": {}, "tasks": {}}).encode(), "format"),
])
def test_malformed_manifest_is_reported_and_nothing_changes(tmp_path, content, expected):
    store = empty_system(str(tmp_path))
    (tmp_path / version_key(2)).write_bytes(content)
    before = sorted(p.name for p in (tmp_path / "versions").iterdir())
    with pytest.raises(CorruptManifestError, match=expected) as error:
        store.load()
    assert "versions/00000002.json" in str(error.value) and "Fix:" in str(error.value)
    with pytest.raises(CorruptManifestError):
        store.commit(add_entry("x"), "x")
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == before
    assert store.load(1).version == 1  # Earlier versions stay readable.


def _committer(uri, writer, count, *mode):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.Popen([sys.executable, COMMITTER, uri, writer, str(count), *mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_committers_lose_nothing(tmp_path):
    uri = str(tmp_path)
    empty_system(uri)
    writers = [_committer(uri, f"w{i}", 15) for i in range(3)]
    for process in writers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    store = SystemStore(uri)
    manifest = store.load()
    assert manifest.version == 1 + 3 * 15
    assert set(manifest.data["entries"]) == {f"w{i}-{j}" for i in range(3) for j in range(15)}
    for version in store.versions():  # Every version is whole and chained to its parent.
        assert store.load(version).data.get("parent_version") == (version - 1 or None)


def test_sigkill_at_random_moments_never_breaks_the_store(tmp_path):
    uri = str(tmp_path)
    empty_system(uri)
    rng = random.Random(1)
    committed = 0
    for _ in range(25):
        process = _committer(uri, f"k{_}", 0)
        # Wait for its first commit (start-up time varies with the machine's load),
        # then kill it at a random moment of the commits that follow.
        assert process.stdout.readline().strip() == "1", process.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        store = SystemStore(uri)
        manifest = store.load()  # Must load: the last commit, whole.
        assert manifest.version == store.head_version() >= 1 + committed
        entries = manifest.data.get("entries", {})
        for key, digest in entries.items():  # Every referenced blob is whole.
            assert store.blobs.get(digest)[0].shape == (64, 64), key
        committed = manifest.version - 1
    assert committed >= 25  # Every writer committed at least once before its kill.


def test_fsspec_stores_use_exclusive_creates_so_concurrent_commits_lose_nothing():
    """The code path of gs:// stores (fsspec pipe_file mode='create'), on memory://."""
    import threading

    uri = "memory://munet-cas-test"
    empty_system(uri)
    errors = []

    def writer(name):
        try:
            store = SystemStore(uri)
            for index in range(10):
                store.commit(add_entry(f"{name}-{index}"), f"{name} {index}")
        except Exception as error:  # Reported below: the assertion names it.
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    manifest = SystemStore(uri).load()
    assert manifest.version == 41
    assert len(manifest.data["entries"]) == 40
    assert not SystemStore(uri).storage.create_exclusive("versions/00000002.json", b"{}")
