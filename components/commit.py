"""Component 5, system commit: add the generation's improved candidates to the task's
population, make the best active, commit a new system version (at most once).

The generation is named by --generation, or by --task, --run-id and --index; a
generation that was never generated (a slot the run did not ask for) is skipped.
"""

import sys

from components import cli
from munet.names import generation_id
from munet.stages.commit import commit_generation
from munet.store import records
from munet.store.repository import SystemStore


def run(system_uri, generation, author=None):
    return commit_generation(system_uri, generation, author)


def build_parser():
    p = cli.parser(__doc__)
    p.add_argument("--generation")
    p.add_argument("--task", default="")
    p.add_argument("--run-id")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--author")
    return p


def run_args(args):
    generation = args.generation
    if not generation:
        if not args.task:
            return {"committed": False, "skipped": "no task for this slot"}
        generation = generation_id(args.task, args.run_id, args.index)
    store = SystemStore(args.system)
    if not store.storage.exists(records.generation_key(generation)):
        return {"committed": False, "skipped": f"generation {generation} was not generated"}
    return run(args.system, generation, args.author or f"airflow:{args.run_id}")


if __name__ == "__main__":
    sys.exit(cli.main(run_args, build_parser))
