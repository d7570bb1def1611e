"""The commands that munet's messages tell a user to run parse as printed and act on the
system the message is about."""

import re

import pytest

from munet.cli import build_parser, main
from munet.errors import InvalidInputError, StoreExistsError
from munet.model.root import RootConfig
from munet.store.repository import SystemStore
from munet.system import evaluate_task, init_system

TINY = RootConfig(width=16, depth=1, num_heads=2, mlp_dim=32)


def suggested(message):
    """The first `munet ...` command quoted in a message, as argv (without `munet`)."""
    command = re.search(r"`munet ([^`]*)`", message)
    assert command, message
    return command.group(1).split()


def test_missing_store_fix_creates_it(tmp_path, capsys):
    uri = str(tmp_path / "nothing")
    assert main(["--system", uri, "status"]) == 2
    argv = suggested(capsys.readouterr().err)
    assert main(argv) == 0  # Run as printed.
    assert SystemStore(uri).head_version() == 1


@pytest.fixture
def system(tmp_path):
    uri = str(tmp_path / "system")
    init_system(uri, TINY)
    return uri


def test_existing_store_fix_shows_that_store(system, capsys):
    with pytest.raises(StoreExistsError) as error:
        init_system(system, TINY)
    argv = suggested(str(error.value))
    assert main(argv) == 0
    assert f"System {system}:" in capsys.readouterr().out


def test_no_tasks_hints_parse_and_name_the_system(system, capsys):
    assert main(["--system", system, "status"]) == 0
    args = build_parser().parse_args(suggested(capsys.readouterr().out))
    assert (args.system, args.task, args.dataset) == (system, "NAME", "DATASET")
    with pytest.raises(InvalidInputError) as error:
        evaluate_task(system, "absent")
    args = build_parser().parse_args(suggested(str(error.value)))
    assert (args.system, args.task, args.dataset) == (system, "absent", "NAME")
