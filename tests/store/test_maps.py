"""The layered maps a version shares with the previous one, and the commit overlays."""

import copy
import json

import pytest

from munet.store.maps import GONE, LayeredMap, Overlay


def test_layered_map_applies_changes_and_folds_its_delta():
    first = LayeredMap({f"k{i}": i for i in range(100)})
    second = first.updated({"k1": "one", "k2": GONE, "new": 7})
    assert first["k1"] == 1 and "k2" in first and "new" not in first  # Unchanged.
    assert second["k1"] == "one" and "k2" not in second and second["new"] == 7
    assert len(second) == 100 and len(list(second)) == 100 and second.get("k2", 5) == 5
    assert second.base is first.base  # Shared, not copied.
    with pytest.raises(KeyError):
        second["k2"]
    current = second
    for step in range(40):  # The delta outgrows max(32, base / 16): folded into a base.
        current = current.updated({f"x{step}": step})
    assert current.base is not first.base and len(current.delta) < 32
    assert len(current) == 140 and current["x39"] == 39 and "k2" not in current
    assert list(current.to_dict()) == sorted(current)


def test_overlay_behaves_like_a_dict_and_records_what_changed():
    base = LayeredMap({"a": 1, "b": 2, "c": 3})
    overlay = Overlay(base)
    overlay["d"] = 4
    del overlay["a"]
    assert overlay.pop("b") == 2 and overlay.setdefault("c", 9) == 3
    assert overlay.setdefault("e", 5) == 5
    assert overlay == {"c": 3, "d": 4, "e": 5} and len(overlay) == 3
    assert sorted(overlay) == ["c", "d", "e"] and "a" not in overlay
    assert overlay.touched == {"a", "b", "d", "e"}
    assert dict(base) == {"a": 1, "b": 2, "c": 3}  # The base never changes.
    with pytest.raises(KeyError):
        del overlay["a"]
    assert type(copy.deepcopy(overlay)) is dict and copy.deepcopy(overlay) == overlay
    assert json.loads(json.dumps(dict(overlay))) == {"c": 3, "d": 4, "e": 5}
