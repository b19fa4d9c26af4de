# o2o-cdp — `make demo` and `make test` each create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
export DO_NOT_TRACK := 1
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: install install-spark demo lint test ui browser java bench bench-scaling bench-splink clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir .
	touch $@

install: $(STAMP)

## pyspark and dbt-spark, for the Spark engine and its tests (a ~450 MB wheel, built once).
$(SPARK_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,spark]"
	touch $@

install-spark: $(SPARK_STAMP)

## Generate a small sample landing zone and materialise every asset on it.
demo: install
	$(BIN)/cdp generate --people 2000 --seed 7
	$(BIN)/cdp run

## Lint, format check and type check (ruff, mypy on the stage packages); part of `make test`.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The whole test suite, after the lint.
test: lint install-spark
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

## Debian's Chromium and its WebDriver, for the browser test (tests/browser). Needs root and apt.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	   chromium chromium-driver)

## Java 17 for the Spark engine's tests (tests/spark). Needs root and apt.
java:
	@command -v java >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	   openjdk-17-jre-headless)

## The Dagster UI on http://127.0.0.1:3000.
ui: install
	$(BIN)/cdp ui

## Generator + end-to-end benchmark (PEOPLE=10000 by default).
bench: install
	$(BIN)/python benchmarks/bench_end_to_end.py --people $(or $(PEOPLE),10000)

## Full run and daily run per size tier (TIERS="S M" by default; L is 2 M people).
bench-scaling: install
	$(BIN)/python benchmarks/bench_scaling.py --tiers $(or $(TIERS),S M)

## Our identity engine vs Splink on a built workdir (WORKDIR=/tmp/o2o-cdp-bench-200000 by default;
## Splink goes to its own venv, benchmarks/.venv-splink, on first use).
bench-splink: install
	$(BIN)/python benchmarks/bench_splink.py --workdir $(or $(WORKDIR),/tmp/o2o-cdp-bench-200000)

clean:
	rm -rf data/landing data/warehouse.duckdb* data/marts.duckdb data/exports data/dagster dbt_project/target dbt_project/logs
