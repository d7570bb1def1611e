r"""Quality: the evolved munet system against the usual alternatives, on real offline
tasks, from the same root and with the same training budget per task.

  (a) munet: one system, tasks added in turn, each evolved for G generations of C
      candidates of S steps (G x C x S steps per task); with --rounds R the tasks are
      then revisited round robin, as the papers' task iterations (R x G x C x S); with
      --validations V each candidate trains V x S steps on one learning-rate schedule,
      validated every S steps, its best validation kept (R x G x C x V x S);
  (b) full fine-tuning of the root per task (all of it trainable, plus a head);
  (c) training from scratch per task (the root's architecture, a fresh init);
  (d) residual adapters only: the frozen root, one adapter per block and a head.
(b)-(d) train once with the root's hyperparameters, validate every S steps and keep
the best-validation weights, as munet's trainer does. The budget rule
(--budget-rule) sets how many steps each approach trains per task:
  steps    (default) every approach trains R x G x C x V x S steps per task (R = V = 1
           unless --rounds, --validations);
  lineage  the muNet notebook's rule: a baseline trains R x G x V x S steps, as many as one
           munet lineage, while munet trains its C candidates per generation side by
           side (the papers ran them on parallel cores), C times the baselines' steps.
Test accuracy is measured once per final model; nothing selects on it.

    .venv/bin/python benchmarks/quality.py            # about 36 minutes on 2 cores
    .venv/bin/python benchmarks/quality.py --quick    # at most about 5 minutes
    .venv/bin/python benchmarks/quality.py --candidates 1 --steps 1000  # another split
    .venv/bin/python benchmarks/quality.py --pretrain-on mnist_t10k --name quality_pretrained
    .venv/bin/python benchmarks/quality.py --seed 1 --name quality_seed1  # a repeat
    .venv/bin/python benchmarks/quality.py --budget-rule lineage --candidates 4 \
        --pretrain-on mnist_t10k --name quality_pretrained_lineage  # the papers' budget
    .venv/bin/python benchmarks/quality.py --budget-rule lineage --candidates 4 \
        --rounds 3 --generations 1 --pretrain-on mnist_t10k  # the papers' task iterations
    .venv/bin/python benchmarks/quality.py --pretrain-on mnist_t10k --scale-factor 0.9 \
        --baselines-from docs/benchmarks/quality_pretrained.json  # munet only, (b)-(d) reused
    .venv/bin/python benchmarks/quality.py --budget-rule lineage --candidates 4 \
        --generations 1 --validations 3 --pretrain-on mnist_t10k  # one long generation

The root is random-init and not locked by default. --pretrain-on pretrains it first
on a dataset no task uses (mnist_t10k: MNIST's test digits, none of them in the mnist
task) and locks it, as in the papers: munet's tasks then train clones of its
components and may share the frozen originals; the baselines start from the same
pretrained weights.

Writes docs/benchmarks/<name>.{json,md,png} (default name quality; or --output-dir).
"""

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results  # noqa: E402
from munet.errors import InvalidInputError  # noqa: E402
from munet.evolution.hyperparameters import (STATIC_DEFAULTS, STATIC_VALUES,  # noqa: E402
                                             check_start_hparams)
from munet.evolution.population import MUTATION_PROBS  # noqa: E402

TARGET_POINTS = 1.0  # munet's mean test accuracy at least fine-tuning's + 1 point,
TARGET_SHARE = 0.5   # with at most half of fine-tuning's params per task.
TARGET = (f"mean test accuracy >= (b) + {TARGET_POINTS:g} point with <= {TARGET_SHARE:.0%} "
          "of (b)'s params per task")

TASKS = ("fashion_mnist", "mnist", "animal_mnist", "digits")
BUDGET_RULES = ("steps", "lineage")
APPROACHES = {"munet": "(a) munet, evolved", "finetune": "(b) full fine-tuning",
              "scratch": "(c) from scratch", "adapters": "(d) adapters only"}


def settings(quick, pretrained):
    from munet.model.root import RootConfig

    # A random root is not locked: a task's first candidates may train all of it (a
    # locked random root left them training a head on random features). A pretrained
    # root is locked, as in the papers. Its children, and every baseline, start from
    # the same hyperparameters (AdamW if not locked, else SGD with momentum).
    # munet scores with the papers' mildest size penalty, scale 0.98.
    if quick:
        return (RootConfig(width=32, depth=2, num_heads=2, mlp_dim=64, locked=pretrained),
                dict(rounds=1, generations=1, candidates=2, steps=30, validations=1,
                     batch_size=32, max_validation_examples=200, scale_factor=0.98))
    return RootConfig(locked=pretrained), dict(rounds=1, generations=3, candidates=2, steps=500,
                                               validations=1, batch_size=64,
                                               max_validation_examples=2000,
                                               scale_factor=0.98)


def root_parts(store, manifest, mode, num_classes, hparams, seed, trainable_slots=None):
    """The parts of a plain per-task model: the root's path plus a head (and adapters).
    The root's slots named in `trainable_slots` train, the others stay frozen; None
    means the mode's own choice (all of them but for the adapters)."""
    from munet.model.assembly import Part, fresh_weights
    from munet.model.paths import load_component
    from munet.store.manifest import slot_order

    root_model = manifest.model("root")
    parts = []
    for index, slot in enumerate(slot_order(root_model)):
        cid = root_model["slots"][slot]
        record = manifest.components[cid]
        if mode == "scratch":
            weights = fresh_weights(record["kind"], record["config"], seed + index,
                                    hparams["image_size"])
        else:
            weights = load_component(store, manifest, cid)
        if trainable_slots is None:
            trainable = mode in ("finetune", "scratch")
        else:
            trainable = slot in trainable_slots
        if mode == "adapters" and record["kind"] == "encoder_block":
            config = {"width": record["config"]["width"], "adapter_dim": hparams["adapter_dim"]}
            number = slot.rsplit("_", 1)[1]
            parts.append(Part(f"residual_adapter_{number}", "residual_adapter", config,
                              fresh_weights("residual_adapter", config, seed + 100 + index,
                                            hparams["image_size"]), True))
        parts.append(Part(slot, record["kind"], record["config"], weights, trainable))
    head = {"width": manifest.root["width"], "num_classes": num_classes}
    parts.append(Part("head", "head", head,
                      fresh_weights("head", head, seed + 999, hparams["image_size"]), True))
    return parts


def candidate_steps(config):
    """Training steps of one munet candidate: V validations x S steps."""
    return config["validations"] * config["steps"]


def munet_steps(config):
    """Training steps munet spends on a task: R rounds x G generations x C candidates x
    V validations x S steps."""
    return (config["rounds"] * config["generations"] * config["candidates"]
            * candidate_steps(config))


def baseline_steps(config, budget_rule):
    """Training steps each baseline gets per task under `budget_rule`."""
    if budget_rule not in BUDGET_RULES:
        raise ValueError(f"Unknown budget rule {budget_rule!r}: expected one of "
                         f"{', '.join(BUDGET_RULES)}.")
    if budget_rule == "lineage":  # One candidate per generation: a lineage's steps.
        return config["rounds"] * config["generations"] * candidate_steps(config)
    return munet_steps(config)


def train_baseline(store, manifest, mode, spec, config, budget_steps, seed, hparams=None,
                   trainable_slots=None):
    """One per-task model of approach (b), (c) or (d), trained for `budget_steps` in
    validation intervals of config["steps"] with the root's hyperparameters (or
    `hparams`) and the root's `trainable_slots` (see root_parts); returns its figures."""
    from munet.data import pipeline
    from munet.evolution import hyperparameters
    from munet.model.assembly import build_model
    from munet.training import trainer

    hparams = hparams or hyperparameters.root_hparams(manifest.root)
    parts = root_parts(store, manifest, mode, spec["num_classes"], hparams, seed,
                       trainable_slots)
    model, layers = build_model(parts, hparams["image_size"], name=f"{mode}_{spec['tfds_name']}")
    trainable = {p.slot: layers[p.slot] for p in parts if p.trainable}
    train = pipeline.training_input(spec, spec["splits"]["train"], hparams,
                                    config["batch_size"], seed)
    validation = pipeline.evaluation_input(spec, spec["splits"]["validation"], hparams,
                                           config["batch_size"],
                                           config["max_validation_examples"])
    start = time.perf_counter()
    outcome = trainer.train(model, trainable, train, validation, hparams, config["steps"],
                            budget_steps // config["steps"], config["batch_size"])
    for slot, weights in outcome["best_weights"].items():
        layers[slot].set_weights(weights)
    test = pipeline.evaluation_input(spec, spec["splits"]["test"], hparams, 256)
    test_accuracy = trainer.accuracy(*trainer.predict_logits(model, test))
    own = sum(layers[s].count_params() for s in trainable)
    return {"test_accuracy": test_accuracy,
            "validation_accuracy": outcome["best_validation_accuracy"],
            "validation_curve": outcome["validation_curve"],
            "trainable_params": own, "path_params": model.count_params(),
            "train_steps": budget_steps, "seconds": time.perf_counter() - start}


def root_digest(manifest):
    """A digest of the root's weights: its components' content digests, input to output."""
    from munet.store.manifest import slot_order

    root_model = manifest.model("root")
    blobs = [manifest.components[root_model["slots"][slot]]["blob"]
             for slot in slot_order(root_model)]
    return hashlib.sha256(" ".join(blobs).encode()).hexdigest()


def baseline_key(result):
    """What decides the baselines' figures in a result: the same key, the same figures
    (the training is deterministic on one machine). munet's own settings are left out."""
    root = {k: v for k, v in result["root"].items() if k != "own_embeddings"}
    pretraining = result["root_pretraining"]
    if pretraining:
        pretraining = {k: pretraining[k] for k in ("dataset", "steps", "validation_accuracy")}
    budget = result["budget"]
    return {"tasks": result["tasks"], "seed": result["seed"], "splits": result["splits"],
            "validation_percent": result["validation_percent"],
            "baseline_steps_per_task": result["baseline_steps_per_task"],
            "steps": budget["steps"], "batch_size": budget["batch_size"],
            "max_validation_examples": budget["max_validation_examples"],
            "root": root, "root_pretraining": pretraining,
            "root_digest": result.get("root_digest")}


def reused_baselines(path, key):
    """The baselines' figures of the result file `path`, if it was run with `key`."""
    try:
        with open(path) as handle:
            previous = json.load(handle)
        previous_key = baseline_key(previous)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidInputError(
            f"--baselines-from {path!r} is not a readable quality result ({error}). Fix: "
            "pass the .json file a full quality.py run wrote, e.g. "
            "docs/benchmarks/quality_pretrained.json.") from None
    if previous_key["root_digest"] is None:  # Written before results held the digest.
        key = dict(key, root_digest=None)
    differ = sorted(k for k in key if key[k] != previous_key[k])
    if differ:
        raise InvalidInputError(
            f"--baselines-from {path!r} was run with other baseline settings: "
            + "; ".join(f"{k} {previous_key[k]!r} there, {key[k]!r} here" for k in differ)
            + ". Fix: rerun with that file's tasks, seed, budget and root, or drop "
            "--baselines-from to train the baselines anew.")
    figures = {mode: previous["figures"][mode] for mode in ("finetune", "scratch", "adapters")}
    path = os.path.abspath(path)
    if path.startswith(results.REPO + os.sep):
        path = os.path.relpath(path, results.REPO)
    return figures, {"file": path,
                     "machine": previous.get("machine"),
                     "seconds": sum(row["seconds"] for rows in figures.values()
                                    for row in rows.values())}


def draws(seed):
    """(munet's run id, munet's seed offset, the baselines' seed offset) of repeat `seed`.

    munet draws its mutations from the run id and its data order from the seed; the
    baselines draw their data order and new weights from theirs. Repeat 0 is the
    published run; the root (random or pretrained) is the same in every repeat.
    """
    run_id = "quality" if seed == 0 else f"quality-seed{seed}"
    return run_id, 100 * seed, 1000 + 100 * seed


def start_hparams(config):
    """munet's starting hyperparameters for every task: the root's, but for the
    mutation probability when config["mutation_prob"] is set."""
    if config.get("mutation_prob") is None:
        return None
    return {"mutation_prob": config["mutation_prob"]}


def _print_commits_and_failures(message):
    if "committed" in message or "failed" in message:
        print(message, flush=True)


def run_munet(uri, specs, config, seed=0):
    """munet grows one system: the tasks are added in turn, then revisited round robin
    (config["rounds"] visits per task, the papers' task iterations), each visit
    evolving the task for config["generations"] generations."""
    from munet.stages import chain
    from munet.stages.generate import Budget
    from munet.store.repository import SystemStore
    from munet.tracking.report import continual_learning_report

    budget = Budget(num_candidates=config["candidates"], steps_per_validation=config["steps"],
                    num_validations=config["validations"], batch_size=config["batch_size"],
                    max_validation_examples=config["max_validation_examples"])
    run_id, offset, _ = draws(seed)
    figures = {task: {"seconds": 0.0, "generations": 0, "candidates": 0, "failed_candidates": 0}
               for task in specs}
    for visit in range(config["rounds"]):
        visit_id = run_id if visit == 0 else f"{run_id}-r{visit}"
        for number, (task, spec) in enumerate(specs.items()):
            start = time.perf_counter()
            options = dict(generations=config["generations"], budget=budget,
                           seed=offset + number + 10 * visit, run_id=visit_id,
                           progress=_print_commits_and_failures)
            if visit == 0:
                summaries = chain.add_task(uri, task, task, splits=spec["splits"],
                                           data_dir=spec["data_dir"],
                                           start_hparams=start_hparams(config), **options)
            else:
                summaries = chain.evolve_task(uri, task, **options)
            figures[task]["seconds"] += time.perf_counter() - start
            figures[task]["generations"] += len(summaries)
            figures[task]["candidates"] += len(summaries) * config["candidates"]
            figures[task]["failed_candidates"] += sum(len(s["failed"]) for s in summaries)
    store = SystemStore(uri)
    report = continual_learning_report(store)
    manifest = store.load()
    users = manifest.component_users()
    for task in specs:
        model = manifest.active_model(task)
        owned = [c for c in manifest.active_components(model)
                 if manifest.components[c]["created_by"] == task]
        figures[task].update({
            "test_accuracy": model["metrics"]["test_accuracy"],
            "validation_accuracy": model["metrics"]["validation_accuracy"],
            "trainable_params": sum(manifest.components[c]["num_params"] for c in owned),
            "trained_slots": sorted(slot for slot, cid in model["slots"].items()
                                    if cid in owned),
            "path_params": manifest.path_params(model),
            "accounted_params": manifest.accounted_params(model, task, users),
            "train_steps": munet_steps(config),
            "splits": manifest.tasks[task]["splits"],  # What munet selected on.
            "hparams": model["hparams"],
        })
    return figures, report


def describe_failures(munet_figures):
    """A sentence on munet's candidates that failed (they count as not improved), or ""."""
    failed = {t: f["failed_candidates"] for t, f in munet_figures.items()
              if f.get("failed_candidates")}
    if not failed:
        return ""
    total = sum(f.get("candidates", 0) for f in munet_figures.values())
    where = ", ".join(f"{count} of {task}" for task, count in failed.items())
    return (f"{sum(failed.values())} of munet's {total} candidates failed to train "
            f"({where}; the run's output says why) and were skipped. ")


def describe_root(pretraining):
    if not pretraining:
        return "random-init"
    return (f"pretrained ({pretraining['dataset']}, {pretraining['steps']:,} steps, "
            f"{pretraining['seconds'] / 60:.1f} min, validation accuracy "
            f"{100 * pretraining['validation_accuracy']:.2f}%, not counted in the budget)")


def describe_mutation_prob(config):
    text = ""
    if config.get("mutation_prob") is not None:
        text = f" but munet's mutation probability, starting at {config['mutation_prob']}"
    if config.get("mutation_probs") == "per_event":
        text += (", munet drawing each kind of mutation with a probability of its own "
                 "(per_event)")
    return text


def describe_reuse(result):
    reused = result["baselines_from"]
    if not reused:
        return ""
    return (f"; (b)-(d) were not trained again but taken from `{reused['file']}` (same "
            f"tasks, seed, budget and root; trained there in {reused['seconds'] / 60:.1f} "
            f"min on {reused['machine']})")


def describe_budget(config, budget_rule):
    split = (f"{config['generations']} generations x {config['candidates']} candidates x "
             f"{candidate_steps(config)} steps")
    if config["validations"] > 1:
        split += (f" ({config['validations']} validations of {config['steps']} steps, on one "
                  "learning-rate schedule)")
    if config["rounds"] > 1:
        split = f"{config['rounds']} visits per task, round robin, of {split}"
    if budget_rule == "steps":
        return (f"{munet_steps(config):,} training steps per task for every approach "
                f"(munet: {split})")
    return (f"budget rule 'lineage' (the muNet notebook's): each baseline trains "
            f"{baseline_steps(config, budget_rule):,} steps per task, as many as one munet "
            f"lineage, and munet {munet_steps(config):,} ({split}; the papers trained the "
            f"candidates of a generation side by side)")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smallest setting (tests)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--generations", type=int, help="munet generations per task (G)")
    parser.add_argument("--candidates", type=int, help="munet candidates per generation (C)")
    parser.add_argument("--steps", type=int,
                        help="steps per validation (S), of munet's candidates and of the "
                             "baselines; a candidate trains V x S (--validations)")
    parser.add_argument("--validations", type=int,
                        help="validations per munet candidate (V, default 1): a candidate "
                             "trains V x S steps on one schedule and keeps its best "
                             "validation, as the baselines do")
    parser.add_argument("--rounds", type=int,
                        help="munet visits per task, round robin (R, the papers' task "
                             "iterations; default 1): visit 1 adds each task, later visits "
                             "improve it")
    parser.add_argument("--batch-size", type=int,
                        help="training batch of every approach (default 64, as in the "
                             "published runs; 32 with --quick); pretraining keeps its own")
    parser.add_argument("--scale-factor", type=float,
                        help="munet's size penalty s in accuracy x s^(params/root params) "
                             "(default 0.98, the papers' mildest; 1.0: no penalty)")
    parser.add_argument("--mutation-prob", type=float,
                        help="munet's starting mutation probability mu, for every task "
                             f"(default: the root's, {STATIC_DEFAULTS['mutation_prob']}, as "
                             "in muNet; one of "
                             f"{', '.join(map(str, STATIC_VALUES['mutation_prob']))})")
    parser.add_argument("--mutation-probs", choices=MUTATION_PROBS, default="shared",
                        help="shared (default): every mutation drawn with the child's "
                             "mutation probability, as in muNet; per_event: each kind of "
                             "mutation with an inherited, evolving probability of its own, "
                             "as in mu2Net+ (munet init --mutation-probs)")
    parser.add_argument("--own-embeddings", action="store_true",
                        help="munet's root makes every task train its own patch and "
                             "position embeddings (munet init --own-embeddings)")
    parser.add_argument("--validation-percent", type=int, default=10,
                        help="share of train carved off as validation where a dataset "
                             "has no validation split (default 10)")
    parser.add_argument("--budget-rule", choices=BUDGET_RULES, default="steps",
                        help="steps: every approach trains R x G x C x S steps per task; "
                             "lineage: the baselines train R x G x S (one munet lineage's)")
    parser.add_argument("--pretrain-on", metavar="DATASET",
                        help="pretrain the root on DATASET and lock it (e.g. mnist_t10k)")
    parser.add_argument("--pretrain-steps", type=int,
                        help="pretraining steps (default 3000; 30 with --quick)")
    parser.add_argument("--seed", type=int, default=0,
                        help="repeat number: other mutations, data orders and new weights "
                             "from the same root (0: the published run)")
    parser.add_argument("--baselines-from", metavar="JSON",
                        help="take (b)-(d) from this earlier result instead of training them "
                             "again; refused unless it has the same tasks, seed, budget and "
                             "root (only munet's settings may differ)")
    parser.add_argument("--name", default="quality",
                        help="file name of the results, e.g. quality_pretrained")
    parser.add_argument("--output-dir", default=results.DEFAULT_OUTPUT)
    parser.add_argument("--data-dir", default=os.environ.get("MUNET_TFDS_DATA_DIR"))
    args = parser.parse_args()
    if args.pretrain_steps is not None and not args.pretrain_on:
        parser.error("--pretrain-steps needs --pretrain-on DATASET")
    if args.own_embeddings and not args.pretrain_on:
        parser.error("--own-embeddings needs --pretrain-on DATASET: the random root is not "
                     "locked, so its children train all of it anyway")
    if args.validations is not None and args.validations < 1:
        parser.error(f"--validations must be at least 1, got {args.validations}; "
                     "1 trains each candidate for one validation interval (--steps)")
    if args.scale_factor is not None and not 0 < args.scale_factor <= 1:
        parser.error(f"--scale-factor must be in (0, 1], got {args.scale_factor}; "
                     "1.0 turns the size penalty off")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["MUNET_TRACKING"] = "off"  # Measure the method, not the bookkeeping.
    from munet.data import catalog
    from munet.store.repository import SystemStore
    from munet.system import init_system

    started = time.perf_counter()
    root, config = settings(args.quick, pretrained=bool(args.pretrain_on))
    root.own_embeddings = args.own_embeddings  # The baselines train or freeze them anyway.
    config["mutation_prob"] = None
    config["mutation_probs"] = args.mutation_probs
    if args.mutation_prob is not None:  # munet's own check of a task's starting value.
        try:
            config["mutation_prob"] = check_start_hparams(
                {"mutation_prob": args.mutation_prob}, dataclasses.asdict(root))["mutation_prob"]
        except InvalidInputError as error:
            parser.error(f"--mutation-prob: {error}")
    for key in ("rounds", "generations", "candidates", "steps", "validations", "batch_size",
                "scale_factor"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="munet-tfds-")
    tasks = args.tasks.split(",")
    specs = {}
    for task in tasks:
        spec = catalog.prepare(task, data_dir)
        spec["splits"] = catalog.resolve_splits(spec, carve_percent=args.validation_percent)
        spec["data_dir"] = data_dir
        specs[task] = spec
    weights = pretraining = None
    if args.pretrain_on:
        from munet.training.pretrain import DEFAULT_STEPS, pretrain_root

        steps = args.pretrain_steps
        if steps is None:
            steps = 30 if args.quick else DEFAULT_STEPS
        weights, pretraining = pretrain_root(root, args.pretrain_on, steps,
                                             data_dir=data_dir)  # Its default batch, 64.
        print(f"pretrained the root on {args.pretrain_on}: {pretraining}", flush=True)
    uri = tempfile.mkdtemp(prefix="munet-quality-")
    print(f"munet's system store (kept after the run, for inspection): {uri}", flush=True)
    init_system(uri, root, scale_factor=config["scale_factor"], root_weights=weights,
                pretraining=pretraining, mutation_probs=config["mutation_probs"])
    store = SystemStore(uri)
    manifest = store.load()  # Version 1: the root every approach starts from.
    per_baseline = baseline_steps(config, args.budget_rule)
    result = {
        "setting": "quick" if args.quick else "default",
        "root": dataclasses.asdict(root), "root_pretraining": pretraining,
        "root_digest": root_digest(manifest),
        "budget": config, "tasks": tasks, "seed": args.seed,
        "budget_rule": args.budget_rule, "validation_percent": args.validation_percent,
        "splits": {task: spec["splits"] for task, spec in specs.items()},
        "steps_per_task": munet_steps(config), "baseline_steps_per_task": per_baseline,
        "baselines_from": None,
    }
    figures = {}
    if args.baselines_from:  # Checked before munet spends its budget.
        try:
            reused, result["baselines_from"] = reused_baselines(args.baselines_from,
                                                                baseline_key(result))
        except InvalidInputError as error:
            parser.error(str(error))

    figures["munet"], report = run_munet(uri, specs, config, args.seed)
    if args.baselines_from:
        figures.update(reused)
    baseline_offset = draws(args.seed)[2]
    for mode in ("finetune", "scratch", "adapters"):
        if mode in figures:
            continue
        figures[mode] = {}
        for number, (task, spec) in enumerate(specs.items()):
            figures[mode][task] = train_baseline(store, manifest, mode, spec, config,
                                                 per_baseline, seed=baseline_offset + number)
            print(f"{mode} {task}: test {figures[mode][task]['test_accuracy']:.4f}", flush=True)
    root_params = manifest.root_params()
    head_free = root_params  # Root path params (no head).
    for mode in ("finetune", "scratch"):  # Separate models: nothing shared.
        for row in figures[mode].values():
            row["accounted_params"] = row["path_params"]
    for row in figures["adapters"].values():  # The frozen root is shared by all tasks.
        row["accounted_params"] = row["trainable_params"] + head_free / len(tasks)
    summary = {}
    for mode, rows in figures.items():
        summary[mode] = {
            "mean_test_accuracy": sum(r["test_accuracy"] for r in rows.values()) / len(rows),
            "mean_accounted_params": sum(r["accounted_params"] for r in rows.values()) / len(rows),
            "mean_trainable_params": sum(r["trainable_params"] for r in rows.values()) / len(rows),
        }
    system_params = {
        "munet": report["system_params"],
        "finetune": sum(r["path_params"] for r in figures["finetune"].values()),
        "scratch": sum(r["path_params"] for r in figures["scratch"].values()),
        "adapters": root_params + sum(r["trainable_params"] for r in figures["adapters"].values()),
    }
    gain = 100 * (summary["munet"]["mean_test_accuracy"]
                  - summary["finetune"]["mean_test_accuracy"])
    params_share = (summary["munet"]["mean_accounted_params"]
                    / summary["finetune"]["mean_accounted_params"])
    result.update({
        "figures": figures, "summary": summary, "system_params": system_params,
        "munet_report": report,
        "munet_minus_finetune_points": gain,
        "munet_params_share_of_finetune": params_share,
        "target": TARGET,
        "target_met": gain >= TARGET_POINTS and params_share <= TARGET_SHARE,
        "seconds": time.perf_counter() - started,
    })
    start = manifest.model("root")["hparams"]
    lines = [
        "# Quality: munet against per-task baselines", "",
        f"Same {describe_root(pretraining)} root ({root.width} wide, {root.depth} blocks, "
        f"{root_params:,} params, {'locked' if root.locked else 'not locked'}"
        f"{', every munet task owning its embeddings' if root.own_embeddings else ''}), "
        f"{describe_budget(config, args.budget_rule)}, size penalty scale "
        f"{config['scale_factor']}, batch {config['batch_size']}, every approach "
        f"starting from the root's hyperparameters ({start['optimizer']}, lr "
        f"{start['lr']}){describe_mutation_prob(config)}, repeat {args.seed}. Test "
        f"accuracy in %, params per task accounted (shared components split among the "
        f"tasks using them).", "",
        "| approach | " + " | ".join(tasks) + " | mean | trainable params / task | accounted "
        "params / task | system params |",
        "|---|" + "---|" * (len(tasks) + 4)]
    for mode, label in APPROACHES.items():
        rows = figures[mode]
        lines.append(f"| {label} | " + " | ".join(f"{100 * rows[t]['test_accuracy']:.2f}"
                                                  for t in tasks)
                     + f" | **{100 * summary[mode]['mean_test_accuracy']:.2f}** | "
                     f"{summary[mode]['mean_trainable_params']:,.0f} | "
                     f"{summary[mode]['mean_accounted_params']:,.0f} | "
                     f"{system_params[mode]:,} |")
    lines += ["", f"munet - full fine-tuning: **{gain:+.2f} points** of mean test accuracy "
              f"with **{100 * params_share:.0f}%** of its accounted params per task (target: "
              f">= +{TARGET_POINTS:g} point with <= {TARGET_SHARE:.0%}: "
              f"{'met' if result['target_met'] else 'not met'}). "
              f"munet backward transfer {report['backward_transfer']:+.4f}, forgetting "
              f"{report['forgetting']:.4f} (separate per-task models cannot forget).",
              f"{describe_failures(figures['munet'])}"
              f"Wall time {result['seconds'] / 60:.1f} min{describe_reuse(result)}.", "",
              "munet accuracy matrix (test %, tasks x system versions):", ""]
    header = [f"v{v}" for v in report["versions"]]
    lines.append("| task | " + " | ".join(header) + " |")
    lines.append("|---|" + "---|" * len(header))
    for task, row in report["accuracy_matrix"].items():
        lines.append(f"| {task} | " + " | ".join("-" if a is None else f"{100 * a:.2f}"
                                                 for a in row) + " |")
    markdown = "\n".join(lines) + "\n"
    print(markdown)

    figure, axes = results.subplots(figsize=(8, 4.5))
    for mode, label in APPROACHES.items():
        axes.scatter([summary[mode]["mean_accounted_params"]],
                     [100 * summary[mode]["mean_test_accuracy"]], s=80, label=label)
    axes.set_xscale("log")
    axes.set_xlabel("accounted params per task")
    axes.set_ylabel("mean test accuracy (%)")
    axes.legend()
    results.write_with_plot(args.name, args.quick, result, markdown, args.output_dir, figure)
    return result


if __name__ == "__main__":
    main()
