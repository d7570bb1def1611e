import numpy as np
import pytest

from munet.errors import CorruptBlobError
from munet.store.blobs import BlobStore, blob_key
from munet.store.storage import open_storage


def test_round_trip_is_exact_and_content_addressed(tmp_path):
    blobs = BlobStore(open_storage(str(tmp_path)))
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((4,), np.float32)]
    digest = blobs.put(arrays)
    assert blobs.put([a.copy() for a in arrays]) == digest  # Same content, same name.
    loaded = blobs.get(digest)
    assert [a.tobytes() for a in loaded] == [a.tobytes() for a in arrays]
    assert (tmp_path / blob_key(digest)).read_bytes()[:8] != b"\x80\x04\x95"  # Not a pickle.


def test_one_flipped_byte_is_detected_and_named(tmp_path):
    blobs = BlobStore(open_storage(str(tmp_path)))
    digest = blobs.put([np.zeros((10, 10), np.float32)])
    path = tmp_path / blob_key(digest)
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptBlobError) as error:
        blobs.get(digest, what="component 'x:head'")
    message = str(error.value)
    assert "x:head" in message and digest in message and "Fix:" in message


def test_missing_blob_says_what_is_missing(tmp_path):
    blobs = BlobStore(open_storage(str(tmp_path)))
    with pytest.raises(CorruptBlobError, match="missing"):
        blobs.get("ab" * 32)
