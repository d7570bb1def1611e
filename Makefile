# The two commands of README.md:
#   make demo   adds real tasks to a new system through the munet_add_task Airflow DAG
#   make test   runs the test suite
# Both install what they need first (scripts/setup.sh).
VENV ?= .venv

.PHONY: setup demo test test-fast
setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile

test-fast: setup
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile -m "not slow"
