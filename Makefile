# The two commands of the quickstart: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# opentelemetry-distro kept beside the venv, not in it, so tests can show both
# "only otel-dynamiq installed" and "beside the stock distro".
STOCK_DISTRO := $(VENV)/stock-distro

# dynamiq imports litellm, which would download a price map without this.
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test lint typecheck pytest matrix compat fleet browser bench clean

# pip installs uv, and uv the rest: the same packages from the same index, in seconds instead of minutes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,instruments]'
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --upgrade --target $(STOCK_DISTRO) opentelemetry-distro
	touch $(STAMP)

# Waits for Enter only at a terminal, so the viewer stays open; DEMO_ARGS=--no-wait (or --wait) decides.
demo: $(STAMP)
	$(BIN)/python -m examples.demo $(DEMO_ARGS)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers (pytest-xdist): most tests wait on subprocesses and sockets, so the suite keeps both cores busy.
# A worker that runs out of tests takes half of what the other has left (worksteal), so the slowest tests,
# scheduled first, end together. PYTEST_ARGS="-n 0 tests/delivery" runs a part in one process.
PYTEST_ARGS ?= -n 2 --dist worksteal
pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The test suite on the other supported Pythons (pyenv's 3.10, 3.12 and 3.13), a virtualenv each (.venv-3.X).
# MATRIX_PYTHONS="3.12" runs one; MATRIX_ARGS passes pytest arguments.
MATRIX_PYTHONS ?= 3.10 3.12 3.13
matrix: $(STAMP)
	.ci/matrix $(MATRIX_PYTHONS) -- $(MATRIX_ARGS)

# Dynamiq's own test suite, plain and instrumented: every test must have the same outcome (about 10 minutes).
# COMPAT_ARGS="--dynamiq 0.65.0" tests another release.
compat: $(STAMP)
	$(BIN)/python tests/compat/run_compat.py $(COMPAT_ARGS)

# The gateway behind a real OpenTelemetry Collector, built from its modules (needs Go; the first build
# takes minutes, later ones reuse .cache/otelcol: hence the longer per-test timeout), and a Node.js sender (needs
# Node.js and npm).
fleet: $(STAMP)
	$(BIN)/pytest -m fleet -s --timeout 900 tests/gateway/test_fleet.py tests/gateway/test_vercel_ai.py tests/gateway/test_ai_sdk_7.py

# The trace viewer in a real browser: Debian's chromium (apt-get install chromium) driven by Playwright.
# Screenshots land in .cache/viewer/.
browser: $(STAMP)
	$(BIN)/pytest -m browser tests/collector/test_viewer_browser.py

# viewer_scale and viewer_insights_scale drive Debian's chromium, as `make browser` does (apt-get install chromium).
BENCHMARKS := encoder_choice caller_latency tracing_floor polling concurrency export_throughput export_profile instrumentation_cost memory_outage spool_drain collector_limits gateway gateway_limits short_lived first_flush process_ends nested_call_marker asyncio_profile asyncio_gc asyncio_survivors asyncio_cpu asyncio_parts asyncio_floor viewer_scale viewer_insights_scale

# Every benchmark at full size (about 30 minutes on 2 cores; viewer_scale needs chromium and 1.5 GB in $TMPDIR);
# BENCH_ARGS=--tiny for a smoke run.
bench: $(STAMP)
	@for name in $(BENCHMARKS); do echo "== $$name"; $(BIN)/python benchmarks/$$name.py $(BENCH_ARGS) || exit 1; echo; done

clean:
	rm -rf $(VENV) .venv-3.* .compat .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/node_sender/node_modules tests/node_sender_ai7/node_modules
