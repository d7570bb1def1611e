"""A task ingested from a TFDS data dir on gs://, against the local GCS emulator.

TFDS reads gs:// through TensorFlow's own GCS filesystem (etils.epath picks
tf.io.gfile when TensorFlow is installed, and tf.data reads the TFRecords), whose
endpoints are compiled in and which has no emulator setting. The reading process
therefore gets only the standard HTTPS_PROXY and CURL_CA_BUNDLE variables (plus a fixed
test token): its requests go to a local proxy that terminates TLS and forwards them,
unchanged, to the emulator (tests/gcs_emulator.py). munet itself is configured as in
production, by MUNET_TFDS_DATA_DIR=gs://bucket/prefix alone.
"""

import json
import os
import subprocess
import sys

import numpy as np

from munet.data import pipeline
from tests.data import gcs_reader
from tests.gcs_emulator import (BUCKET, RecordingProxy, anonymous_gcsfs, start_emulator,
                                tensorflow_gcs_env, tls_certificates)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _upload(fs, local_dir, remote_dir):
    for folder, _, files in os.walk(local_dir):
        for name in files:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, local_dir).replace(os.sep, "/")
            with open(path, "rb") as f:
                fs.pipe_file(f"{remote_dir}/{relative}", f.read())


def test_a_task_is_ingested_by_tfds_name_from_a_gs_data_dir(prepared, tfds_dir, tmp_path):
    local = prepared("digits")  # Prepared locally, then copied to the bucket.
    certificates = tls_certificates(str(tmp_path))
    (tmp_path / "gcloud").mkdir()
    with start_emulator() as endpoint, RecordingProxy(endpoint, tls=certificates) as proxy:
        _upload(anonymous_gcsfs(endpoint), os.path.join(tfds_dir, "digits"),
                f"{BUCKET}/tfds/digits")
        env = tensorflow_gcs_env(proxy.url, certificates["ca"], str(tmp_path / "gcloud"))
        env["MUNET_TFDS_DATA_DIR"] = f"gs://{BUCKET}/tfds"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
        output = tmp_path / "read.npz"
        store = str(tmp_path / "system")
        # A TFDS name (with its version): read from the data dir's files, no builder code.
        result = subprocess.run(
            [sys.executable, gcs_reader.__file__, store, "digits_on_gs", "digits:1.0.0",
             str(output)], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]
        requests = list(proxy.requests)

    read = np.load(output)
    spec = json.loads(str(read["spec"]))
    assert spec["data_dir"] == f"gs://{BUCKET}/tfds" and spec["dataset"] == "digits:1.0.0"
    same = ("tfds_name", "tfds_version", "num_classes", "image_shape", "available_splits")
    assert {k: spec[k] for k in same} == {k: local[k] for k in same}
    assert spec["splits"] == {"train": "train[:90%]", "validation": "train[90%:]",
                              "test": "test"}
    # The examples came from the bucket, through TensorFlow's GCS filesystem.
    read_objects = {r.route for r in requests if r.tunnel_host == "storage.googleapis.com"}
    assert f"/{BUCKET}/tfds/digits/1.0.0/digits-test.tfrecord-00000-of-00001" in read_objects
    assert not any(r.tunnel_host is None for r in requests)

    images, labels = zip(*((i.numpy(), l.numpy()) for i, l in pipeline.load_split(
        local, "test")))
    assert np.array_equal(read["images"], np.stack(images))
    assert np.array_equal(read["labels"], np.stack(labels))
    batch = next(iter(pipeline.evaluation_input(local, "train[90%:]", gcs_reader.HPARAMS, 64)))
    assert np.array_equal(read["batch_images"], batch[0].numpy())
    assert np.array_equal(read["batch_labels"], batch[1].numpy())
