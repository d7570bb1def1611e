"""Podman for the container tests, through scripts/podman.sh (the same commands the
README gives for building the image and running a stage by hand)."""

import os
import re
import shutil
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "podman.sh")
# docker/Dockerfile's `venv` target: the image minus the Python packages; the host's
# virtualenv is bind-mounted read-only (pip-installing TensorFlow into the image on
# every CI run would take minutes).
IMAGE = "localhost/munet:venv"


def missing_requirements():
    """Why the container tests cannot run here (None if they can)."""
    if os.geteuid() != 0:
        return "needs root: the container tests use rootful Podman"
    missing = [tool for tool in ("podman", "runc", "mmdebstrap") if not shutil.which(tool)]
    if missing:
        return (f"{', '.join(missing)} not installed (Debian: scripts/podman.sh install, "
                "which scripts/setup.sh runs)")
    return None


def script(*args, log=None, check=True, timeout=900):
    """Runs scripts/podman.sh; returns its stdout. With `log`, output goes to that file."""
    if log:
        with open(log, "a") as handle:
            done = subprocess.run(["bash", SCRIPT, *args], stdout=handle,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=timeout)
        if check and done.returncode:
            with open(log) as handle:
                tail = handle.read()[-3000:]
            raise AssertionError(f"scripts/podman.sh {' '.join(args)} failed:\n{tail}")
        return ""
    done = subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    if check and done.returncode:
        raise AssertionError(f"scripts/podman.sh {' '.join(args)} failed "
                             f"({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout


def podman(*args, **kwargs):
    return script("podman", *args, **kwargs)


def venv_mounts():
    """(host, container, "ro") for the venv image: the venv's interpreter and the repo."""
    words = script("mounts").split()
    return [tuple(words[i + 1].split(":")) for i in range(0, len(words), 2)
            if words[i] == "-v"]


def volume_options(mounts):
    options = []
    for mount in mounts:
        options += ["-v", ":".join(mount)]
    return options


def containers():
    """Every container in munet's Podman storage (running or not)."""
    return podman("ps", "-a", "--format", "{{.ID}} {{.Image}} {{.Command}}").split("\n")[:-1]


def storage_processes():
    """Processes started from munet's Podman storage (podman, conmon, runc, ...)."""
    storage = os.path.join(REPO, "var", "podman")
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(pid) != os.getpid() and ("podman" in command or "conmon" in command) and (
                storage in command or "munet-podman" in command):
            found.append(f"{pid} {command[:200]}")
    return found


def firewall():
    """The host's packet filter rules (iptables, legacy iptables, nftables), counters
    and timestamps left out: what a bridge network would add to."""
    rules = {}
    for command in (["iptables-save"], ["iptables-legacy-save"], ["ip6tables-save"],
                    ["nft", "list", "ruleset"]):
        if shutil.which(command[0]):
            done = subprocess.run(command, capture_output=True, text=True)
            text = re.sub(r"\[\d+:\d+\]", "", done.stdout)
            rules[command[0]] = [line for line in text.splitlines()
                                 if line.strip() and not line.startswith("#")]
    return rules


class Service:
    """`podman system service` on a unix socket (never a TCP port), in the background."""

    def __init__(self, socket_path, log_path):
        self.socket_path = socket_path
        self.url = f"unix://{socket_path}"
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(["bash", SCRIPT, "service", socket_path],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while not self.ready():
            if self.process.poll() is not None or time.time() > deadline:
                self.stop()
                with open(log_path) as handle:
                    raise AssertionError(f"podman system service did not start:\n"
                                         f"{handle.read()[-2000:]}")
            time.sleep(0.2)

    def ready(self):
        import docker

        if not os.path.exists(self.socket_path):
            return False
        try:
            client = docker.APIClient(base_url=self.url, timeout=5)
            client.ping()
            client.close()
            return True
        except Exception:
            return False

    def stop(self):
        """SIGTERM (podman's clean shutdown), then SIGKILL if it lingers; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        if os.path.exists(self.socket_path):
            os.remove(self.socket_path)
