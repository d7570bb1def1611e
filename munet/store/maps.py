"""Maps that let a version share its tables with the previous one.

A system at 1,000 tasks has thousands of models and components; copying those
tables on every commit would make a commit cost the system's size. Instead:

- `LayeredMap`: an immutable map made of a shared base dict (never changed once
  shared) and a small delta (key -> value, or GONE). `updated(changes)` returns a new
  map that copies the delta only; when the delta outgrows max(32, base / 16) entries
  it is folded into a new base (one full copy every ~N/16 changed keys, a small
  amortised cost per commit).
- `Overlay`: a mutable dict-like view over a LayeredMap that keeps its own changes
  locally (copy on write). A commit's `change` gets overlays for the manifest's
  tasks, models and components, and the keys it set or deleted (`touched`) say what
  changed.
"""

from collections.abc import Mapping, MutableMapping

GONE = object()  # In a delta: the key was deleted.
_ABSENT = object()


def copy_json(value):
    """A deep copy of JSON-like data (dicts, lists, scalars); faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    import copy

    return copy.deepcopy(value)


def _lookup(layer, base, key):
    """The value of `key` in `layer` (changes: key -> value, or GONE) over `base`;
    _ABSENT when there is none."""
    value = layer.get(key, _ABSENT)
    if value is _ABSENT:
        return base.get(key, _ABSENT)
    return _ABSENT if value is GONE else value


def _found(value, key):
    if value is _ABSENT:
        raise KeyError(key)
    return value


class LayeredMap(Mapping):
    """An immutable map: a shared base dict plus a small delta."""

    __slots__ = ("base", "delta", "size")

    def __init__(self, base=None, delta=None, size=None):
        self.base = {} if base is None else base
        self.delta = {} if delta is None else delta
        if size is None:
            size = len(self.base) + sum(
                (v is not GONE) - (k in self.base) for k, v in self.delta.items())
        self.size = size

    def __getitem__(self, key):
        return _found(_lookup(self.delta, self.base, key), key)

    def get(self, key, default=None):
        value = _lookup(self.delta, self.base, key)
        return default if value is _ABSENT else value

    def __contains__(self, key):
        return _lookup(self.delta, self.base, key) is not _ABSENT

    def __len__(self):
        return self.size

    def __iter__(self):
        delta = self.delta
        for key in self.base:
            if key not in delta:
                yield key
        for key, value in delta.items():
            if value is not GONE:
                yield key

    def updated(self, changes):
        """A new map with `changes` (key -> value, or GONE) applied."""
        if not changes:
            return self
        size = self.size
        for key, value in changes.items():
            size += (value is not GONE) - (key in self)
        delta = dict(self.delta)
        delta.update(changes)
        if len(delta) > max(32, len(self.base) // 16):
            base = dict(self.base)
            for key, value in delta.items():
                if value is GONE:
                    base.pop(key, None)
                else:
                    base[key] = value
            return LayeredMap(base, {}, size)
        return LayeredMap(self.base, delta, size)

    def to_dict(self):
        """A plain dict, keys sorted (as a manifest parsed from sorted JSON has them)."""
        return {key: self[key] for key in sorted(self)}


class Overlay(MutableMapping):
    """A dict-like view over a LayeredMap whose changes stay local (copy on write)."""

    def __init__(self, base):
        self.base = base
        self.local = {}  # key -> value, or GONE

    @property
    def touched(self):
        return set(self.local)

    def __getitem__(self, key):
        return _found(_lookup(self.local, self.base, key), key)

    def get(self, key, default=None):
        value = _lookup(self.local, self.base, key)
        return default if value is _ABSENT else value

    def __contains__(self, key):
        return _lookup(self.local, self.base, key) is not _ABSENT

    def __setitem__(self, key, value):
        self.local[key] = value

    def __delitem__(self, key):
        if key not in self:
            raise KeyError(key)
        self.local[key] = GONE

    def __len__(self):
        size = len(self.base)
        for key, value in self.local.items():
            size += (value is not GONE) - (key in self.base)
        return size

    def __iter__(self):
        local = self.local
        for key in list(self.base):
            if key not in local:
                yield key
        for key, value in list(local.items()):
            if value is not GONE:
                yield key

    def copy(self):
        return dict(self)

    def __deepcopy__(self, memo):
        import copy

        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self):
        return dict, (dict(self),)

    def __repr__(self):
        return f"Overlay({dict(self)!r})"
