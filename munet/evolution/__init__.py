"""The evolutionary method: hyperparameter lists, mutations, parent sampling, scores."""
