"""The versioned system store: manifests, a head pointer and commits.

Layout under the system URI:
  versions/00000001.json   one immutable manifest per version (the history, the lineage)
  HEAD                     the latest version number, a hint kept up to date after commits
  blobs/sha256/..          component weights (see blobs.py)
  tasks/, generations/     ingestion records, candidate specs and results (see stages/)

A commit writes manifest N+1 with an exclusive create (`create_exclusive`: a link on a
local disk, an `ifGenerationMatch=0` precondition on GCS). That create is the
compare-and-swap on the head: exactly one writer creates version N+1; a writer that
finds it taken is stale, reloads version N+1, re-applies its change and tries N+2.
Manifests appear whole or not at all, so a crash at any instant leaves the last
commit loadable. HEAD is then moved with an atomic replace; readers start from HEAD
and step forward while a newer manifest exists, so a HEAD left behind by a crash, or
written out of order by two writers, is never wrong, only a few steps short.
"""

import datetime
import getpass
import os
import random
import socket
import time

from munet.errors import ConcurrentCommitError, CorruptManifestError, StoreExistsError
from munet.errors import StoreNotFoundError
from munet.store.blobs import BlobStore
from munet.store.manifest import FORMAT, Manifest
from munet.store.storage import open_storage

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
                f"Fix: create one with `munet init {self.uri}`, or check the URI."
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

    def load(self, version=None):
        """The manifest at `version` (default: the head)."""
        self._check_exists()
        version = self.head_version() if version is None else int(version)
        key = version_key(version)
        try:
            raw = self.storage.read_bytes(key)
        except FileNotFoundError:
            raise StoreNotFoundError(
                f"Version {version} does not exist in {self.uri!r} (head is "
                f"{self.head_version()}). Fix: pass a version between 1 and the head."
            ) from None
        manifest = Manifest.from_bytes(raw, f"{self.uri}/{key}")
        if manifest.version != version:
            raise CorruptManifestError(
                f"Manifest {self.uri}/{key} says it is version {manifest.version}. Fix: "
                "restore that file from a backup."
            )
        return manifest

    def versions(self):
        return list(range(1, self.head_version() + 1))

    # Writing -------------------------------------------------------------------------

    def create(self, manifest_data, author=None):
        """Writes version 1 of a new system; fails if one exists."""
        data = dict(manifest_data, format=FORMAT, version=1, parent_version=None)
        data.update(created_at=utc_now(), author=author or default_author())
        data.setdefault("message", "init")
        if not self.storage.create_exclusive(version_key(1), Manifest(data).to_bytes()):
            raise StoreExistsError(
                f"A munet system already exists at {self.uri!r}. Fix: use it as it is "
                "(`munet status`), or pick another URI for a new system."
            )
        self.storage.write_atomic("HEAD", b"1\n")
        return Manifest(data)

    def commit(self, change, message, author=None):
        """Applies `change(manifest) -> manifest | None` to the head and commits it.

        `change` receives a private copy of the head manifest. It returns the new
        manifest, or None when there is nothing to commit (then the head is
        returned unchanged). When another writer commits first, `change` runs
        again on the new head, so it must be a pure function of the manifest.
        """
        self._check_exists()
        for attempt in range(MAX_COMMIT_ATTEMPTS):
            head = self.load()
            updated = change(head.copy())
            if updated is None:
                return head
            updated.data.update(
                format=FORMAT,
                version=head.version + 1,
                parent_version=head.version,
                created_at=utc_now(),
                author=author or default_author(),
                message=message,
            )
            if self.storage.create_exclusive(version_key(updated.version), updated.to_bytes()):
                self.storage.write_atomic("HEAD", f"{updated.version}\n".encode())
                return updated
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # Lost the race: retry.
        raise ConcurrentCommitError(
            f"Gave up committing {message!r} to {self.uri!r} after {MAX_COMMIT_ATTEMPTS} "
            "attempts: other writers kept committing first. Nothing was lost. Fix: retry "
            "when fewer writers are active."
        )
