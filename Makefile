# Set-up and entry points. `make demo` and `make test` each install everything they need into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/chengdu-central

.PHONY: install demo lint test bench clean

$(BIN)/.installed: pyproject.toml
	@# Debian's chromium for the real-browser map test (skipped where it cannot be installed)
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei || true; fi
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/circles plan --region chengdu-central --out $(OUT) --force
	$(BIN)/circles isochrone --lon 104.0657 --lat 30.6598 --minutes 5,10,15 --out $(OUT)/isochrone_tianfu_square.geojson --force

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_routing.py

clean:
	rm -rf $(VENV) out
