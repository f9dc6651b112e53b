# Steelyard: `make run` starts the server (embedded default), `make test` runs every check.
# Both install what is missing first: Debian packages (as root) and Python packages into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := haproxy keepalived iproute2 nftables procps
STAMP := $(VENV)/.steelyard-installed
TEST_STAMP := $(VENV)/.steelyard-test-installed

.PHONY: run test system-deps lint demo clean-state

run: $(STAMP)
	$(BIN)/steelyard serve

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	# Unit and end-to-end tests on two workers (each e2e server has its own names and subnet);
	# integration tests one at a time (they use fixed link names under the "tc" prefix).
	$(BIN)/pytest -n 2 --dist loadfile tests/unit tests/e2e
	$(BIN)/pytest tests/integration

demo: $(STAMP)
	$(BIN)/steelyard demo

system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run as root to install)"; exit 1; fi; \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml | system-deps
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# Benchmarks (bench/README.md): root and the netns driver; one at a time, figures printed and
# written to bench/results/<name>.json. bench-deps installs wrk (Debian) and, if the shared
# Octavia peer is there, its venv (for throughput's side-by-side; optional, ~20 s once).
.PHONY: bench bench-deps

bench: bench-deps
	$(BIN)/python -m bench.create_to_first_200
	$(BIN)/python -m bench.member_change
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.protection_throughput
	$(BIN)/python -m bench.protection_flood
	$(BIN)/python -m bench.health_ingest
	$(BIN)/python -m bench.failover
	$(BIN)/python -m bench.handover

bench-deps: $(STAMP)
	@dpkg -s wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian package: wrk (run as root to install)"; exit 1; fi; \
		echo "installing Debian package: wrk"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }; \
	}
	@if [ -f ../shared/peer-octavia/setup_venv.sh ]; then \
		bash ../shared/peer-octavia/setup_venv.sh || echo "Octavia peer venv failed: throughput runs without it"; \
	else echo "no ../shared/peer-octavia: throughput runs without the Octavia side"; fi
