"""Tracking to munet's default SQLite store (MUNET_HOME), not to a server or a URI."""

import os

import pytest

from munet.model.root import RootConfig
from munet.stages import chain
from munet.stages.generate import Budget
from munet.system import init_system

pytestmark = pytest.mark.slow


def test_a_commit_registers_its_model_in_munet_home_and_writes_nothing_else(
        tmp_path, monkeypatch, tfds_dir):
    from mlflow import MlflowClient

    home, elsewhere = tmp_path / "home", tmp_path / "working_dir"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MUNET_HOME", str(home))
    monkeypatch.chdir(elsewhere)
    uri = str(tmp_path / "system")
    init_system(uri, RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64))
    summary = chain.add_task(uri, "digits", "digits", data_dir=tfds_dir,
                             budget=Budget(1, 5, 1, 32))[0]
    assert summary["tracking"]["ok"], summary["tracking"]
    # MLflow's registry once resolved a models:/ source through its process-wide
    # default store, creating ./mlflow.db in whatever the working directory was.
    assert os.listdir(elsewhere) == []
    store = f"sqlite:///{home}/mlflow.db"
    client = MlflowClient(store, registry_uri=store)
    [version] = client.search_model_versions("name = 'munet.digits'")
    assert version.source.startswith(f"file://{home}/mlartifacts/"), version.source
