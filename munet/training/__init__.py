"""Training a path: learning-rate schedules, the training loop, device selection."""
