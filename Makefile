# The interface to the Maestro shared libraries. `make` alone lists the targets.
# <pkg> is a package folder: resilience, audit-logger, test-adapters, test-result-aggregator.

PKGS := resilience audit-logger test-adapters test-result-aggregator
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RELEASE := $(BIN)/python -m maestro_devtools.release
# C source compiled in place by the editable install (test-result-aggregator/hatch_build.py)
SPEEDUPS := test-result-aggregator/src/maestro_test_result_aggregator/formats/_junit_speedups.c
PYTEST_ARGS ?= -n auto --dist loadfile
# Runs side by side (CI runs latest and lowest together) each keep their own pytest temp folder.
TMPDIR ?= /tmp

.DEFAULT_GOAL := help
.PHONY: help dev lock test test-latest test-lowest venv-latest venv-lowest test-under-load lint types build release index check-tags bench docs clean \
	$(addprefix test-,$(PKGS)) $(addprefix build-,$(PKGS)) $(addprefix publish-,$(PKGS)) $(addprefix bump-,$(PKGS))

##: help                    | list the targets
help:
	@echo "Maestro shared libraries. Usage: make <target>   (<pkg>: $(PKGS))"
	@echo
	@sed -n 's/^##: \([^|]*\)| \(.*\)/  \1 \2/p' $(MAKEFILE_LIST)
	@echo
	@echo "Publishing to Nexus: MAESTRO_NEXUS_URL (hosted repository upload URL) with MAESTRO_NEXUS_USER and"
	@echo "MAESTRO_NEXUS_PASSWORD, or MAESTRO_NEXUS_REPOSITORY (a ~/.pypirc section), or keyring."
	@echo "Without MAESTRO_NEXUS_URL: the embedded index in .index/ (a plain NEXUS_URL is ignored)."
	@echo "DRY_RUN=1 uploads nothing; ALLOW_DIRTY=1 publishes from a dirty tree; V=1 is verbose;"
	@echo "STRICT=1 refuses an index that advertises no file hashes; MAESTRO_NEXUS_CHECK_URL names its simple index."

# requirements/dev.in names what .venv holds; requirements/dev.lock (from `make lock`) pins it.
LOCK := requirements/dev.lock
LOCAL := requirements/local.txt
UV := $(BIN)/uv
# The packages our own folders provide: never taken from an index, never written to a lock, and
# their metadata read afresh (uv caches a local project's metadata: after a version bump it kept
# resolving the old version, and test-adapters' `>=2.0,<3` on it became unsatisfiable).
OWN := maestro-resilience maestro-audit-logger maestro-test-result-aggregator maestro-test-adapters maestro-devtools
NO_EMIT := $(foreach p,$(OWN),--no-emit-package $(p) --refresh-package $(p))
COMPILE = $(UV) pip compile requirements/dev.in --quiet --python-version 3.11 --custom-compile-command "make lock" $(NO_EMIT)

$(STAMP): $(foreach p,$(PKGS),$(p)/pyproject.toml $(wildcard $(p)/src/*/__about__.py)) tools/pyproject.toml $(LOCK) $(LOCAL) \
		$(SPEEDUPS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -r $(LOCAL)
	$(BIN)/python -m pip check
	@touch $@

##: lock                    | re-resolve requirements/dev.lock to the newest versions allowed (on purpose only)
lock: $(STAMP)
	$(COMPILE) --universal --generate-hashes --upgrade -o $(LOCK)
	@echo "requirements/dev.lock refreshed: review the diff, then 'make dev test' before committing it"

##: dev                     | create .venv with all four packages (editable, all extras) and the dev tools
dev: $(STAMP)

##: test                    | run the whole shared test suite (in parallel: PYTEST_ARGS="-n auto --dist loadfile")
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

##: test-latest             | the suite in random order on the newest versions the ranges allow (not the lock)
##: test-lowest             | the suite in random order on the lowest versions each pyproject declares
# Users install our ranges, not our lock: these resolve requirements/dev.in afresh into
# .venv-latest / .venv-lowest (uv's --resolution highest / lowest-direct) and run everything there.
# The release pipeline (tools/, marker `release`) runs only from the lock, never from ranges: its
# tests stay in `make test`, the range runs cover what users install. So do the differential and
# third-party suites: they pin their own tool versions (npm lock, sdists), whatever the ranges say.
RANGE_PYTEST_ARGS ?= -m "not release and not differential and not thirdparty"
test-latest: RESOLUTION := highest
test-lowest: RESOLUTION := lowest-direct
test-latest test-lowest: test-%: venv-%
	.venv-$*/bin/python -m pytest $(PYTEST_ARGS) -p randomly --basetemp=$(TMPDIR)/maestro-suite-$* $(RANGE_PYTEST_ARGS)

venv-latest: RESOLUTION := highest
venv-lowest: RESOLUTION := lowest-direct
venv-latest venv-lowest: venv-%: $(STAMP)
	$(PYTHON) -m venv --clear .venv-$*
	$(COMPILE) --resolution $(RESOLUTION) -o .venv-$*/requirements.txt
	$(UV) pip install --quiet --python .venv-$*/bin/python --no-deps -r .venv-$*/requirements.txt
	$(UV) pip install --quiet --python .venv-$*/bin/python --no-deps --no-build-isolation -r $(LOCAL)
	.venv-$*/bin/python -m pip check
	@grep -oE '^[a-z0-9_.-]+==[^ ;]+' .venv-$*/requirements.txt | sort > .venv-$*/pins.txt
	@echo "$*: versions that differ from requirements/dev.lock (a failure below is about one of these):"
	@grep -oE '^[a-z0-9_.-]+==[^ ;]+' $(LOCK) | sort -u | comm -13 - .venv-$*/pins.txt | tr '\n' ' '; echo

##: test-under-load         | the timing-sensitive tests (marker 'timing') LOAD_ROUNDS times while busy loops load every core
LOAD_ROUNDS ?= 3
test-under-load: $(STAMP)
	$(BIN)/python -m maestro_devtools.load --rounds $(LOAD_ROUNDS) -- $(BIN)/python -m pytest $(PYTEST_ARGS) -p randomly -m timing

##: test-<pkg>              | run one package's tests
$(addprefix test-,$(PKGS)): test-%: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) tests/$(subst -,_,$*)

##: lint                    | ruff check and ruff format --check
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

##: types                   | mypy --strict on every package and the tools
types: $(STAMP)
	$(BIN)/mypy

##: build                   | build sdist + wheel of every package into dist/<pkg>/, then twine check --strict
build: $(STAMP)
	$(RELEASE) build

##: build-<pkg>             | build one package
$(addprefix build-,$(PKGS)): build-%: $(STAMP)
	$(RELEASE) build $*

##: release                 | the main job: build all, publish missing files, verify installs from the index
release: $(STAMP)
	$(RELEASE) release

##: publish-<pkg>           | release one package (DRY_RUN=1 says what it would upload)
$(addprefix publish-,$(PKGS)): publish-%: $(STAMP)
	$(RELEASE) release $*

##: index                   | serve the embedded index (.index/) at http://127.0.0.1:8089/simple/ (INDEX_PORT=...)
index: $(STAMP)
	$(RELEASE) index

##: bump-<pkg>              | PART=patch|minor|major|rc|release|major,rc|2.0.0: bump the version, open a CHANGELOG section
$(addprefix bump-,$(PKGS)): bump-%: $(STAMP)
	@test -n "$(PART)" || { echo "usage: make bump-$* PART=patch|minor|major|rc|release (major,rc: the first candidate of the next major)"; exit 2; }
	$(RELEASE) bump $* $(PART)

##: check-tags              | every changelog section of a published version has its <pkg>-v<version> tag
check-tags: $(STAMP)
	$(RELEASE) check-tags

##: bench                   | run the benchmarks in bench/ (tables of ratios against peers)
bench: $(STAMP)
	$(BIN)/python bench/run.py

##: docs                    | check the docstrings render, then build the docs site into site/ (strict: warnings fail)
docs: $(STAMP)
	$(BIN)/python -m maestro_devtools.docstrings
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

##: clean                   | remove build output, caches and the docs site (keeps .venv and .index)
clean:
	rm -rf dist site .venv-latest .venv-lowest .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
