"""munet: grow one modular multitask model over time, muNet style.

The core library. It imports no orchestrator (Airflow, Kubeflow) and imports
TensorFlow/Keras only in the modules that build, train or evaluate models.
"""

__version__ = "0.1.0"
