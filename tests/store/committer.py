"""A writer process for the store tests: commits forever (or N times), one entry each.

usage: python committer.py URI WRITER COUNT   (COUNT 0 = until killed)
"""

import sys

import numpy as np

from munet.store.repository import SystemStore


def main(uri, writer, count):
    store = SystemStore(uri)
    index = 0
    while count == 0 or index < count:
        digest = store.blobs.put([np.full((64, 64), index, np.float32)])

        def change(manifest, index=index, digest=digest):
            entries = manifest.data.setdefault("entries", {})
            entries[f"{writer}-{index}"] = digest
            return manifest

        store.commit(change, f"{writer} {index}", author=writer)
        index += 1
        print(index, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
