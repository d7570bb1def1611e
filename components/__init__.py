"""The five pipeline components: one module per stage of the continual development
methodology. Each exposes `run(...)` over plain values and URIs and a command line
(`python -m components.<module> --help`) that calls the same function, prints its
result as JSON on the last line of stdout, and with --xcom-file also writes it where
a container orchestrator collects it (KubernetesPodOperator: /airflow/xcom/return.json).
"""
