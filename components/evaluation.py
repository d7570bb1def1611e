"""Component 4, candidate evaluation: validation accuracy, score, whether it beats its
parent (test accuracy for improved ones, reported only). Returns the evaluation."""

import sys

from components import cli
from munet.stages.evaluate import evaluate_candidate
from munet.store import records
from munet.store.repository import SystemStore


def run(system_uri, candidate_id, skip_untrained=False):
    if skip_untrained and not is_trained(system_uri, candidate_id):
        return {"candidate": candidate_id, "skipped": "training failed or did not run"}
    return evaluate_candidate(system_uri, candidate_id)


def is_trained(system_uri, candidate_id):
    store = SystemStore(system_uri)
    return store.storage.exists(records.candidate_key(candidate_id, "result"))


def build_parser():
    p = cli.parser(__doc__)
    p.add_argument("--candidate", required=True)
    p.add_argument("--skip-untrained", action="store_true",
                   help="report a candidate whose training failed instead of failing")
    return p


def run_args(args):
    return run(args.system, args.candidate, args.skip_untrained)


if __name__ == "__main__":
    sys.exit(cli.main(run_args, build_parser))
