# The two commands of the README are `make demo` and `make test`; everything else comes after.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast bench airflow rehearse clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test,production,bench]'
	touch $(STAMP)

demo: setup          ## set up, then replay the 2019 night through Airflow and publish a signed site
	$(BIN)/enr demo

test: setup          ## the whole test suite (Airflow, gpg, Great Expectations; PostgreSQL if ENR_TEST_PG_URL)
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

bench: setup         ## benchmarks; figures go to BENCHMARKS.md
	$(BIN)/python bench/run_all.py

airflow: setup       ## Airflow UI with these DAGs on http://127.0.0.1:8080
	$(BIN)/enr airflow

clean:
	rm -rf .enr
