"""What a process keeps between reads of a store: parsed pieces and parsed versions.

Both are bounded LRU caches shared by every store of the process, keyed by the
store's URI:
- `PIECES`: (store uri, digest) -> parsed shard or index node, put there once it was
  verified against its digest and its shape (see pieces.py), or written by a commit;
- `VERSIONS`: (store uri, SHA-256 of the version object) -> its State (see
  versions.py); a version is derived from the nearest one cached here
  (`nearest_version`), so reloading the head after a commit costs what changed.
"""

import threading
from collections import OrderedDict

MAX_CACHED_PIECES = 50_000
MAX_CACHED_VERSIONS = 8
MISSING = object()  # What `get` returns for a key that is not cached.


class _LRU:
    def __init__(self, size):
        self.size = size
        self.items = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key, MISSING)
            if value is not MISSING:
                self.items.move_to_end(key)
            return value

    def put(self, key, value):
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def snapshot(self):
        with self.lock:
            return list(self.items.items())

    def clear(self):
        with self.lock:
            self.items.clear()


PIECES = _LRU(MAX_CACHED_PIECES)  # (store uri, digest) -> parsed piece
VERSIONS = _LRU(MAX_CACHED_VERSIONS)  # (store uri, version object digest) -> State


def clear_cache():
    """Forgets every parsed piece and version (the next reads go to storage)."""
    PIECES.clear()
    VERSIONS.clear()


def nearest_version(uri, version):
    """The cached State of store `uri` whose version number is nearest `version`."""
    best = None
    for (store_uri, _), state in VERSIONS.snapshot():
        if store_uri == uri and (best is None or abs(state.version - version)
                                 < abs(best.version - version)):
            best = state
    return best
