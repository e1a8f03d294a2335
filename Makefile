# The two commands: `make run` and `make test`. Everything else here is the set-up they need,
# done when missing and skipped when in place.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test setup setup-browser lint clean-state

run: setup
	$(BIN)/gas up

test: setup setup-browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The two slow first-run installs (LocalStack, the reference bundles) run side by side.
setup: $(STAMP)
	@$(BIN)/gas local install & installing=$$!; \
	  $(BIN)/gas reference install-defaults; references=$$?; \
	  wait $$installing; cloud=$$?; \
	  test $$references -eq 0 && test $$cloud -eq 0

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $(STAMP)

# Browser tests drive Debian's Chromium (a test tool's own browser download cannot work here).
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-state:
	-$(BIN)/gas local down
	rm -rf .gas
