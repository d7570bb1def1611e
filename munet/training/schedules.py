"""Learning-rate schedules of the papers (method notes, section 1).

- constant: 0.5 x lr throughout;
- cosine: linear warm-up from lr/100 to lr, then cosine decay to lr/1000;
- restarts: SGDR, one cosine cycle (lr -> lr/1000) per validation interval;
- linear: linear warm-up from lr/100 to lr, then linear decay to lr/1000.
"""

import math

import keras
from keras import ops


class PathSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, schedule, lr, total_steps, warmup_ratio, cycle_steps):
        self.schedule = schedule
        self.lr = float(lr)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = int(round(warmup_ratio * self.total_steps))
        self.cycle_steps = max(int(cycle_steps), 1)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr, floor = self.lr, self.lr / 1000.0
        if self.schedule == "constant":
            return ops.full_like(step, 0.5 * lr)
        if self.schedule == "restarts":
            phase = ops.mod(step, self.cycle_steps) / self.cycle_steps
            return floor + 0.5 * (lr - floor) * (1.0 + ops.cos(math.pi * phase))
        warmup = max(self.warmup_steps, 1)
        warm = lr / 100.0 + (lr - lr / 100.0) * step / warmup
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        if self.schedule == "cosine":
            decayed = floor + 0.5 * (lr - floor) * (1.0 + ops.cos(math.pi * progress))
        elif self.schedule == "linear":
            decayed = lr - (lr - floor) * progress
        else:
            raise ValueError(
                f"Unknown learning-rate schedule {self.schedule!r}; expected one of "
                "'constant', 'cosine', 'restarts', 'linear'."
            )
        return ops.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        return {
            "schedule": self.schedule,
            "lr": self.lr,
            "total_steps": self.total_steps,
            "warmup_ratio": self.warmup_steps / self.total_steps,
            "cycle_steps": self.cycle_steps,
        }
