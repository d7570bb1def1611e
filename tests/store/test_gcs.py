"""The same store on gs:// through gcsfs, against a local GCS emulator on 127.0.0.1."""

import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from munet.store.repository import SystemStore


@pytest.fixture(scope="module")
def gcs_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
         "--port", str(port), "--default-bucket", "munet-test", "--in-memory", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait()


def test_a_system_on_gs_commits_and_reads_back(gcs_endpoint, monkeypatch):
    monkeypatch.setenv("MUNET_GCS_ENDPOINT", gcs_endpoint)  # Also sets token='anon'.
    store = SystemStore("gs://munet-test/systems/one")
    assert not store.exists()
    store.create({"root": {}, "components": {}, "models": {}, "tasks": {}})
    digest = store.blobs.put([np.arange(12, dtype=np.float32)])

    def change(manifest):
        manifest.data["entries"] = {"a": digest}
        return manifest

    store.commit(change, "first")
    again = SystemStore("gs://munet-test/systems/one")  # A fresh reader.
    assert again.head_version() == 2
    assert again.load().data["entries"] == {"a": digest}
    assert again.blobs.get(digest)[0].tolist() == list(range(12))
    assert again.load(1).version == 1
