import numpy as np
import pytest

from munet.training.schedules import PathSchedule


def values(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def test_cosine_warms_up_from_a_hundredth_then_decays_to_a_thousandth():
    schedule = PathSchedule("cosine", 0.1, total_steps=100, warmup_ratio=0.1, cycle_steps=50)
    lr = values(schedule, [0, 5, 10, 55, 100])
    assert lr[0] == pytest.approx(0.001)
    assert lr[0] < lr[1] < lr[2] == pytest.approx(0.1)
    assert lr[2] > lr[3] > lr[4] == pytest.approx(1e-4)


def test_constant_restarts_and_linear():
    assert values(PathSchedule("constant", 0.1, 10, 0.1, 5), [0, 9]) == pytest.approx([0.05, 0.05])
    restarts = values(PathSchedule("restarts", 0.1, 100, 0.0, 25), [0, 24, 25])
    assert restarts[0] == pytest.approx(0.1) and restarts[1] < 0.01
    assert restarts[2] == pytest.approx(0.1)
    linear = values(PathSchedule("linear", 0.1, 100, 0.0, 25), [0, 50, 100])
    assert linear == pytest.approx([0.1, 0.05005, 1e-4], rel=1e-4)


def test_unknown_schedule_names_the_choices():
    with pytest.raises(ValueError, match="constant"):
        PathSchedule("wavy", 0.1, 10, 0.1, 5)(1)
