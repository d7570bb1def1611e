#!/usr/bin/env bash
# Podman for munet: build the component image (docker/Dockerfile) and run stages in
# containers on a machine with no Docker engine and no reachable container registry.
# Rootful Podman (run as root). Storage, configuration and the local base image live
# under ./var/podman (MUNET_PODMAN_DIR), so re-runs reuse them.
#
#   scripts/podman.sh install          apt-get install podman runc mmdebstrap (if missing)
#   scripts/podman.sh base             make the local base image $BASE_IMAGE (once): Debian
#                                      bookworm from the apt archive + Python 3.11 and pip,
#                                      standing in for python:3.11-slim-bookworm
#   scripts/podman.sh build [TARGET]   build docker/Dockerfile FROM the local base:
#                                      image (default): the production image, munet:latest,
#                                        with the Python packages pip-installed inside
#                                      venv: munet:venv, everything but the Python packages;
#                                        this machine's virtualenv is mounted read-only
#                                        at run time (see `mounts`). What the tests use.
#   scripts/podman.sh mounts           the -v options the venv image needs (the venv, its
#                                      interpreter and the repository, read-only)
#   scripts/podman.sh service SOCKET   Podman's Docker-compatible API on unix://SOCKET, in
#                                      the foreground until SIGTERM (never a TCP port)
#   scripts/podman.sh podman ARGS...   podman with this storage and configuration
#
# Containers get no network unless asked (netns "none"); builds use --network=host so
# apt and pip inside them reach the same registries as the host, with no bridge
# network and no firewall rules.
#
# Settings: MUNET_PODMAN_DIR (storage, default ./var/podman), MUNET_PODMAN_RUNROOT
# (running containers' state), MUNET_BASE_IMAGE (default localhost/munet-base:bookworm),
# MUNET_DEBIAN_MIRROR and MUNET_DEBIAN_SECURITY (the base image's apt sources), VENV
# (the virtualenv the venv image mounts, default .venv).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=${MUNET_PODMAN_DIR:-$REPO/var/podman}
VENV=${VENV:-.venv}
case "$VENV" in /*) ;; *) VENV=$REPO/$VENV ;; esac
BASE_IMAGE=${MUNET_BASE_IMAGE:-localhost/munet-base:bookworm}
DEBIAN_MIRROR=${MUNET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY=${MUNET_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
# Running containers' state: a short path (unix sockets live under it), one per $DIR.
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUNROOT=${MUNET_PODMAN_RUNROOT:-/tmp/munet-podman-$(printf %s "$DIR" | sha256sum | cut -c1-12)}

say() { echo "== $*" >&2; }

configure() {
  mkdir -p "$DIR/storage" "$DIR/tmp" "$RUNROOT"
  local nofile
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  # crun and podman's default ulimits/cgroups fail on this kind of VM: runc, cgroupfs,
  # explicit limits no higher than the hard limit podman itself runs under.
  cat > "$DIR/containers.conf.new" <<EOF
# Written by scripts/podman.sh.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
netns = "none"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$DIR/tmp"
EOF
  mv "$DIR/containers.conf.new" "$DIR/containers.conf"
  export CONTAINERS_CONF=$DIR/containers.conf
}

# Storage as flags: through CONTAINERS_STORAGE_CONF every run waited 20 s on conmon.
pm() { podman --root "$DIR/storage" --runroot "$RUNROOT" "$@"; }

need() {
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/podman.sh: needs root (rootful Podman)." >&2; exit 1
  fi
  local missing=
  for tool in "$@"; do command -v "$tool" > /dev/null || missing="$missing $tool"; done
  if [ -n "$missing" ]; then
    echo "scripts/podman.sh: missing:$missing. Fix: scripts/podman.sh install" >&2; exit 1
  fi
}

install() {
  local missing=
  for tool in podman runc mmdebstrap; do
    command -v "$tool" > /dev/null || missing="$missing $tool"
  done
  [ -z "$missing" ] && return 0
  say "Installing Debian packages podman runc mmdebstrap"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  local log=/tmp/munet-podman-apt.log
  apt_install() {
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
      podman runc mmdebstrap conmon containernetworking-plugins >> "$log" 2>&1
  }
  : > "$log"
  # apt's lists as they are when they know podman (scripts/setup.sh just updated them),
  # else after an update.
  if ! { apt-cache policy podman 2>/dev/null | grep -q "Candidate: [0-9]" && apt_install; }; then
    $SUDO apt-get update -q >> "$log" 2>&1 && apt_install || { tail -20 "$log"; exit 1; }
  fi
}

base() {
  need podman runc mmdebstrap
  configure
  pm image exists "$BASE_IMAGE" && return 0
  say "Making the base image $BASE_IMAGE with mmdebstrap (about 40 s, once)"
  local tar=$DIR/tmp/base.tar
  rm -f "$tar"
  # Minimal Debian with apt, and Python 3.11 with pip in a venv on PATH (what the
  # python:3.11-slim base gives production builds). mmdebstrap cleans apt's lists.
  mmdebstrap --variant=minbase --quiet --include=python3,python3-venv,ca-certificates \
    --customize-hook='chroot "$1" python3 -m venv /opt/python' \
    --customize-hook='chroot "$1" /opt/python/bin/pip --version > /dev/null' \
    bookworm "$tar" \
    "deb $DEBIAN_MIRROR bookworm main" "deb $DEBIAN_MIRROR bookworm-updates main" \
    "deb $DEBIAN_SECURITY bookworm-security main" > "$DIR/tmp/mmdebstrap.log" 2>&1 \
    || { tail -20 "$DIR/tmp/mmdebstrap.log"; exit 1; }
  pm import --quiet \
    --change "ENV PATH=/opt/python/bin:$DEFAULT_PATH" \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    "$tar" "$BASE_IMAGE" > /dev/null
  rm -f "$tar"
}

build() {
  local target=${1:-image}
  shift || true
  # One build at a time per storage (test workers may each ask for the image; the
  # later ones then find every layer cached).
  mkdir -p "$DIR"
  exec 9>"$DIR/build.lock"
  flock 9
  base
  case "$target" in
    image)
      say "Building munet:latest (docker/Dockerfile, pip install inside the image)"
      # pip inside the build trusts what the host's pip trusts (a TLS-inspecting proxy).
      local ca=${PIP_CERT:-$(pip3 config get global.cert 2>/dev/null || true)}
      ca=${ca:-/etc/ssl/certs/ca-certificates.crt}
      local trust=()
      [ -f "$ca" ] && trust=(-v "$ca:/run/munet-host-ca.crt:ro"
                             --build-arg CA_BUNDLE=/run/munet-host-ca.crt)
      pm build --network=host --target image --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        "${trust[@]}" \
        -f "$REPO/docker/Dockerfile" -t localhost/munet:latest "$@" "$REPO" ;;
    venv)
      if [ ! -x "$VENV/bin/python" ]; then
        echo "No virtualenv at $VENV: run scripts/setup.sh" >&2; exit 1
      fi
      say "Building munet:venv (docker/Dockerfile target venv; mounts $VENV at run time)"
      pm build --network=host --target venv --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --build-arg "VENV=$VENV" -f "$REPO/docker/Dockerfile" -t localhost/munet:venv \
        "$@" "$REPO" ;;
    *) echo "scripts/podman.sh build: unknown target $target (image or venv)" >&2; exit 1 ;;
  esac
}

mounts() {
  # The venv's interpreter (a pyenv or other prefix outside the venv), the venv, and the
  # repository (munet is installed in editable mode), all read-only at their host paths.
  local prefix venv_real
  prefix=$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix)')
  venv_real=$(cd "$VENV" && pwd -P)
  local paths=("$REPO")
  case "$prefix" in
    /usr|/usr/local) ;;  # A system Python: the image needs the same one, not a mount.
    *) paths+=("$prefix") ;;
  esac
  case "$venv_real/" in "$REPO"/*) ;; *) paths+=("$venv_real") ;; esac
  local path
  for path in "${paths[@]}"; do printf -- '-v %s:%s:ro ' "$path" "$path"; done
  echo
}

service() {
  local socket=${1:?usage: scripts/podman.sh service SOCKET}
  need podman runc
  configure
  exec podman --root "$DIR/storage" --runroot "$RUNROOT" \
    system service --time=0 "unix://$socket"
}

command=${1:-help}
shift || true
case "$command" in
  install) install ;;
  base) base ;;
  build) build "$@" ;;
  mounts) mounts ;;
  service) service "$@" ;;
  podman)
    need podman runc
    configure
    exec podman --root "$DIR/storage" --runroot "$RUNROOT" "$@" ;;
  help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) echo "scripts/podman.sh: unknown command $command (see scripts/podman.sh help)" >&2
     exit 1 ;;
esac
