"""What the store's history says, and how it is shown: lineage, the continual-learning
report, pictures, and the MLflow records that mirror every commit.

The store is the source of truth. Everything here is derived from it and can be
re-derived at any time (`munet sync-mlflow`).
"""
