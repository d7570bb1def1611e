"""Picking the distribution strategy at run time: a TPU, else GPUs, else the CPU.

`choose_device` is a pure decision (tested on any machine); `make_strategy` builds
the TensorFlow strategy for it. A TPU is only looked for when one is configured
(TPU_NAME / MUNET_TPU, or a TPU VM's /dev/accel* device files): resolving a TPU
with nothing configured would query the cloud metadata server.
"""

import glob
import os

from munet.errors import InvalidInputError

ACCELERATORS = ("auto", "tpu", "gpu", "cpu")


def tpu_address(environ=None, device_files=None):
    """The configured TPU ('local' on a TPU VM), or None."""
    environ = os.environ if environ is None else environ
    device_files = glob.glob("/dev/accel*") if device_files is None else device_files
    address = environ.get("MUNET_TPU") or environ.get("TPU_NAME")
    if address:
        return address
    return "local" if device_files else None


def choose_device(accelerator, tpu, num_gpus):
    """Returns 'tpu', 'multi_gpu', 'gpu' or 'cpu' for the requested accelerator."""
    if accelerator not in ACCELERATORS:
        raise InvalidInputError(
            f"Unknown accelerator {accelerator!r}; expected one of {ACCELERATORS}."
        )
    if accelerator in ("auto", "tpu") and tpu:
        return "tpu"
    if accelerator == "tpu":
        raise InvalidInputError(
            "accelerator='tpu' but no TPU is configured. Fix: set TPU_NAME (or MUNET_TPU) "
            "to the TPU's name or 'local' on a TPU VM, or use accelerator='auto'."
        )
    if accelerator in ("auto", "gpu") and num_gpus:
        return "multi_gpu" if num_gpus > 1 else "gpu"
    if accelerator == "gpu":
        raise InvalidInputError(
            "accelerator='gpu' but TensorFlow sees no GPU. Fix: install a GPU build of "
            "TensorFlow with its drivers, or use accelerator='auto'."
        )
    return "cpu"


def make_strategy(accelerator="auto"):
    """Returns (device kind, tf.distribute.Strategy)."""
    import tensorflow as tf

    address = tpu_address() if accelerator in ("auto", "tpu") else None
    num_gpus = len(tf.config.list_physical_devices("GPU"))
    device = choose_device(accelerator, address, num_gpus)
    if device == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return device, tf.distribute.TPUStrategy(resolver)
    if device == "multi_gpu":
        return device, tf.distribute.MirroredStrategy()
    # One device: the default strategy places ops on the GPU if there is one, else the
    # CPU, without the per-step cost of distributing the input pipeline.
    return device, tf.distribute.get_strategy()
