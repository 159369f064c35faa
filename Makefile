# The README's two commands are `make demo` and `make test`; both set the workspace up first
# (scripts/setup.sh is idempotent: seconds when nothing changed).
SHELL := /bin/bash
ENV := source scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast lint bench eval eval-quick clean fleet-bench

setup:
	bash scripts/setup.sh

demo: setup
	$(ENV) python -m hitl_bringup.demo $(DEMO_ARGS)

test: setup
	$(ENV) bash scripts/run_tests.sh $(PYTEST_ARGS)

test-fast: setup
	$(ENV) bash scripts/run_tests.sh -m "not slow" $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check .

bench: setup
	$(ENV) python bench/uncertainty.py && python bench/sim.py && python bench/effort_bound.py

# fleet benchmark without ROS (bench/fleet.py; sizes: docs/fleet.md): bench/results/fleet.json + fleet.png
fleet-bench: setup
	$(ENV) python bench/fleet.py $(FLEET_ARGS)

# the papers' tables on the MuJoCo tasks (28 min on 2 idle cores, 3322 CPU s, on a fast day; ~56 min at the slowest day's speed: docs/results.md);
# SIM=kinematic runs them on wave 1's simulator. eval-quick: every pipeline at CI size (kinematic).
SIM ?= mujoco
QUICK_SIM ?= kinematic
eval: setup
	$(ENV) python -m hitl_bringup.eval --sim $(SIM) --docs docs/results.md

eval-quick: setup
	$(ENV) python -m hitl_bringup.eval --quick --sim $(QUICK_SIM) --out bench/results/quick

clean:
	rm -rf build install log .setup-stamps
