"""`munet ui` serves the MLflow UI on 127.0.0.1 and stops cleanly."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from munet.tracking import ui

pytestmark = pytest.mark.slow


def _answers(url):
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _processes_mentioning(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_munet_ui_serves_the_sqlite_store_and_stops_on_sigterm(tmp_path):
    port = ui.free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/mlflow.db")
    process = subprocess.Popen([sys.executable, "-m", "munet", "ui", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, start_new_session=True)
    line = process.stdout.readline()
    url = f"http://127.0.0.1:{port}"
    assert f"at {url}" in line, line
    assert _answers(url)
    assert _processes_mentioning(str(tmp_path))  # The check below can see the server.
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert "stopped" in process.stdout.read()
    time.sleep(1)
    assert not _answers(url)
    assert _processes_mentioning(str(tmp_path)) == []  # No server worker left behind.


def test_a_tracking_server_url_is_printed_not_served():
    env = dict(os.environ, MLFLOW_TRACKING_URI="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-m", "munet", "ui"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0 and "open http://127.0.0.1:9" in done.stdout
