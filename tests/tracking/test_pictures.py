"""System and lineage pictures: shared components appear once, on every path using them."""

from munet.tracking import pictures
from tests.helpers import add_task_model, root_manifest


def _two_tasks():
    manifest = root_manifest()
    add_task_model(manifest, "a", "a1", own_slots=("encoder_block_2", "head"))
    add_task_model(manifest, "b", "b1", slots_from="a1", own_slots=("head",))
    return manifest


def test_layout_puts_each_component_once_and_paths_through_shared_ones():
    rows, positions, paths = pictures.system_layout(_two_tasks())
    assert rows[:2] == ["patch_embedding", "position_embedding"] and rows[-1] == "head"
    assert len(positions) == len(set(paths["a"]) | set(paths["b"]))
    assert "a1:encoder_block_2" in paths["a"] and "a1:encoder_block_2" in paths["b"]
    assert positions["a1:head"][1] == positions["b1:head"][1]  # same depth...
    assert positions["a1:head"][0] != positions["b1:head"][0]  # ...side by side


def test_text_marks_root_shared_and_owned_components():
    text = pictures.system_text(_two_tasks())
    assert "a1:encoder_block_2" in text and "[shared a,b]" in text
    assert "b1:head" in text and "[own]" in text
    assert "[root, shared by a,b]" in text


def test_pngs_are_written(tmp_path):
    manifest = _two_tasks()
    system_png = pictures.draw_system(manifest, str(tmp_path / "system.png"))
    chain = [{"candidate": "a1", "task": "a", "mutations": ["clone:head"]},
             {"candidate": "b1", "task": "b", "mutations": []}]
    lineage_png = pictures.draw_lineage(chain, {"b1": {"validation_accuracy": 0.5}},
                                        str(tmp_path / "lineage.png"))
    for path in (system_png, lineage_png):
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert pictures.lineage_text(chain).splitlines() == [
        "root", "  -> a1  (a; clone:head)", "  -> b1  (b; no mutation)"]
