"""The `munet` command line: init, add-task, improve, status, evaluate, show, sync-mlflow, ui.

TensorFlow is imported only by the commands that train or evaluate, so `munet status`
and `munet --help` answer quickly.
"""

import argparse
import json
import os
import sys

from munet.errors import InvalidInputError, MunetError
from munet.evolution.population import MUTATION_PROBS

DEFAULT_SYSTEM = os.environ.get("MUNET_SYSTEM_URI", "./var/system")


def _progress(message):
    print(message, flush=True)


def _add_budget_arguments(parser):
    from munet.stages.generate import Budget

    defaults = Budget()
    group = parser.add_argument_group("budget")
    group.add_argument("--generations", type=int, default=1,
                       help="generations per task (default: %(default)s)")
    group.add_argument("--candidates", type=int, default=defaults.num_candidates,
                       help="candidates per generation (default: %(default)s)")
    group.add_argument("--steps-per-validation", type=int, default=defaults.steps_per_validation,
                       help="training steps between validations (default: %(default)s)")
    group.add_argument("--validations", type=int, default=defaults.num_validations,
                       help="validations per candidate (default: %(default)s)")
    group.add_argument("--batch-size", type=int, default=defaults.batch_size,
                       help="batch size (default: %(default)s)")
    group.add_argument("--max-validation-examples", type=int,
                       default=defaults.max_validation_examples,
                       help="validation examples used per validation (default: %(default)s)")
    group.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    group.add_argument("--accelerator", default="auto", choices=["auto", "tpu", "gpu", "cpu"],
                       help="device to train on (default: auto = TPU, else GPU, else CPU)")


def _budget(args):
    from munet.stages.generate import Budget

    if args.generations < 1:
        raise InvalidInputError(
            f"--generations must be a positive integer; received {args.generations}."
        )
    return Budget(
        num_candidates=args.candidates,
        steps_per_validation=args.steps_per_validation,
        num_validations=args.validations,
        batch_size=args.batch_size,
        max_validation_examples=args.max_validation_examples,
    ).validate()


def parse_pairs(pairs, option, form, example):
    """Repeated `option` values such as ["flip=true", ...] as {"flip": "true"}; what
    each value means is checked where it is used."""
    parsed = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise InvalidInputError(
                f"Invalid {option} {pair!r}: expected {form}, e.g. {example}."
            )
        parsed[key] = value
    return parsed


def parse_hparam_pairs(pairs):
    return parse_pairs(pairs, "--hparam", "NAME=VALUE", "flip=true or lr=0.002")


def cmd_init(args):
    from munet.model.root import RootConfig
    from munet.system import init_system

    root = RootConfig(image_size=args.image_size, patch_size=args.patch_size, width=args.width,
                      depth=args.depth, num_heads=args.num_heads, mlp_dim=args.mlp_dim,
                      stem_channels=args.stem_channels, stem_layers=args.stem_layers,
                      locked=not args.trainable_root, own_embeddings=args.own_embeddings,
                      seed=args.seed)
    weights = pretraining = None
    if args.pretrain_steps is not None and not args.pretrain_on:
        raise InvalidInputError(
            f"--pretrain-steps {args.pretrain_steps} was given without --pretrain-on. Fix: "
            "add --pretrain-on DATASET, or drop --pretrain-steps for a random-init root.")
    if args.pretrain_on:
        from munet.system import new_system_store
        from munet.training.pretrain import DEFAULT_STEPS, pretrain_root

        root.validate()  # Every check of init runs before minutes of pretraining, not after.
        new_system_store(args.system, args.scale_factor, args.mutation_probs)
        steps = DEFAULT_STEPS if args.pretrain_steps is None else args.pretrain_steps
        weights, pretraining = pretrain_root(root, args.pretrain_on, steps,
                                             data_dir=args.data_dir, seed=args.seed,
                                             accelerator=args.accelerator,
                                             progress=_progress)
        print(f"Pretrained the root on {args.pretrain_on} for {pretraining['steps']} steps: "
              f"validation accuracy {pretraining['validation_accuracy']:.4f}.")
    manifest = init_system(args.system, root, args.scale_factor, args.max_population,
                           root_weights=weights, pretraining=pretraining,
                           mutation_probs=args.mutation_probs)
    origin = f"pretrained on {args.pretrain_on}" if args.pretrain_on else "random-init"
    print(f"Created system {args.system} (version 1): {origin} root ViT with "
          f"{manifest.root_params():,} params, {len(manifest.components)} components.")


def cmd_add_task(args):
    from munet.stages.chain import add_task

    splits = parse_pairs(args.split, "--split", "ROLE=SPLIT", "validation=train[90%:]")
    summaries = add_task(args.system, args.task, args.dataset, splits,
                         args.data_dir, args.generations, _budget(args), seed=args.seed,
                         accelerator=args.accelerator, progress=_progress,
                         start_hparams=parse_hparam_pairs(args.hparam))
    _print_task_line(args.system, args.task, summaries[-1]["version"])


def cmd_improve(args):
    from munet.stages.chain import evolve_task, tasks_to_improve
    from munet.store.repository import SystemStore

    manifest = SystemStore(args.system).load()
    tasks = args.task or tasks_to_improve(args.system, args.max_tasks)
    for task in tasks:
        if task not in manifest.tasks:
            raise InvalidInputError(
                f"Unknown task {task!r}; tasks in {args.system}: {sorted(manifest.tasks)}."
            )
    for task in tasks:
        summaries = evolve_task(args.system, task, args.generations, _budget(args), args.seed,
                                None, args.accelerator, _progress)
        _print_task_line(args.system, task, summaries[-1]["version"])


def _print_task_line(system_uri, task, version):
    from munet.system import status

    info = status(system_uri, version)["tasks"][task]
    if info["active_model"] is None:
        print(f"{task}: no model yet (no candidate finished), system version {version}")
        return
    print(f"{task}: validation {info['validation_accuracy']:.4f}, test "
          f"{info['test_accuracy']:.4f}, {info['path_params']:,} params "
          f"({info['components_owned']} own / {info['components_shared']} shared components), "
          f"system version {version}")


def cmd_status(args):
    from munet.system import status

    info = status(args.system, args.version)
    if args.json:
        print(json.dumps(info, indent=1, sort_keys=True))
        return
    print(f"System {info['uri']}: version {info['version']} (head {info['head_version']}), "
          f"{info['system_params']:,} params in active paths, root {info['root_params']:,}"
          + (f", pretrained on {info['root_pretraining']['dataset']}."
             if info["root_pretraining"] else ", random-init."))
    if not info["tasks"]:
        print(f"No tasks yet. Add one with `munet --system {info['uri']} add-task --task NAME "
              "--dataset DATASET`.")
    header = f"{'task':<16} {'dataset':<14} {'val acc':>8} {'test acc':>8} {'params':>9} " \
             f"{'accounted':>10} {'own/shared':>10} {'layers':>6} {'gens':>4}"
    if info["tasks"]:
        print(header)
    for name, t in info["tasks"].items():
        def pct(x):
            return f"{x:.4f}" if x is not None else "-"
        print(f"{name:<16} {t['dataset'][:14]:<14} {pct(t['validation_accuracy']):>8} "
              f"{pct(t['test_accuracy']):>8} {t['path_params']:>9,} "
              f"{t['accounted_params']:>10,.0f} "
              f"{str(t['components_owned']) + '/' + str(t['components_shared']):>10} "
              f"{t['num_layers'] or '-':>6} {t['generations']:>4}")
    if info["shared_components"]:
        print("Shared components:")
        for cid, users in info["shared_components"].items():
            print(f"  {cid}: {', '.join(users)}")


def cmd_evaluate(args):
    import numpy as np

    from munet.system import evaluate_task

    accuracy, logits, labels = evaluate_task(args.system, args.task, args.split, args.version)
    print(f"{args.task} {args.split} accuracy: {accuracy:.4f} ({len(labels)} examples)")
    if args.logits:
        np.save(args.logits, logits)
        print(f"Wrote logits {logits.shape} to {args.logits}")


def cmd_show(args):
    from munet.store.repository import SystemStore
    from munet.tracking import history, pictures, report

    store = SystemStore(args.system)
    manifests = history.all_versions(store)
    if args.version:
        manifests = manifests[:args.version]
    manifest = manifests[-1]
    tasks = args.task or sorted(t for t, r in manifest.tasks.items() if r.get("active"))
    for task in tasks:
        if task not in manifest.tasks:
            raise InvalidInputError(
                f"Unknown task {task!r}; tasks in {args.system} at version "
                f"{manifest.version}: {sorted(manifest.tasks)}. Fix: pass one of those.")
    print(pictures.system_text(manifest))
    chains = {task: history.lineage(store, manifest.tasks[task]["active"]) for task in tasks}
    for task, chain in chains.items():
        print(f"\nLineage of {task}'s active model:\n{pictures.lineage_text(chain)}")
    summary = report.continual_learning_report(store, manifests)
    print("\n" + report.report_markdown(summary))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        written = [pictures.draw_system(manifest, os.path.join(args.out, "system.png"))]
        for task, chain in chains.items():
            written.append(pictures.draw_lineage(
                chain, history.lineage_evaluations(store, chain),
                os.path.join(args.out, f"lineage-{task}.png")))
        written += report.write_report(summary, args.out)
        print("Wrote " + ", ".join(written))


def cmd_sync_mlflow(args):
    from munet.tracking import mlflow_records

    outcome = mlflow_records.sync(args.system, progress=_progress)
    print(f"MLflow {outcome['tracking_uri']} (experiment {outcome['experiment_id']}): "
          f"mirrored {len(outcome['mirrored'])} generation(s), "
          f"{outcome['already_mirrored']} already there.")


def cmd_ui(args):
    from munet.tracking import settings, ui

    uri = settings.tracking_uri()
    location = settings.artifact_location(uri)
    destination = location[len("file://"):] if location and location.startswith("file://") \
        else location
    return ui.serve(uri, args.port, destination)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="munet", description="Grow one modular multitask ViT, muNet style.")
    parser.add_argument("--system", default=DEFAULT_SYSTEM,
                        help="system URI: a folder or gs://bucket/prefix "
                             "(default: $MUNET_SYSTEM_URI or ./var/system)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a system holding a root ViT, random-init or "
                                    "pretrained (--pretrain-on)")
    p.add_argument("--image-size", type=int, default=28)
    p.add_argument("--patch-size", type=int, default=7)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--mlp-dim", type=int, default=128)
    p.add_argument("--stem-channels", type=int, default=0,
                   help="0: plain linear patches; > 0: a 3x3 convolution with this many "
                        "channels before the patch projection (hybrid ViT)")
    p.add_argument("--stem-layers", type=int, default=1,
                   help="how many such convolutions, with --stem-channels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trainable-root", action="store_true",
                   help="let children of the root train all of it (from scratch) instead "
                        "of keeping the root frozen and training clones of its components")
    p.add_argument("--own-embeddings", action="store_true",
                   help="every task trains its own copy of the patch and position "
                        "embeddings (as of the final norm) instead of cloning them by "
                        "mutation; for a root pretrained on images unlike the tasks'")
    p.add_argument("--scale-factor", type=float, default=1.0,
                   help="size penalty s in score = accuracy * s^(params/root params)")
    p.add_argument("--max-population", type=int, default=8)
    p.add_argument("--mutation-probs", default="shared", choices=MUTATION_PROBS,
                   help="shared: every mutation is drawn with the child's mutation_prob "
                        "(muNet); per_event: each kind of mutation (hp:<key>, "
                        "clone:<slot>, insert:<slot>) has an inherited probability of "
                        "its own that evolves (mu2Net+) (default: %(default)s)")
    p.add_argument("--pretrain-on", metavar="DATASET",
                   help="pretrain the root on this dataset first (a name as for add-task; "
                        "pick one no task will use, e.g. mnist_t10k)")
    p.add_argument("--pretrain-steps", type=int,
                   help="steps of batch 64 for --pretrain-on (default 3000)")
    p.add_argument("--data-dir", help="TFDS data dir for --pretrain-on (default: "
                                      "$MUNET_TFDS_DATA_DIR, else ~/tensorflow_datasets)")
    p.add_argument("--accelerator", default="auto", choices=["auto", "tpu", "gpu", "cpu"],
                   help="where --pretrain-on trains (auto: a TPU if one is reachable, "
                        "else GPUs, else the CPU)")
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("add-task", help="ingest a dataset as a task and evolve it")
    p.add_argument("--task", required=True, help="task name (letters, digits, _ . -)")
    p.add_argument("--dataset", required=True,
                   help="TFDS name, offline dataset (fashion_mnist, mnist, digits, "
                        "animal_mnist, mnist_t10k) or folder:/path/with/one/folder/per/class")
    p.add_argument("--split", action="append", metavar="ROLE=SPLIT",
                   help="map train/validation/test to TFDS splits, e.g. validation=train[90%%:]")
    p.add_argument("--hparam", action="append", metavar="NAME=VALUE",
                   help="a hyperparameter the task's first children start from instead of "
                        "their parent's, e.g. flip=true (repeatable)")
    p.add_argument("--data-dir", help="TFDS data dir (default: $MUNET_TFDS_DATA_DIR or "
                                      "~/tensorflow_datasets)")
    _add_budget_arguments(p)
    p.set_defaults(run=cmd_add_task)

    p = sub.add_parser("improve", help="revisit existing tasks (least recently revisited first)")
    p.add_argument("--task", action="append", help="task to improve (repeatable)")
    p.add_argument("--max-tasks", type=int, default=1)
    _add_budget_arguments(p)
    p.set_defaults(run=cmd_improve)

    p = sub.add_parser("status", help="tasks, accuracies, params, shared components")
    p.add_argument("--json", action="store_true")
    p.add_argument("--version", type=int)
    p.set_defaults(run=cmd_status)

    p = sub.add_parser("evaluate", help="a task's accuracy on a split; optional logits .npy")
    p.add_argument("--task", required=True)
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--logits", help="write per-example logits to this .npy file")
    p.add_argument("--version", type=int)
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("show", help="the system as task paths, each task's lineage and the "
                                    "continual-learning report; --out also draws PNGs")
    p.add_argument("--task", action="append", help="task whose lineage to show (repeatable; "
                                                    "default: all)")
    p.add_argument("--version", type=int, help="system version (default: the newest)")
    p.add_argument("--out", help="folder for system.png, lineage-<task>.png and the report")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("sync-mlflow", help="mirror into MLflow every commit it lacks "
                                           "(back-fill after MLflow was unreachable)")
    p.set_defaults(run=cmd_sync_mlflow)

    p = sub.add_parser("ui", help="serve the MLflow UI over the tracking store on 127.0.0.1 "
                                  "($MLFLOW_TRACKING_URI, default sqlite:///./mlflow.db)")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(run=cmd_ui)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except MunetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
