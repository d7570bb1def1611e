"""Shared fixtures. Real data is prepared once per test session in a temp TFDS dir."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAGS = os.path.join(REPO, "dags")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Airflow reads its configuration when first imported: point it at a private home
# (SQLite DB, this repo's dags/) before any test module imports it.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="munet-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = DAGS
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("MUNET_EXECUTION_MODE", None)
# Every commit is mirrored into MLflow: into a private SQLite store for the session.
_MLFLOW_HOME = tempfile.mkdtemp(prefix="munet-mlflow-")
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_MLFLOW_HOME}/mlflow.db"
os.environ.pop("MUNET_MLFLOW_ARTIFACTS", None)
os.environ.pop("MUNET_TRACKING", None)
sys.path.insert(0, DAGS)  # As Airflow does for the DAG files' own imports.
# Each test process (and each xdist worker) made these two homes: remove them when it
# exits, so test runs leave nothing behind in the temp folder.
for _home in (os.environ["AIRFLOW_HOME"], _MLFLOW_HOME):
    atexit.register(shutil.rmtree, _home, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """Slow modules first and the container tests last (stable within each group).

    `make test` runs two workers, each taking whole modules in this order: the long
    modules start at once, and the container image, whose build starts in the
    background after collection (tests/containers/conftest.py), is ready by the end.
    """
    containers = os.path.join(REPO, "tests", "containers") + os.sep
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (str(item.path).startswith(containers),
                                 item.path not in slow_modules))


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata DB (SQLite) for DAG runs."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   capture_output=True, env=dict(os.environ))
    return os.environ["AIRFLOW_HOME"]


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
