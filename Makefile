# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install translations assets browser demo test lint clean

install: $(STAMP) translations assets

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

# The case page's process diagram uses bpmn-js from npm (pinned in package-lock.json). Its viewer
# bundle, CSS and font are copied to web/static/vendor/ (build output, not committed); the lock
# is reinstalled only when it changes. Without npm the case page shows the history, no diagram.
NPM := $(shell command -v npm 2>/dev/null)
NPM_STAMP := node_modules/.installed
BPMN_JS := node_modules/bpmn-js
VENDOR_BPMN := web/static/vendor/bpmn-js
VENDOR_FILES := $(VENDOR_BPMN)/LICENSE $(addprefix $(VENDOR_BPMN)/,bpmn-navigated-viewer.production.min.js \
  assets/diagram-js.css assets/bpmn-js.css assets/bpmn-font/css/bpmn.css \
  $(addprefix assets/bpmn-font/font/bpmn.,woff2 woff ttf eot svg))

ifneq ($(NPM),)
assets: $(VENDOR_FILES)
else
assets:
	@echo "npm is not installed: the case page will show the history without the process diagram (install Node.js and npm, then run make install)"
endif

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

$(VENDOR_BPMN)/LICENSE: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp $(BPMN_JS)/LICENSE $@

$(VENDOR_BPMN)/%: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp $(BPMN_JS)/dist/$* $@

demo: install
	$(BIN)/motcua demo $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed when missing and
# we may (root); otherwise those tests are skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium is not installed (apt-get install chromium): browser tests will be skipped"; fi; }

test: install browser
	$(BIN)/ruff check engine web adapters tests benchmarks
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check engine web adapters tests benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules web/static/vendor
