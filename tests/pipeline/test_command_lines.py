"""Every command line's --help renders (argparse formats help text lazily, so a stray
`%` in one option's help breaks only `--help`)."""

import argparse
import importlib

import pytest

from munet.cli import build_parser as munet_parser

STAGES = ["ingestion", "generation", "training", "evaluation", "commit"]


@pytest.mark.parametrize("stage", STAGES)
def test_component_help_renders(stage, monkeypatch):
    monkeypatch.delenv("MUNET_SYSTEM_URI", raising=False)
    text = importlib.import_module(f"components.{stage}").build_parser().format_help()
    assert "--system" in text and "--xcom-file" in text


def test_every_munet_subcommand_help_renders():
    parser = munet_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"init", "add-task", "improve", "status"} <= set(subparsers.choices)
    for name, sub in subparsers.choices.items():
        assert sub.format_help().startswith(f"usage: munet {name}")
