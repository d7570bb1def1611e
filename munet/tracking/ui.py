"""Starting and stopping an MLflow server (the UI plus the REST API) on 127.0.0.1.

`munet ui` serves the configured tracking store: a database URI (the SQLite file by
default) gets its own server; a tracking server URL is already a UI and is printed.
Tests start real servers through the same functions.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Server:
    """A running `mlflow server` process group."""

    def __init__(self, process, url, log_path):
        self.process = process
        self.url = url
        self.log_path = log_path

    def running(self):
        return self.process.poll() is None

    def stop(self, timeout=20):
        """Stops the server and every process it started; returns its exit code."""
        if self.running():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass
        try:  # Workers left behind by a killed main process.
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.process.returncode

    def kill(self):
        """Kills the server abruptly (SIGKILL to the whole group), as a crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(20)


def start(backend_uri, port=None, artifacts_destination=None, log_path=None, timeout=90):
    """Starts `mlflow server` on 127.0.0.1 and waits until it answers /health."""
    port = port or free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
               "--host", HOST, "--port", str(port), "--workers", "1"]
    if artifacts_destination:
        command += ["--artifacts-destination", artifacts_destination]
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    log_path = log_path or os.devnull
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(process, f"http://{HOST}:{port}", log_path)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not server.running():
            raise RuntimeError(
                f"mlflow server exited with code {process.returncode} before answering "
                f"(command: {' '.join(command)}; log: {log_path}). Fix: check that the "
                f"backend store {backend_uri!r} is reachable and port {port} is free."
            )
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise TimeoutError(f"mlflow server did not answer at {server.url} within {timeout} s "
                       f"(log: {log_path}).")


def serve(tracking_uri, port=5000, artifacts_destination=None):
    """For `munet ui`: serves until Ctrl-C or SIGTERM, then stops cleanly."""
    from munet.tracking import settings

    if settings.is_server(tracking_uri):
        print(f"The tracking store is a server: open {tracking_uri} in a browser.")
        return 0
    server = start(tracking_uri, port, artifacts_destination)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # Before the URL is printed: whoever reads it may send SIGTERM at once.
    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        print(f"MLflow UI for {tracking_uri} at {server.url} (Ctrl-C stops it).", flush=True)
        while server.running():
            time.sleep(0.5)
        print(f"mlflow server exited with code {server.process.returncode}.")
        return 1
    except KeyboardInterrupt:
        server.stop()
        print("MLflow UI stopped.")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
