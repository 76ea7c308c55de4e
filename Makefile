# The front door. `make run` and `make test` need nothing but Python 3.11+ and make on PATH.
#
# Installs read the hashed lock files and resolve nothing (see README, "Installing"):
#   requirements-uv.lock   the installer, uv, at one version (installed by the Python's own pip)
#   requirements.lock      what the service needs at run time (make run)
#   requirements-dev.lock  that plus the test, lint and browser tools (make test, make lint)
# `uv pip sync` installs exactly the pinned, hash-checked files and removes anything else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
stamp = $(VENV)/.installed-$(1)-$(shell cat $(2) pyproject.toml | cksum | cut -d' ' -f1)
RUN_STAMP := $(call stamp,run,requirements.lock)
DEV_STAMP := $(call stamp,dev,requirements-dev.lock)
# uv uses the Python it is given and never downloads one, nor reads a user's uv.toml.
export UV_PYTHON_DOWNLOADS := never
export UV_NO_CONFIG := 1

.PHONY: install install-dev run test lint format bench lock clean cluster cluster-down

# The dev set includes the run-time set at the same versions, so either one serves `make run`.
install: $(if $(wildcard $(DEV_STAMP)),$(DEV_STAMP),$(RUN_STAMP))
install-dev: $(DEV_STAMP)

$(UV): requirements-uv.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "featwright needs Python 3.11+")'
	rm -rf $(TOOLS)/uv
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/python -m pip install --quiet --disable-pip-version-check \
		--no-deps --require-hashes -r requirements-uv.lock
	touch $@

$(RUN_STAMP): requirements.lock pyproject.toml | $(UV)
	$(call sync,requirements.lock)

$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(UV)
	$(call sync,requirements-dev.lock)

define sync
	test -x $(BIN)/python || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes --compile-bytecode $(1)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(UV) pip check --quiet --python $(BIN)/python
	rm -f $(VENV)/.installed-*
	touch $@
endef

run: install
	$(BIN)/featwright db upgrade
	$(BIN)/featwright serve

# pytest exits 5 when it ran no test: that is a failure too, said plainly. pytest-xdist runs a
# worker per core, each test module whole on one worker (module fixtures are built once), each
# worker on a PostgreSQL database of its own (tests/conftest.py). PYTEST_WORKERS=0 runs in one.
PYTEST_WORKERS ?= auto
test: install-dev
	@status=0; $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --cov --cov-report=term \
		$(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest ran no test" >&2; fi; exit $$status

# HAProxy, 3 featwright processes, 2 PostgreSQL nodes under Patroni (primary and synchronous
# standby, each with its PgBouncer), etcd, the route to the primary, Redis: on 127.0.0.1 only.
cluster: install
	deploy/cluster.sh up

cluster-down:
	deploy/cluster.sh down

lint: install-dev
	$(BIN)/ruff check src tests migrations deploy
	$(BIN)/ruff format --check src tests migrations deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff check --fix src tests migrations deploy
	$(BIN)/ruff format src tests migrations deploy

# featwright against the raw Starlette + asyncpg baseline (see bench/run.sh for knobs).
bench: install
	bench/run.sh

# Re-resolve every lock to today's releases (`make lock UPGRADE=` keeps the pinned versions
# and only adds what pyproject.toml newly asks for); then `make test` says if it is safe.
UPGRADE ?= --upgrade
LOCK = $(UV) pip compile --quiet --generate-hashes --python-version 3.11 --universal $(UPGRADE)
lock: $(UV)
	echo 'uv' | $(LOCK) - -o requirements-uv.lock
	echo 'setuptools>=75' | $(LOCK) pyproject.toml - -o requirements.lock
	echo 'setuptools>=75' | $(LOCK) pyproject.toml - --extra dev -c requirements.lock \
		-o requirements-dev.lock

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .coverage
