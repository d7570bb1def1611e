"""Errors munet raises on purpose.

Every message says what was received, what was expected and how to fix it.
"""


class MunetError(Exception):
    """Base class of every error munet raises on purpose."""


class InvalidInputError(MunetError, ValueError):
    """A user-supplied value (name, option, configuration) is not acceptable."""


class UnknownDatasetError(InvalidInputError):
    """A dataset name that neither TFDS nor munet's offline catalogue knows."""


class EmptyDatasetError(InvalidInputError):
    """A dataset split that holds no examples."""


class StoreNotFoundError(MunetError):
    """No munet system exists at the given URI."""


class StoreExistsError(MunetError):
    """`init` was asked to create a system where one already exists."""


class CorruptBlobError(MunetError):
    """A weights blob whose bytes do not match its content hash."""


class CorruptManifestError(MunetError):
    """A manifest that is not valid JSON or lacks required fields."""


class ConcurrentCommitError(MunetError):
    """A commit kept losing the race for the head and gave up."""
