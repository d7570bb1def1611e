"""Where MLflow tracking goes, read from the environment (MLflow's own variables first).

- MLFLOW_TRACKING_URI: a database URI (sqlite:///..., postgresql://...) or a tracking
  server URL (http://...). Default: sqlite:///<MUNET_HOME or the working dir>/mlflow.db.
- MUNET_MLFLOW_EXPERIMENT: the experiment holding the system's runs (default "munet").
- MUNET_MLFLOW_ARTIFACTS: artifact root for a new experiment when tracking to a
  database directly (default: an `mlartifacts` folder next to a SQLite file; a server
  keeps its own). May be a gs:// URI.
- MUNET_TRACKING: "on" (default) or "off".
"""

import os

TRACKING_VALUES = ("on", "off")


def tracking_enabled():
    value = os.environ.get("MUNET_TRACKING", "on").strip().lower()
    if value not in TRACKING_VALUES:
        raise ValueError(
            f"MUNET_TRACKING must be one of {TRACKING_VALUES}; received {value!r}. Fix: "
            "unset it, or set MUNET_TRACKING=off to skip MLflow tracking."
        )
    return value == "on"


def tracking_uri():
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        return uri
    home = os.path.abspath(os.environ.get("MUNET_HOME") or os.getcwd())
    return f"sqlite:///{os.path.join(home, 'mlflow.db')}"


def experiment_name():
    return os.environ.get("MUNET_MLFLOW_EXPERIMENT", "munet")


def artifact_location(uri):
    """Artifact root for a new experiment (None: let the tracking server decide)."""
    configured = os.environ.get("MUNET_MLFLOW_ARTIFACTS", "").strip()
    if configured:
        return configured
    if uri.startswith("sqlite:///"):
        folder = os.path.dirname(uri[len("sqlite:///"):])
        return "file://" + os.path.join(os.path.abspath(folder), "mlartifacts")
    return None


def is_server(uri):
    return uri.startswith(("http://", "https://"))


def fail_fast():
    """An unreachable server fails a tracking call in seconds, not minutes, unless the
    user chose otherwise: the commit has landed already and a back-fill can follow."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
