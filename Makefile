# Two commands do all set-up: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: run test venv dryrun lint fmt bench clean preflight

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "transferscope needs Python >= 3.11 (Snakemake 9); $(PYTHON) is $$($(PYTHON) -V 2>&1). Use make PYTHON=python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,slurm]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config.yaml
	$(BIN)/snakemake --cores 1 --configfile config.yaml --report results/report.html

# Rule files formatted (snakefmt) and lint-free (snakemake --lint exits 1 on any lint) before the tests run. Two
# pytest-xdist workers keep both cores busy while one waits on a single-threaded dry run; each module stays on one
# worker, slow modules first (tests/conftest.py). The SLURM tests (marker cluster) mostly wait on the queue: they run beside the others,
# their report printed after theirs.
test: lint
	@$(BIN)/python -m pytest -q -m cluster -p no:cacheprovider > .pytest-cluster.log 2>&1 & cluster=$$!; \
	$(BIN)/python -m pytest -q -m "not cluster" -n 2 --dist loadfile --durations=12; rc=$$?; \
	wait $$cluster; crc=$$?; echo "--- tests/test_cluster.py (marker cluster, run alongside) ---"; \
	cat .pytest-cluster.log; rm -f .pytest-cluster.log; exit $$(( rc ? rc : (crc == 5 ? 0 : crc) ))

# Before a SLURM run: every job's and group's CPUs, memory, runtime, GPUs and partition against `sinfo`; submits
# nothing. make preflight CONFIG=configs/thesis_a_cnn.yaml [PROFILE=profiles/slurm] [ARGS="--cores 4"]
PROFILE ?= profiles/slurm
CONFIG ?= config.yaml
preflight: $(STAMP)
	TRANSFERSCOPE_PREFLIGHT=only $(BIN)/snakemake --workflow-profile $(PROFILE) --executor slurm --configfile $(CONFIG) $(ARGS)

dryrun: $(STAMP)
	$(BIN)/snakemake -n --configfile config.yaml

lint: $(STAMP)
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint --configfile config.yaml

fmt: $(STAMP)
	$(BIN)/snakefmt Snakefile rules/

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_metrics.py --repeats 3
	$(BIN)/python benchmarks/bench_training.py --epochs 3 --threads 2 --repeats 3
	$(BIN)/python benchmarks/bench_multiseed.py
	$(BIN)/python benchmarks/bench_rtd_loss.py --repeats 1
	$(BIN)/python benchmarks/bench_ph_backends.py --repeats 3
	$(BIN)/python benchmarks/bench_step_cost.py --threads 2
	$(BIN)/python benchmarks/bench_memory.py

clean:
	rm -rf results/* .snakemake
