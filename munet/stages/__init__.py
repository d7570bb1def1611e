"""The five stages of the continual development methodology, as plain functions.

ingest -> generate -> train (per candidate) -> evaluate (per candidate) -> commit.
Each takes plain values and a system URI, reads and writes only the store, and is
idempotent: run again with the same inputs it returns the same result and commits
nothing twice. components/ wraps each with a command line; dags/ and pipelines/
chain them.
"""
