import pytest

from munet.errors import InvalidInputError
from munet.training.devices import choose_device, make_strategy, tpu_address


def test_tpu_is_only_looked_for_when_configured():
    assert tpu_address(environ={}, device_files=[]) is None
    assert tpu_address(environ={"TPU_NAME": "my-tpu"}, device_files=[]) == "my-tpu"
    assert tpu_address(environ={}, device_files=["/dev/accel0"]) == "local"


@pytest.mark.parametrize("accelerator,tpu,gpus,expected", [
    ("auto", "local", 8, "tpu"),
    ("auto", None, 2, "multi_gpu"),
    ("auto", None, 1, "gpu"),
    ("auto", None, 0, "cpu"),
    ("gpu", "local", 1, "gpu"),
    ("cpu", "local", 4, "cpu"),
])
def test_preference_is_tpu_then_gpu_then_cpu(accelerator, tpu, gpus, expected):
    assert choose_device(accelerator, tpu, gpus) == expected


def test_asking_for_a_missing_accelerator_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="TPU_NAME"):
        choose_device("tpu", None, 0)
    with pytest.raises(InvalidInputError, match="sees no GPU"):
        choose_device("gpu", None, 0)
    with pytest.raises(InvalidInputError, match="expected one of"):
        choose_device("quantum", None, 0)


def test_on_this_cpu_machine_auto_selects_the_cpu(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("MUNET_TPU", raising=False)
    device, strategy = make_strategy("auto")
    assert device == "cpu"
    assert strategy.num_replicas_in_sync == 1
