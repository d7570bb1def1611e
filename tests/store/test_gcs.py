"""The same store on gs:// through gcsfs, against a local GCS emulator on 127.0.0.1.

Exclusive creation (the commit's compare-and-swap) relies on GCS's `ifGenerationMatch=0`
precondition. gcp-storage-emulator does not implement preconditions (it never answers
412: a second `mode="create"` write of an object overwrites it), so two writers there
can both "create" the same object and a concurrent-writers test on it would prove
nothing. What is ours is tested instead, on the real HTTP traffic: a recording proxy
between gcsfs and the emulator shows that `create_exclusive` sends the precondition
(and plain writes do not), and that a 412 Precondition Failed answer (what GCS sends
when the object exists; the proxy gives it to one chosen request, since the emulator
never does) makes `create_exclusive` return False and a commit retry on the new head,
never fail.
"""

import json

import numpy as np
import pytest

from munet.store.repository import SystemStore, version_key
from munet.store.storage import FsspecStorage
from tests.gcs_emulator import BUCKET, RecordingProxy, anonymous_gcsfs, start_emulator

# The body GCS sends with 412 when an `ifGenerationMatch` precondition fails.
PRECONDITION_FAILED = json.dumps({"error": {
    "code": 412, "message": "At least one of the pre-conditions you specified did not hold.",
    "errors": [{"domain": "global", "reason": "conditionNotMet", "locationType": "header",
                "location": "If-Match",
                "message": "At least one of the pre-conditions you specified did not hold."}]}
}).encode()


@pytest.fixture(scope="module")
def gcs_endpoint():
    with start_emulator() as endpoint:
        yield endpoint


@pytest.fixture
def proxy(gcs_endpoint, monkeypatch):
    """A recording proxy before the emulator; munet's gcsfs talks to the proxy."""
    with RecordingProxy(gcs_endpoint) as recording:
        monkeypatch.setenv("MUNET_GCS_ENDPOINT", recording.url)  # Also sets token='anon'.
        yield recording


def _uploads(proxy, name):
    """The upload requests gcsfs sent for object `name` (its multipart POSTs)."""
    return [r for r in proxy.requests
            if r.method == "POST" and r.route == f"/upload/storage/v1/b/{BUCKET}/o"
            and r.body_name == name]


def test_a_system_on_gs_commits_and_reads_back(gcs_endpoint, monkeypatch):
    monkeypatch.setenv("MUNET_GCS_ENDPOINT", gcs_endpoint)  # Also sets token='anon'.
    store = SystemStore(f"gs://{BUCKET}/systems/one")
    assert not store.exists()
    store.create({"root": {}, "components": {}, "models": {}, "tasks": {}})
    digest = store.blobs.put([np.arange(12, dtype=np.float32)])

    def change(manifest):
        manifest.data["entries"] = {"a": digest}
        return manifest

    store.commit(change, "first")
    again = SystemStore(f"gs://{BUCKET}/systems/one")  # A fresh reader.
    assert again.head_version() == 2
    assert again.load().data["entries"] == {"a": digest}
    assert again.blobs.get(digest)[0].tolist() == list(range(12))
    assert again.load(1).version == 1


def test_exclusive_create_sends_the_generation_precondition(proxy):
    storage = FsspecStorage(f"gs://{BUCKET}/cas/sends")
    assert storage.create_exclusive("versions/1", b"one")
    storage.write_atomic("HEAD", b"1\n")
    created = _uploads(proxy, "cas/sends/versions/1")
    replaced = _uploads(proxy, "cas/sends/HEAD")
    assert len(created) == 1 and created[0].query.get("ifGenerationMatch") == "0"
    assert len(replaced) == 1 and "ifGenerationMatch" not in replaced[0].query
    assert storage.read_bytes("versions/1") == b"one"


def test_precondition_failed_means_another_writer_created_it(proxy):
    storage = FsspecStorage(f"gs://{BUCKET}/cas/lost")
    assert storage.create_exclusive("versions/1", b"first writer")
    # GCS answers the second writer's create with 412, as it does when the object exists.
    proxy.answer_next(lambda r: r.method == "POST" and r.body_name == "cas/lost/versions/1",
                      412, PRECONDITION_FAILED)
    assert storage.create_exclusive("versions/1", b"second writer") is False
    lost = _uploads(proxy, "cas/lost/versions/1")
    assert len(lost) == 2 and lost[1].query.get("ifGenerationMatch") == "0"
    assert storage.read_bytes("versions/1") == b"first writer"


def test_a_commit_that_loses_the_race_retries_on_the_new_head(gcs_endpoint, proxy,
                                                              monkeypatch):
    uri = f"gs://{BUCKET}/systems/race"
    monkeypatch.setenv("MUNET_GCS_ENDPOINT", gcs_endpoint)
    rival = SystemStore(uri)  # Talks to the emulator directly, not through the proxy.
    monkeypatch.setenv("MUNET_GCS_ENDPOINT", proxy.url)
    store = SystemStore(uri)
    store.create({"root": {}, "components": {}, "models": {}, "tasks": {}})

    def add(name):
        def change(manifest):
            manifest.data.setdefault("entries", {})[name] = "x"
            return manifest
        return change

    # Between our reading of the head (version 1) and our create of version 2, the
    # rival commits version 2; GCS then answers our create with 412.
    version_2 = f"systems/race/{version_key(2)}"
    proxy.answer_next(lambda r: r.method == "POST" and r.body_name == version_2,
                      412, PRECONDITION_FAILED,
                      before=lambda: rival.commit(add("rival"), "rival"))
    view = store.commit(add("ours"), "ours")
    assert view.version == 3
    assert [r.query.get("ifGenerationMatch") for r in _uploads(proxy, version_2)] == ["0"]
    assert len(_uploads(proxy, f"systems/race/{version_key(3)}")) == 1
    fresh = SystemStore(uri)
    assert fresh.load(2).data["entries"] == {"rival": "x"}  # The rival's commit is intact.
    assert fresh.load().data["entries"] == {"rival": "x", "ours": "x"}
