"""The docker execution mode's settings (no container runs here)."""

import pytest

import munet_stages


def config(**values):
    return dict(munet_stages.settings(), **values)


def test_mounts_are_read_write_unless_marked_ro():
    mounts = munet_stages._docker_mounts(config(
        docker_mounts="/srv/system:/srv/system, /opt/venv:/opt/venv:ro,/data:/mnt/data:rw"))
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in mounts] == [
        ("/srv/system", "/srv/system", False), ("/opt/venv", "/opt/venv", True),
        ("/data", "/mnt/data", False)]
    assert all(m["Type"] == "bind" for m in mounts)


@pytest.mark.parametrize("entry", ["/srv/system", "/a:/b:rx", ":/b", "/a:/b:ro:x"])
def test_a_malformed_mount_is_a_clear_error(entry):
    with pytest.raises(ValueError, match="MUNET_DOCKER_MOUNTS"):
        munet_stages._docker_mounts(config(docker_mounts=entry))


def test_extra_environment_passes_values_on_or_sets_them(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////srv/mlflow/mlflow.db")
    monkeypatch.delenv("MUNET_MLFLOW_EXPERIMENT", raising=False)
    env = munet_stages._docker_environment(config(
        system_uri="/srv/system", data_dir="/srv/tfds",
        docker_env="MUNET_TRACKING=off,MLFLOW_TRACKING_URI,MUNET_MLFLOW_EXPERIMENT"))
    assert env == {"MUNET_SYSTEM_URI": "/srv/system", "MUNET_TFDS_DATA_DIR": "/srv/tfds",
                   "TF_CPP_MIN_LOG_LEVEL": "2", "MUNET_TRACKING": "off",
                   "MLFLOW_TRACKING_URI": "sqlite:////srv/mlflow/mlflow.db"}
