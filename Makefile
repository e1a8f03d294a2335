# The two commands: `make run` and `make test`. Everything else here is the set-up they need,
# done when missing and skipped when in place.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# The integration tests mostly wait on workflows, so 3 workers overlap those waits on 2 cores; a
# module stays on one worker (tests/conftest.py). The 25 slowest tests are listed at the end.
PYTEST_WORKERS ?= 3

.PHONY: run test setup setup-dev setup-browser setup-bio-tools setup-rcrs lint clean-state

run: setup
	$(BIN)/gas up

test: setup setup-dev setup-browser setup-bio-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)

# First-run set-up is mostly downloads: LocalStack's venv and the reference sources start at once
# (their entry points need only the standard library), beside the project's venv; then the
# bundles are built (with the rCRS for MT, below). Each step is skipped when already done.
setup:
	@PYTHONPATH=. $(PYTHON) -m infra.localcloud install & cloud=$$!; \
	  PYTHONPATH=. $(PYTHON) -m annotator.downloads & sources=$$!; \
	  $(MAKE) --no-print-directory setup-rcrs & rcrs=$$!; \
	  $(MAKE) --no-print-directory $(STAMP_RUN); venv=$$?; \
	  wait $$sources; fetched=$$?; wait $$rcrs; \
	  test $$venv -eq 0 && test $$fetched -eq 0 && $(BIN)/gas reference install-defaults; built=$$?; \
	  wait $$cloud; installed=$$?; \
	  test $$venv -eq 0 && test $$fetched -eq 0 && test $$built -eq 0 && test $$installed -eq 0

$(STAMP_RUN): setup.cfg setup.py pyproject.toml annotator/_lines.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e .
	@touch $(STAMP_RUN)

setup-dev: $(STAMP_DEV)

$(STAMP_DEV): $(STAMP_RUN) infra/checkov-requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	@# checkov pins its own boto3, so it lives in a venv of its own (the template test runs it).
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --disable-pip-version-check -q -r infra/checkov-requirements.txt
	@touch $(STAMP_DEV)

# Browser tests drive Debian's Chromium (a test tool's own browser download cannot work here).
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The output tests check the bgzipped VCF with Debian's bcftools and tabix, as researchers would.
setup-bio-tools: setup-rcrs
	@command -v bcftools >/dev/null 2>&1 && command -v tabix >/dev/null 2>&1 || { \
	  echo "installing Debian's bcftools and tabix for the output tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bcftools tabix >/dev/null; }

# The human mitochondrial genome (rCRS, 16,569 bp) that `gas reference install-defaults` adds to
# both bundles' MT, so MT variants get full consequences out of the box: Debian's minimap2 package
# ships it as a test file. Where apt-get cannot install it, MT stays coordinates-only (install-
# defaults says so) and the tests that need it skip.
RCRS_FASTA := /usr/share/doc/minimap2/test/MT-human.fa.gz
setup-rcrs:
	@test -f $(RCRS_FASTA) || { \
	  echo "installing Debian's minimap2 for the human mitochondrial genome (rCRS)…"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq minimap2 >/dev/null; } \
	    || echo "note: minimap2 not installed: MT consequences will be coordinates-only"; }

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean-state:
	-$(BIN)/gas local down
	rm -rf .gas
