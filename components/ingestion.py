"""Component 1, task ingestion: validate the task and dataset, prepare the data offline,
record the task's spec. Returns the task name."""

import sys

from components import cli
from munet.stages.ingest import ingest_task


def run(system_uri, task, dataset, splits=None, data_dir=None, start_hparams=None):
    spec = ingest_task(system_uri, task, dataset, splits or None, data_dir or None,
                       start_hparams or None)
    return {"task": spec["task"], "dataset": spec["dataset"], "num_examples": spec["num_examples"]}


def build_parser():
    p = cli.parser(__doc__)
    p.add_argument("--task", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--splits", default="{}", help='JSON, e.g. {"validation": "train[90%%:]"}')
    p.add_argument("--hparams", default="{}",
                   help='JSON, starting hyperparameters, e.g. {"flip": true}')
    p.add_argument("--data-dir")
    return p


def run_args(args):
    return run(args.system, args.task, args.dataset, cli.json_option("--splits", args.splits),
               args.data_dir, cli.json_option("--hparams", args.hparams))


if __name__ == "__main__":
    sys.exit(cli.main(run_args, build_parser))
