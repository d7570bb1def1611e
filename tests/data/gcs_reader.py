"""Ingests a task in a fresh process whose TFDS data dir is configured by the
environment only (MUNET_TFDS_DATA_DIR=gs://...), then reads it through munet's input
pipeline. For tests/data/test_gcs_data_dir.py.

usage: python gcs_reader.py STORE_URI TASK DATASET OUTPUT.npz
"""

import json
import sys

import numpy as np

from munet.data import pipeline
from munet.stages.ingest import ingest_task
from munet.store.repository import SystemStore

HPARAMS = {"image_size": 8}


def main(store_uri, task, dataset, output):
    SystemStore(store_uri).create({"root": {}, "components": {}, "models": {}, "tasks": {}})
    spec = ingest_task(store_uri, task, dataset)  # data_dir: from the environment.
    images, labels = zip(*((i.numpy(), l.numpy()) for i, l in pipeline.load_split(
        spec, spec["splits"]["test"])))
    batch = next(iter(pipeline.evaluation_input(spec, spec["splits"]["validation"],
                                                HPARAMS, 64)))
    np.savez(output, spec=json.dumps(spec), images=np.stack(images), labels=np.stack(labels),
             batch_images=batch[0].numpy(), batch_labels=batch[1].numpy())


if __name__ == "__main__":
    main(*sys.argv[1:5])
