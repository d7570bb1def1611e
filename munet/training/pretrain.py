"""Pretraining the root ViT on a dataset of its own, before any task builds on it.

The papers start from a ViT pretrained elsewhere; this is the offline stand-in: the
root's components and a throwaway head train together on one dataset (all of it
trainable, AdamW, the trainer's usual best-validation weights), and the root's
components keep what they learned. Pick a dataset that no task will use, e.g.
mnist_t10k, whose images are in none of the catalogue's tasks.
"""

import dataclasses
import time

from munet.errors import InvalidInputError

DEFAULT_STEPS = 3000  # Of batch 64: about 2 minutes for the default root on 2 cores.


def pretrain_root(root, dataset, steps, batch_size=64, data_dir=None, seed=0,
                  max_validation_examples=2000, accelerator="auto", progress=None):
    """Trains `root` (a RootConfig) on `dataset`'s train split for `steps` steps.

    Returns (weights, figures): the weights of each root component by slot, starting
    from the root's own random init, and what the pretraining measured (validation
    accuracy on the dataset's validation split, steps, seconds).
    """
    from munet.data import catalog, pipeline
    from munet.evolution import hyperparameters
    from munet.model.assembly import Part, build_model, fresh_weights
    from munet.model.root import component_config, fresh_root_weights, root_slot_order
    from munet.training import devices, trainer

    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise InvalidInputError(
            f"Pretraining steps must be a positive integer; received {steps!r}. "
            f"E.g. {DEFAULT_STEPS} steps of batch 64."
        )
    root = root.validate()
    root_dict = dataclasses.asdict(root)
    spec = catalog.prepare(dataset, data_dir)
    splits = catalog.resolve_splits(spec)
    hparams = hyperparameters.root_hparams(dict(root_dict, locked=False))  # From scratch.
    weights = fresh_root_weights(root)
    parts = [Part(slot, kind, config, weights[slot], True)
             for slot, kind, config in root_slot_order(root)]
    head = component_config("head", root_dict, num_classes=spec["num_classes"])
    parts.append(Part("head", "head", head,
                      fresh_weights("head", head, root.seed * 1000 + 999, root.image_size), True))
    validations, steps_per_validation = validation_plan(steps)
    device, strategy = devices.make_strategy(accelerator)  # TPU/GPU as the stages do.
    start = time.perf_counter()
    with strategy.scope():
        model, layers = build_model(parts, root.image_size, name="root_pretraining")
        trainable = {part.slot: layers[part.slot] for part in parts}
        train = pipeline.training_input(spec, splits["train"], hparams, batch_size, seed)
        validation = pipeline.evaluation_input(spec, splits["validation"], hparams,
                                               batch_size, max_validation_examples)
        outcome = trainer.train(model, trainable, train, validation, hparams,
                                steps_per_validation, validations, batch_size, progress)
    best = outcome["best_weights"]
    figures = {
        "dataset": dataset,
        "tfds_name": spec["tfds_name"],
        "steps": steps,
        "batch_size": batch_size,
        "validation_accuracy": outcome["best_validation_accuracy"],
        "device": device,
        "seconds": time.perf_counter() - start,
    }
    return {slot: best[slot] for slot, _, _ in root_slot_order(root)}, figures


def validation_plan(steps):
    """(validations, steps between them): up to 10 validations, at least 100 steps
    apart where `steps` allows, splitting exactly `steps` steps into equal parts."""
    most = max(1, min(10, steps // 100))
    validations = next(v for v in range(most, 0, -1) if steps % v == 0)
    return validations, steps // validations
