# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install translations assets designer-test browser demo test lint clean

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
NODE := $(shell command -v node 2>/dev/null)
NPM_STAMP := node_modules/.installed
BPMN_JS := node_modules/bpmn-js
VENDOR_BPMN := web/static/vendor/bpmn-js
VENDOR_FILES := $(VENDOR_BPMN)/LICENSE $(addprefix $(VENDOR_BPMN)/,bpmn-navigated-viewer.production.min.js \
  assets/diagram-js.css assets/bpmn-js.css assets/bpmn-font/css/bpmn.css \
  $(addprefix assets/bpmn-font/font/bpmn.,woff2 woff ttf eot svg))

# The process designer's bundle (docs/designer-client.md): our sources under web/designer/client/
# bundled with bpmn-js, its properties panel and bpmnlint by esbuild into one minified script, one
# stylesheet and the fonts it names. Rebuilt when a client source or the lock changes.
DESIGNER_SRC := web/designer/client
DESIGNER_OUT := web/static/vendor/designer
DESIGNER_SOURCES := $(shell find $(DESIGNER_SRC) -type f \( -name '*.js' -o -name '*.json' -o -name '*.css' \) \
  -not -path '*/test/*' 2>/dev/null)
DESIGNER_TESTS := $(sort $(wildcard $(DESIGNER_SRC)/test/*.test.mjs $(DESIGNER_SRC)/*/test/*.test.mjs))
ESBUILD := node_modules/.bin/esbuild
ESBUILD_FLAGS := --bundle --minify --log-level=warning
DESIGNER_FILES := $(DESIGNER_OUT)/designer.js $(DESIGNER_OUT)/designer.css

ifneq ($(NPM),)
assets: $(VENDOR_FILES) $(DESIGNER_FILES)
else
assets:
	@echo "npm is not installed: the case page will show the history without the process diagram, and the process designer cannot be used (install Node.js and npm, then run make install)"
endif

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(VENDOR_BPMN)/LICENSE: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp $(BPMN_JS)/LICENSE $@

$(VENDOR_BPMN)/%: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp $(BPMN_JS)/dist/$* $@

# The licences of everything bundled go to designer.js.LEGAL.txt beside it.
$(DESIGNER_OUT)/designer.js: $(NPM_STAMP) $(DESIGNER_SOURCES)
	@mkdir -p $(@D)
	$(ESBUILD) designer=$(DESIGNER_SRC)/index.js $(ESBUILD_FLAGS) --format=iife --target=es2019 \
	  --legal-comments=linked --outdir=$(@D)

$(DESIGNER_OUT)/designer.css: $(NPM_STAMP) $(DESIGNER_SOURCES)
	@mkdir -p $(@D)
	rm -rf $(@D)/fonts
	$(ESBUILD) designer=$(DESIGNER_SRC)/designer.css $(ESBUILD_FLAGS) \
	  $(addprefix --loader:.,$(addsuffix =file,woff2 woff ttf eot svg)) --asset-names=fonts/[name]-[hash] --outdir=$(@D)

# The lint plugin's and the designer client's own tests (node's test runner, no browser).
designer-test: assets
ifneq ($(and $(NODE),$(NPM)),)
	node --test $(DESIGNER_TESTS)
else
	@echo "node or npm is not installed: skipped the process designer's JavaScript tests (web/designer/client)"
endif

demo: install
	$(BIN)/motcua demo $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed when missing and
# we may (root); otherwise those tests are skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium is not installed (apt-get install chromium): browser tests will be skipped"; fi; }

# The JavaScript tests run first so that pytest's summary is the last line.
test: install browser designer-test
	$(BIN)/ruff check engine web adapters tests benchmarks
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check engine web adapters tests benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules web/static/vendor
