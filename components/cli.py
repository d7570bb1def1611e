"""What every component's command line shares: common flags, JSON output, errors."""

import argparse
import json
import os
import sys

from munet.errors import InvalidInputError, MunetError

# The exit code of a stage with nothing to do (an unused generation slot of a DAG run).
# The Docker and Kubernetes operators mark the task skipped on it (skip_on_exit_code).
SKIP_EXIT_CODE = 99


class Skip(Exception):
    """Raised by a stage with nothing to do: the orchestrator marks the task skipped, and
    the stages after it in that generation are skipped without running."""


def parser(description):
    p = argparse.ArgumentParser(description=description)
    default = os.environ.get("MUNET_SYSTEM_URI")
    p.add_argument("--system", default=default, required=default is None,
                   help="system URI (default: $MUNET_SYSTEM_URI)")
    p.add_argument("--xcom-file", help="also write the JSON result to this file")
    return p


def json_option(flag, text):
    """The JSON value of a command-line option, or a clear error naming the option."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{flag} must be JSON; received {text!r} ({error}). Fix: quote it as JSON, "
            'e.g. {"flip": true}.'
        ) from None


def emit(result, xcom_file=None):
    text = json.dumps(result, sort_keys=True)
    if xcom_file:
        os.makedirs(os.path.dirname(os.path.abspath(xcom_file)), exist_ok=True)
        with open(xcom_file, "w") as f:
            f.write(text)
    print(text, flush=True)


def main(run, build_parser, argv=None):
    """Parses arguments, runs `run(args)`, prints its JSON result; exit 2 on bad input,
    SKIP_EXIT_CODE when there is nothing to do."""
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except Skip as reason:
        print(f"skipped: {reason}", file=sys.stderr)
        return SKIP_EXIT_CODE
    except MunetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    emit(result, args.xcom_file)
    return 0
