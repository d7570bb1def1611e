"""Byte storage under one root URI: a local folder or any fsspec URL (gs://, memory://).

Only three write primitives are needed by the rest of munet:
- `write_atomic`: replace an object so readers see the old or the new bytes, never a mix;
- `create_exclusive`: create an object only if it does not exist (the compare-and-swap
  that makes commits safe between concurrent writers);
- `write_once`: content-addressed writes (skipped when the object already exists).

Reads are `read_bytes` and `read_many` (many small objects at once: concurrent
requests on fsspec backends such as gcsfs, where one request per object in turn
would make a cold load of a large system slow).
"""

import os
import tempfile

_GCS_SCHEMES = ("gs://", "gcs://")


def open_storage(uri):
    """Returns the `Storage` for a system URI: a local path or a URL with a scheme."""
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError(
            f"Invalid system URI: received {uri!r}. Expected a local folder path or a URL "
            "such as 'gs://bucket/prefix'."
        )
    if "://" not in uri or uri.startswith("file://"):
        return LocalStorage(uri[len("file://"):] if uri.startswith("file://") else uri)
    return FsspecStorage(uri)


def gcs_options_from_env():
    """gcsfs options from the environment, so production vs. test is configuration.

    MUNET_GCS_TOKEN: passed as gcsfs `token` ('anon' for emulators; unset = default
        credentials, the production setting).
    MUNET_GCS_ENDPOINT (or STORAGE_EMULATOR_HOST): an emulator URL such as
        http://127.0.0.1:9023.
    MUNET_GCS_PROJECT: the GCP project, if needed.
    """
    options = {}
    token = os.environ.get("MUNET_GCS_TOKEN")
    endpoint = os.environ.get("MUNET_GCS_ENDPOINT") or os.environ.get("STORAGE_EMULATOR_HOST")
    project = os.environ.get("MUNET_GCS_PROJECT")
    if token:
        options["token"] = token
    if endpoint:
        options["endpoint_url"] = endpoint
        options.setdefault("token", "anon")
        # gcsfs's bucket-type probe speaks gRPC over TLS, which emulators do not: it
        # would wait 60 s per bucket. Takes effect if gcsfs is not imported yet.
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    if project:
        options["project"] = project
    return options


def _read_each(storage, keys):
    found = {}
    for key in keys:
        try:
            found[key] = storage.read_bytes(key)
        except FileNotFoundError:
            found[key] = None
    return found


class LocalStorage:
    """A folder on a local (or mounted) filesystem."""

    def __init__(self, root):
        self.root = os.path.abspath(os.path.expanduser(root))
        self.uri = self.root

    def _path(self, key):
        return os.path.join(self.root, *key.split("/"))

    def exists(self, key):
        return os.path.exists(self._path(key))

    def read_bytes(self, key):
        with open(self._path(key), "rb") as f:
            return f.read()

    def read_many(self, keys):
        """key -> bytes, or None for a key that does not exist."""
        return _read_each(self, keys)

    def _write_temp(self, key, data):
        path = self._path(key)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            os.unlink(temp)
            raise
        return temp, path

    def write_atomic(self, key, data):
        temp, path = self._write_temp(key, data)
        os.replace(temp, path)

    def create_exclusive(self, key, data):
        """Returns True if this call created `key`, False if it already existed."""
        temp, path = self._write_temp(key, data)
        try:
            os.link(temp, path)  # fails if `path` exists: atomic create-if-absent
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)

    def write_once(self, key, data):
        if not self.exists(key):
            self.create_exclusive(key, data)

    def list(self, prefix):
        """Names directly under the folder `prefix` (empty list if it does not exist)."""
        folder = self._path(prefix)
        if not os.path.isdir(folder):
            return []
        return sorted(n for n in os.listdir(folder) if not n.startswith(".tmp-"))


class FsspecStorage:
    """Any fsspec filesystem; on Google Cloud Storage through gcsfs.

    GCS writes of one object are atomic, and exclusive creation uses the
    `ifGenerationMatch=0` precondition (gcsfs's pipe_file(mode="create")), so commits
    are as safe as on a local disk: GCS answers a create of an existing object with
    412 Precondition Failed, which gcsfs raises as FileExistsError and
    `create_exclusive` returns as False (the writer lost the race). Local emulators
    may ignore the precondition (gcp-storage-emulator does); tests/store/test_gcs.py
    checks the request and the 412 handling on the HTTP traffic instead.
    Other fsspec backends get a best-effort exclusive create (check, then write).
    """

    def __init__(self, uri):
        import fsspec  # Imported here: local stores never need it.

        options = {}
        if uri.startswith(_GCS_SCHEMES):
            # No metadata caching: heads and manifests must be read fresh every time.
            options = {"cache_timeout": 0, **gcs_options_from_env()}
        self.fs, self.root = fsspec.core.url_to_fs(uri, **options)
        self.root = self.root.rstrip("/")
        self.uri = uri.rstrip("/")
        self._is_gcs = uri.startswith(_GCS_SCHEMES)

    def _path(self, key):
        return f"{self.root}/{key}"

    def exists(self, key):
        return self.fs.exists(self._path(key))

    def read_bytes(self, key):
        return self.fs.cat_file(self._path(key))

    def read_many(self, keys):
        """key -> bytes, or None for a key that does not exist (one concurrent batch)."""
        keys = list(keys)
        if len(keys) <= 1:
            return _read_each(self, keys)
        paths = {self._path(key): key for key in keys}
        results = self.fs.cat(list(paths), on_error="return")
        found = {}
        for path, key in paths.items():
            value = results.get(path, results.get(self.fs._strip_protocol(path)))
            if isinstance(value, FileNotFoundError):
                value = None
            elif isinstance(value, BaseException) or not isinstance(value, (bytes, type(None))):
                value = _read_each(self, [key])[key]  # Retry it alone.
            elif value is None and path not in results:
                value = _read_each(self, [key])[key]
            found[key] = value
        return found

    def write_atomic(self, key, data):
        self.fs.pipe_file(self._path(key), data)

    def create_exclusive(self, key, data):
        path = self._path(key)
        try:
            self.fs.pipe_file(path, data, mode="create")
            return True
        except FileExistsError:
            return False
        except TypeError:  # Backends whose pipe_file has no `mode` argument.
            if self.fs.exists(path):
                return False
            self.fs.pipe_file(path, data)
            return True

    def write_once(self, key, data):
        if not self.exists(key):
            self.create_exclusive(key, data)

    def list(self, prefix):
        path = self._path(prefix)
        try:
            entries = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)
