"""Component 3, candidate training (a TPU in production): train the components one
candidate owns and store their weights. Returns the candidate id and its figures."""

import sys

from components import cli
from munet.stages.train import train_candidate


def run(system_uri, candidate_id, accelerator="auto"):
    result = train_candidate(system_uri, candidate_id, accelerator, progress=print)
    keys = ("best_validation_accuracy", "train_seconds", "examples_per_second",
            "trainable_params", "device")
    return dict({k: result[k] for k in keys}, candidate=candidate_id)


def build_parser():
    p = cli.parser(__doc__)
    p.add_argument("--candidate", required=True)
    p.add_argument("--accelerator", default="auto", choices=["auto", "tpu", "gpu", "cpu"])
    return p


def run_args(args):
    return run(args.system, args.candidate, args.accelerator)


if __name__ == "__main__":
    sys.exit(cli.main(run_args, build_parser))
