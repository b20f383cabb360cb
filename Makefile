# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install translations browser demo test lint clean

install: $(STAMP) translations

# Reinstall only when the dependency list changes; keeps `make test` fast and idempotent.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compiled message catalogues are build output (not committed); rebuilt when a .po changes.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/*.po web/*/translations/*/LC_MESSAGES/*.po))

translations: $(MO_FILES)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

demo: install
	$(BIN)/motcua demo $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed when missing and
# we may (root); otherwise those tests are skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is not installed (apt-get install chromium): browser tests will be skipped"; fi; }

test: install browser
	$(BIN)/ruff check engine web adapters tests benchmarks
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check engine web adapters tests benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache
