"""Component 2, candidate generation: sample parents, mutate them, record candidate specs.
Returns the candidate ids.

The generation is named by --generation, or by --task, --run-id and --index (the
orchestrator's run). A DAG holds a fixed number of generation slots: slot --index has
nothing to do when it is not below --generations, or when --task is '' (an unused
task slot of the nightly run). It then raises cli.Skip (exit code cli.SKIP_EXIT_CODE
on the command line), so the orchestrator skips the rest of that generation.
"""

import sys

from components import cli
from munet.names import generation_id
from munet.stages.generate import Budget, generate_candidates


DEFAULT = Budget()


def run(system_uri, task, generation, num_candidates=DEFAULT.num_candidates,
        steps_per_validation=DEFAULT.steps_per_validation,
        num_validations=DEFAULT.num_validations, batch_size=DEFAULT.batch_size,
        max_validation_examples=DEFAULT.max_validation_examples, seed=0):
    budget = Budget(num_candidates, steps_per_validation, num_validations, batch_size,
                    max_validation_examples)
    return generate_candidates(system_uri, task, generation, budget, seed)


def build_parser():
    p = cli.parser(__doc__)
    p.add_argument("--task", required=True, help="task name ('' = nothing to do)")
    p.add_argument("--generation", help="generation id (default: from run id and index)")
    p.add_argument("--run-id")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--generations", type=int, default=1)
    p.add_argument("--candidates", type=int, default=DEFAULT.num_candidates)
    p.add_argument("--steps-per-validation", type=int, default=DEFAULT.steps_per_validation)
    p.add_argument("--validations", type=int, default=DEFAULT.num_validations)
    p.add_argument("--batch-size", type=int, default=DEFAULT.batch_size)
    p.add_argument("--max-validation-examples", type=int,
                   default=DEFAULT.max_validation_examples)
    p.add_argument("--seed", type=int, default=0)
    return p


def run_args(args):
    if not args.task:
        raise cli.Skip("no task in this slot (--task is '')")
    if args.index >= args.generations:
        raise cli.Skip(f"generation slot {args.index} is unused: this run asked for "
                       f"{args.generations} generation(s)")
    generation = args.generation or generation_id(args.task, args.run_id, args.index)
    return run(args.system, args.task, generation, args.candidates, args.steps_per_validation,
               args.validations, args.batch_size, args.max_validation_examples,
               args.seed + args.index)


if __name__ == "__main__":
    sys.exit(cli.main(run_args, build_parser))
