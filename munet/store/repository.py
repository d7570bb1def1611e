"""The versioned system store: versions, a head pointer and commits.

Layout under the system URI:
  versions/00000001.json   one small immutable version object per version: the header
                           (format, version, parent_version, created_at, author,
                           message), the root shard's digest and the top of the index
                           of task shards. The versions are the history, the lineage.
  shards/sha256/..         one content-addressed JSON slice of the manifest per owner
  index/sha256/..          the index of task shards (see pieces.py and index.py)
  HEAD                     the latest version number, a hint kept up to date after commits
  blobs/sha256/..          component weights (see blobs.py)
  tasks/, generations/     ingestion records, candidate specs and results (see stages/)

Every version is whole: its object names, through the index, every shard of the
system at that version. Shards and index nodes are immutable and shared between
versions; a commit writes only the ones that changed (a task's commit: its shard, one
leaf, one inner node), so it costs what changed, not the size of the system.

A commit writes its new pieces first (content-addressed, created once), then version
N+1 with an exclusive create (`create_exclusive`: a link on a local disk, an
`ifGenerationMatch=0` precondition on GCS). That create is the compare-and-swap on
the head: exactly one writer creates version N+1; a writer that finds it taken is
stale, reloads version N+1, re-applies its change and tries N+2 (pieces it wrote for
the lost attempt are harmless: nothing refers to them). Version objects appear whole
or not at all and only after the pieces they name, so a crash at any instant leaves
the last commit loadable. HEAD is then moved with an atomic replace; readers start
from HEAD and step forward while a newer version exists, so a HEAD left behind by a
crash, or written out of order by two writers, is never wrong, only a few steps short.
Every piece is checked against its SHA-256 when read; a damaged or missing one is a
CorruptManifestError that names it.
"""

import datetime
import getpass
import os
import random
import socket
import time

from munet.errors import ConcurrentCommitError, StoreExistsError, StoreNotFoundError
from munet.store.blobs import BlobStore
from munet.store.commits import plan_commit
from munet.store.manifest import FORMAT, HEADER_KEYS, Manifest
from munet.store.storage import open_storage
from munet.store.versions import State, load_state

MAX_COMMIT_ATTEMPTS = 100


def version_key(version):
    return f"versions/{version:08d}.json"


def default_author():
    return os.environ.get("MUNET_AGENT") or f"{getpass.getuser()}@{socket.gethostname()}"


def utc_now(timestamp=None):
    """ISO 8601 UTC time of `timestamp` (seconds since the epoch; default now)."""
    moment = datetime.datetime.fromtimestamp(
        time.time() if timestamp is None else timestamp, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def _header(version, author, message):
    """The header of a new version `version`, committed now."""
    return dict(format=FORMAT, version=version, parent_version=version - 1 or None,
                created_at=utc_now(), author=author or default_author(), message=message)


class SystemStore:
    """Reads versions of one system and commits new ones."""

    def __init__(self, uri):
        self.uri = uri
        self.storage = open_storage(uri)
        self.blobs = BlobStore(self.storage)

    # Reading -------------------------------------------------------------------------

    def exists(self):
        return self.storage.exists(version_key(1))

    def _check_exists(self):
        if not self.exists():
            raise StoreNotFoundError(
                f"No munet system at {self.uri!r} (expected {version_key(1)} there). "
                f"Fix: create one with `munet --system {self.uri} init`, or check the URI."
            )

    def head_version(self):
        """The latest committed version number."""
        self._check_exists()
        try:
            version = int(self.storage.read_bytes("HEAD").decode().strip())
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            version = 1  # HEAD missing or damaged: it is only a hint, walk from the start.
        while self.storage.exists(version_key(version + 1)):
            version += 1
        while version > 1 and not self.storage.exists(version_key(version)):
            version -= 1  # A HEAD pointing past the history cannot be trusted.
        return version

    def _state(self, version):
        key = version_key(version)
        try:
            raw = self.storage.read_bytes(key)
        except FileNotFoundError:
            raise StoreNotFoundError(
                f"Version {version} does not exist in {self.uri!r} (head is "
                f"{self.head_version()}). Fix: pass a version between 1 and the head."
            ) from None
        return load_state(self.storage, version, key, raw)

    def load(self, version=None):
        """The manifest at `version` (default: the head).

        Its entries are shared with the process's cache of immutable versions: do not
        change them in place (see manifest.py); `Manifest.copy()` gives a private one.
        """
        self._check_exists()
        version = self.head_version() if version is None else int(version)
        return self._state(version).view()

    def versions(self):
        return list(range(1, self.head_version() + 1))

    # Writing -------------------------------------------------------------------------

    def create(self, manifest_data, author=None):
        """Writes version 1 of a new system; fails if one exists."""
        header = _header(1, author, manifest_data.get("message", "init"))
        data = {k: v for k, v in manifest_data.items() if k not in HEADER_KEYS}
        plan = plan_commit(self.storage, State.empty(self.storage.uri), Manifest(data),
                           header)
        if self.exists():
            raise self.exists_error()
        if not self._publish(plan, 1):
            raise self.exists_error()
        return plan.committed_state().view()

    def _publish(self, plan, version):
        """Writes the plan's pieces, then creates version `version` if it is free (the
        compare-and-swap) and moves HEAD to it; False if another writer took it."""
        for key, raw in plan.pieces:
            self.storage.write_once(key, raw)
        if not self.storage.create_exclusive(version_key(version), plan.version_raw):
            return False
        self.storage.write_atomic("HEAD", f"{version}\n".encode())
        return True

    def exists_error(self):
        """The error refusing to create a system over this one."""
        return StoreExistsError(
            f"A munet system already exists at {self.uri!r}. Fix: use it as it is "
            f"(`munet --system {self.uri} status`), or pick another URI for a new system."
        )

    def commit(self, change, message, author=None, task=None):
        """Applies `change(manifest) -> manifest | None` to the head and commits it.

        `change` receives a working copy of the head manifest. It returns the new
        manifest (normally the one it received), or None when there is nothing to
        commit (then the head is returned unchanged). When another writer commits
        first, `change` runs again on the new head, so it must be a pure function of
        the manifest.

        `task`: the task this commit is about. Then the working copy's top-level dicts
        are new, the task's entries (record, models, components) and the root's are
        private copies, every other entry is shared with the head and must not be
        changed in place (replace or delete it instead); the commit re-encodes only the
        task, the root and the owners of the entries the change set or deleted, so it
        costs what changed. Without `task` the working copy is a deep copy of the whole
        system and every shard is re-encoded (any change is allowed, at the system's
        size).
        """
        self._check_exists()
        for attempt in range(MAX_COMMIT_ATTEMPTS):
            head = self._state(self.head_version())
            working = head.working_copy(task) if task is not None else head.private_copy()
            updated = change(working)
            if updated is None:
                return head.view()
            header = _header(head.version + 1, author, message)
            plan = plan_commit(self.storage, head, updated, header)
            if self._publish(plan, header["version"]):
                return plan.committed_state().view()
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # Lost the race: retry.
        raise ConcurrentCommitError(
            f"Gave up committing {message!r} to {self.uri!r} after {MAX_COMMIT_ATTEMPTS} "
            "attempts: other writers kept committing first. Nothing was lost. Fix: retry "
            "when fewer writers are active."
        )
