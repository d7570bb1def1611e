"""Fixtures of the container tests: the image, built once per session with Podman.

The container tests run last (tests/conftest.py orders them), and when any of them is
selected the image build starts in the background as soon as the tests are collected
(it is mostly waiting on Debian's archive), so that it overlaps with the rest of the
suite.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest

from tests.containers import podman

HERE = os.path.dirname(os.path.abspath(__file__))
_build = {}


def _needs_image(item):
    return str(item.path).startswith(HERE + os.sep) and "image" in item.fixturenames


def pytest_collection_finish(session):
    if any(_needs_image(item) for item in session.items) and not podman.missing_requirements():
        _start_build()


def _start_build():
    if not _build:
        _build["firewall_before"] = podman.firewall()  # Before any podman command.
        log = tempfile.NamedTemporaryFile(prefix="munet-podman-build-", suffix=".log",
                                          delete=False)
        _build.update(log=log.name, started=time.time(), process=subprocess.Popen(
            ["bash", podman.SCRIPT, "build", "venv"], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True))
        log.close()
    return _build


def pytest_sessionfinish(session, exitstatus):
    """An interrupted session does not leave the build running; otherwise the build
    is waited for (with two test workers, each starts one: the one that ran no
    container test still finishes its build, a cache hit once the other's is done)."""
    process = _build.get("process")
    if process is not None and process.poll() is None:
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
        else:
            process.wait()
    if process is not None and process.returncode == 0:
        os.remove(_build["log"])  # Kept only when the build failed.


def unavailable(reason):
    """Skips, except in CI (CI=true), where the container tests must run: fails."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Container tests cannot run: {reason}. CI must run them "
                    "(CI=true); scripts/setup.sh installs Podman.", pytrace=False)
    pytest.skip(f"Container tests skipped: {reason}")


@pytest.fixture(scope="session")
def image():
    """docker/Dockerfile's `venv` target built with Podman FROM a local Debian base
    (scripts/podman.sh build venv; the base and cached layers under ./var/podman).
    Returns facts about the build and the host's firewall rules before any container
    ran (a build uses the host's network: no bridge, no rules)."""
    reason = podman.missing_requirements()
    if reason:
        unavailable(reason)
    build = _start_build()
    facts = {"firewall_before": build["firewall_before"]}
    waited = time.time()
    code = build["process"].wait()
    with open(build["log"]) as handle:
        output = handle.read()
    assert code == 0, f"scripts/podman.sh build venv failed ({code}):\n{output[-3000:]}"
    facts["build_seconds"] = time.time() - build["started"]
    facts["waited_seconds"] = time.time() - waited
    facts["mounts"] = podman.venv_mounts()
    print(f"\nimage {podman.IMAGE}: built in {facts['build_seconds']:.1f} s, "
          f"waited {facts['waited_seconds']:.1f} s (log {build['log']})")
    yield facts
    if podman.containers():
        podman.podman("rm", "--force", "--all", check=False)
