"""Validation of names that end up in storage paths (tasks, generations, candidates)."""

import re

from munet.errors import InvalidInputError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def check_name(name, what="task name"):
    """Returns `name` if it is safe to use as one path segment, else raises.

    A safe name is 1-100 characters of letters, digits, '_', '.', '-', starts
    with a letter or digit and is not made of dots only. This rules out '/',
    '..', empty names and anything a filesystem or object store would read as
    a path.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or set(name) == {"."}:
        raise InvalidInputError(
            f"Invalid {what}: received {name!r}. Expected 1-100 characters of letters, "
            "digits, '_', '.' or '-', starting with a letter or digit (no '/', no "
            "'..', not empty), because it becomes part of storage paths. "
            f"Fix: pick a name such as 'fashion_mnist' or 'my-task-2'."
        )
    return name


def generation_id(task, run_id, index):
    """A safe, deterministic generation id for generation `index` of an orchestrator run.

    The same (task, run, index) always gives the same id, so a retried stage finds the
    work its earlier attempt recorded.
    """
    import hashlib
    import re

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(run_id)).strip("-.")[:40]
    digest = hashlib.sha256(str(run_id).encode()).hexdigest()[:8]
    return check_name(f"{task}-{slug}-{digest}-g{int(index):02d}", "generation id")
