# Opinion Radar: `make demo` runs the product end to end; `make test` runs every test on the real local stack.
# uv keeps its cache in ~/.cache/uv and Maven in ~/.m2, outside the clone, so a fresh clone installs in seconds.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup test-deps stack test unit demo lint down bench schemas

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

stack: setup
	$(UV) run radar stack up

# headless Chromium renders the dashboard in the tests (Debian's package; installed once)
# and a CJK font, or Chinese entity names and texts render as empty boxes (the dashboard test checks they do not)
test-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	@fc-list :lang=zh family 2>/dev/null | grep -q . || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-cjk)

# the linters, both stacks and the tiers start at once: the reliability tier (kill -9 of
# Kafka, Redis, PostgreSQL, Triton) on a stack of its own beside the others (localdev/tiers.py says how)
test: test-deps setup
	$(UV) run python -m localdev.tiers

unit: setup
	$(UV) run pytest tests/unit core stream storage inference services localdev

# the demo's Chinese incident reads as financial news (zh-fin-neg, read in place) where the data sits beside the clone
demo: setup
	ZH_FIN_NEG_DIR="$${ZH_FIN_NEG_DIR:-$(abspath $(wildcard ../shared/data/zh-fin-neg))}" $(UV) run radar demo

down:
	$(UV) run radar stack down

# the JSON Schemas of the public contracts, written from the domain types (tests/unit/test_schemas.py checks them)
schemas: setup
	$(UV) run radar schemas

lint: setup
	$(UV) run python -m localdev.tiers --lint
