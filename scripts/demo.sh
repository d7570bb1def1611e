#!/usr/bin/env bash
# The main job: create a system and add real tasks to it through the munet_add_task
# Airflow DAG (a real DAG run on an embedded SQLite metadata DB), then show the system.
# Everything lives under ./var (override with MUNET_HOME). Re-running it revisits the
# tasks: the DAG runs add generations to the existing system.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
export PATH="$ROOT/$VENV/bin:$PATH"
export MUNET_HOME=${MUNET_HOME:-$ROOT/var}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$MUNET_HOME/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export MUNET_SYSTEM_URI=${MUNET_SYSTEM_URI:-$MUNET_HOME/system}
export MUNET_TFDS_DATA_DIR=${MUNET_TFDS_DATA_DIR:-$MUNET_HOME/tensorflow_datasets}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# MLflow tracks every commit: a SQLite file and an artifact folder under $MUNET_HOME.
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///$MUNET_HOME/mlflow.db}
mkdir -p "$AIRFLOW_HOME" "$MUNET_TFDS_DATA_DIR"

echo "== Airflow metadata DB (SQLite) in $AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1

if ! munet --system "$MUNET_SYSTEM_URI" status > /dev/null 2>&1; then
  echo "== Creating the system at $MUNET_SYSTEM_URI"
  munet --system "$MUNET_SYSTEM_URI" init
fi

add_task() {  # task dataset generations candidates steps validations
  local conf
  conf=$(printf '{"task": "%s", "dataset": "%s", "generations": %s, "candidates": %s, "steps_per_validation": %s, "validations": %s, "system_uri": "%s"}' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$MUNET_SYSTEM_URI")
  echo "== airflow dags test munet_add_task -c '$conf'"
  local log="$AIRFLOW_HOME/munet_add_task-$1.log"
  airflow dags test munet_add_task -c "$conf" > "$log" 2>&1 || true
  if ! grep -aq "state=success\|DagRunState.SUCCESS\|state: success" "$log" \
      || ! munet --system "$MUNET_SYSTEM_URI" status --json | python -c \
        "import json,sys; sys.exit(0 if '$1' in json.load(sys.stdin)['tasks'] else 1)"; then
    echo "The munet_add_task run for $1 failed; its log: $log" >&2
    grep -a "error\|Error" "$log" | tail -5 >&2
    exit 1
  fi
  echo "   done (log: $log)"
}

add_task fashion_mnist fashion_mnist 2 3 100 3
add_task digits digits 2 3 50 2

echo "== The system"
munet --system "$MUNET_SYSTEM_URI" status
munet --system "$MUNET_SYSTEM_URI" show --out "$MUNET_HOME/pictures" > "$MUNET_HOME/show.txt"
echo "== Pictures and the continual-learning report: $MUNET_HOME/pictures, $MUNET_HOME/show.txt"
echo "== Lineage in the MLflow UI: MLFLOW_TRACKING_URI=$MLFLOW_TRACKING_URI $VENV/bin/munet ui"
