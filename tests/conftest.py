"""Shared fixtures. Real data is prepared once per test session in a temp TFDS dir."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory):
    """A session-wide TFDS data dir; datasets are prepared into it on first use."""
    path = tmp_path_factory.mktemp("tensorflow_datasets")
    os.environ["MUNET_TFDS_DATA_DIR"] = str(path)
    return str(path)


@pytest.fixture(scope="session")
def prepared(tfds_dir):
    """prepared(name) -> spec of an offline dataset, prepared once per session."""
    from munet.data import catalog

    cache = {}

    def prepare(name):
        if name not in cache:
            cache[name] = catalog.prepare(name, tfds_dir)
        return cache[name]

    return prepare
