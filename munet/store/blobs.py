"""Component weights as immutable, content-addressed blobs.

A blob is a safetensors file (a JSON header plus raw little-endian arrays: no
pickle, nothing executable) holding one component's arrays in order, keyed
"w000", "w001", ... Its name is the SHA-256 of its bytes, checked on every read.
"""

import hashlib

import numpy as np
from safetensors.numpy import load as _load_safetensors
from safetensors.numpy import save as _save_safetensors

from munet.errors import CorruptBlobError


def blob_key(digest):
    return f"blobs/sha256/{digest[:2]}/{digest}.safetensors"


def encode_arrays(arrays):
    """Serialises a list of numpy arrays; returns (bytes, sha256 hex digest)."""
    tensors = {f"w{i:03d}": np.ascontiguousarray(a) for i, a in enumerate(arrays)}
    data = _save_safetensors(tensors, metadata={"format": "munet.component/1"})
    return data, hashlib.sha256(data).hexdigest()


class BlobStore:
    """Reads and writes weight blobs in a `Storage`."""

    def __init__(self, storage):
        self.storage = storage

    def put(self, arrays):
        """Stores the arrays (once) and returns their digest."""
        data, digest = encode_arrays(arrays)
        self.storage.write_once(blob_key(digest), data)
        return digest

    def get(self, digest, what="component"):
        """Returns the list of arrays of blob `digest`, after checking its hash."""
        key = blob_key(digest)
        try:
            data = self.storage.read_bytes(key)
        except FileNotFoundError:
            raise CorruptBlobError(
                f"The weights of {what} are missing: expected blob {key} under "
                f"{self.storage.uri}. The store was changed outside munet. Fix: restore "
                "the 'blobs/' folder from a backup or copy of this store."
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise CorruptBlobError(
                f"The weights of {what} are corrupted: blob {key} under {self.storage.uri} "
                f"has SHA-256 {actual}, expected {digest}. The file was modified after it "
                "was written (disk error or manual edit). munet refuses to load it. Fix: "
                "restore that file from a backup or copy of this store; every other "
                "component and version is unaffected."
            )
        try:
            tensors = _load_safetensors(data)
        except Exception as error:  # A hash match with an unreadable body: report it.
            raise CorruptBlobError(
                f"Blob {key} of {what} matches its hash but cannot be decoded ({error})."
            ) from error
        return [tensors[f"w{i:03d}"] for i in range(len(tensors))]
