"""Hyperparameters of a path: defaults and the sorted value lists mutations step along.

Values follow muNet's auto-tune lists (method notes, section 2.1), with image sizes
scaled to the small root (multiples of its patch size) and augmentation off by
default (as from mu2Net+ on). `mutation_prob` is itself a hyperparameter (mu2Net).

`shift` is ours too: a random translation of up to that fraction of the image side
(zero padding, then a crop back to size). Unlike the papers' Inception crop it moves
an image without rescaling it: the usual augmentation for small centred images such
as Fashion-MNIST's. `erase` is ours as well: random erasing (Zhong et al., 2017),
the probability that a training image has one random rectangle (2% to 40% of its
area, aspect 0.3 to 3.3) replaced by noise. So is `label_smoothing`, the weight of
the uniform distribution mixed into the training targets. `flip_average` is
test-time augmentation: when on, the path's inference logits (validation, test, any
prediction) are the mean of its logits for the image and for its mirror image, so
it suits the same data as `flip`. It is part of what the path predicts, so it is
chosen on validation like any other value, and it costs a second forward pass at
inference only.

`optimizer` is ours, not the papers': "sgd" (with momentum, the papers' choice for
fine-tuning a pretrained root) or "adamw" (which trains a random-init root from
scratch faster here). The two want learning rates about ADAMW_LR_RATIO apart, so
a mutation that switches the optimizer also moves lr by that ratio.

A task may name starting hyperparameters when it is added (`check_start_hparams`):
they replace the parent's values in every child the task takes from another task or
the root, before mutation (e.g. flip on for a dataset where mirror images are still
the same class). Children of the task's own models inherit as usual.
"""

import math

from munet.errors import InvalidInputError

LR_VALUES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1]
SCHEDULES = ["constant", "cosine", "restarts", "linear"]
COLOUR_DELTAS = [0.0, 0.01, 0.02, 0.05, 0.1, 0.2]
SHIFTS = [0.0, 0.04, 0.08, 0.12, 0.16, 0.2]  # Of the image side: 0 to 6 pixels at 28.
LABEL_SMOOTHINGS = [0.0, 0.05, 0.1, 0.15, 0.2]
ERASE_PROBS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]  # Share of training images with a rectangle erased.
OPTIMIZERS = ["sgd", "adamw"]
ADAMW_LR_RATIO = 25.0  # sgd lr / adamw lr for the same task (0.05 vs 2e-3).
ADAMW_WEIGHT_DECAY = 0.05

STATIC_VALUES = {
    "adapter_dim": [8, 16, 32, 64, 128],
    "lr": LR_VALUES,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "warmup_ratio": [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4],
    "momentum": [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
    "nesterov": [False, True],
    "crop": [False, True],
    "crop_area_min": [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
    "crop_aspect_min": [0.25, 0.5, 0.75, 1.0],
    "flip": [False, True],
    "flip_average": [False, True],
    "shift": SHIFTS,
    "erase": ERASE_PROBS,
    "label_smoothing": LABEL_SMOOTHINGS,
    "brightness": COLOUR_DELTAS,
    "contrast": COLOUR_DELTAS,
    "saturation": COLOUR_DELTAS,
    "hue": COLOUR_DELTAS,
    "mutation_prob": [0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.22, 0.24, 0.26, 0.28, 0.3],
}

STATIC_DEFAULTS = {
    "adapter_dim": 32,
    "lr": 0.05,
    "optimizer": "sgd",  # What paths stored before `optimizer` existed trained with.
    "schedule": "cosine",
    "warmup_ratio": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "crop": False,
    "crop_area_min": 0.05,
    "crop_aspect_min": 0.75,
    "flip": False,
    "flip_average": False,  # Paths stored before it existed predict from the image alone.
    "shift": 0.0,
    "erase": 0.0,
    "label_smoothing": 0.0,
    "brightness": 0.0,
    "contrast": 0.0,
    "saturation": 0.0,
    "hue": 0.0,
    "mutation_prob": 0.1,
}


def value_lists(root):
    """All mutable hyperparameters and their sorted values, for this root."""
    patch, size = root["patch_size"], root["image_size"]
    image_sizes = [s for s in range(size - 3 * patch, size + 2 * patch, patch) if s >= 2 * patch]
    return dict(
        STATIC_VALUES,
        num_layers=list(range(1, root["depth"] + 1)),
        image_size=image_sizes,
    )


def defaults(root):
    """Values for any key a stored path lacks (paths from older versions included)."""
    return dict(STATIC_DEFAULTS, num_layers=root["depth"], image_size=root["image_size"])


def averages_mirrors(hparams):
    """Whether a path with these hyperparameters predicts from the image and its mirror
    (`flip_average`); paths stored before it existed lack it and use the image alone."""
    return bool(hparams.get("flip_average", STATIC_DEFAULTS["flip_average"]))


def root_hparams(root):
    """The root model's hyperparameters, which its children start from.

    A locked root is fine-tuned through clones, as in the papers: SGD with momentum.
    A root that is not locked trains from its random init: AdamW, at the lr matching
    SGD's default (2e-3).
    """
    hparams = defaults(root)
    if not root.get("locked", True):
        hparams.update(optimizer="adamw", lr=matching_lr(hparams["lr"], "sgd", "adamw"))
    return hparams


def matching_lr(lr, old_optimizer, new_optimizer):
    """The list's lr nearest to `lr` moved by the two optimizers' usual ratio."""
    if old_optimizer == new_optimizer:
        return lr
    ratio = ADAMW_LR_RATIO if old_optimizer == "sgd" else 1 / ADAMW_LR_RATIO
    return min(LR_VALUES, key=lambda value: abs(math.log(value) - math.log(lr / ratio)))


def check_start_hparams(start_hparams, root):
    """`start_hparams` ({key: value}, values typed or as text) checked against this
    root's value lists; returns them with each value as its list entry."""
    if not isinstance(start_hparams, dict):
        raise InvalidInputError(
            f"Starting hyperparameters must be a mapping of name to value; received "
            f"{start_hparams!r}. Fix: pass e.g. {{\"flip\": true}}."
        )
    lists = value_lists(root)
    checked = {}
    for key, value in sorted(start_hparams.items()):
        if key not in lists:
            raise InvalidInputError(
                f"Unknown hyperparameter {key!r}; expected one of {sorted(lists)}. "
                "Fix: correct the name."
            )
        match = next((entry for entry in lists[key] if _same_value(entry, value)), None)
        if match is None:
            raise InvalidInputError(
                f"Hyperparameter {key!r} cannot start at {value!r}; expected one of "
                f"{lists[key]}. Fix: pick a value from that list."
            )
        checked[key] = match
    return checked


def apply_start_hparams(hparams, start_hparams):
    """`hparams` with the task's starting values (an optimizer switch without an lr
    moves lr too); returns (new hparams, mutation labels)."""
    new = dict(hparams, **start_hparams)
    if new["optimizer"] != hparams["optimizer"] and "lr" not in start_hparams:
        new["lr"] = matching_lr(hparams["lr"], hparams["optimizer"], new["optimizer"])
    labels = [f"start:{key}:{hparams[key]}->{new[key]}"
              for key in sorted(new) if new[key] != hparams.get(key)]
    return new, labels


def _same_value(entry, value):
    if isinstance(value, str) and not isinstance(entry, str):
        value = _from_text(value, entry)
    if isinstance(entry, bool) or isinstance(value, bool):
        return type(entry) is type(value) and entry == value  # True is not 1 here.
    return entry == value


def _from_text(text, like):
    """'true'/'0.05' (command line) as the type of `like`; None if it does not parse."""
    text = text.strip().lower()
    if isinstance(like, bool):
        return {"true": True, "false": False}.get(text)
    try:
        return float(text)
    except ValueError:
        return None


def step(values, current, rng):
    """One step up or down (p=0.5 each, clipped at the ends) in a sorted value list."""
    if current in values:
        index = values.index(current)
    else:  # A value from an older list: start from the nearest one.
        index = min(range(len(values)), key=lambda i: _distance(values[i], current))
    index = min(max(index + (1 if rng.random() < 0.5 else -1), 0), len(values) - 1)
    return values[index]


def _distance(a, b):
    try:
        return abs(float(a) - float(b))
    except (TypeError, ValueError):
        return 0.0 if a == b else 1.0
