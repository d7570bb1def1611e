"""Tasks' data: offline sources, TFDS builders, the dataset catalogue and input pipelines."""
