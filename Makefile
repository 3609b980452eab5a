# reconcile: make a Sanctum host match its checked-in catalog.
GO      ?= go
BIN     := bin/reconcile
CATALOG := sanctum

.PHONY: build test lint demo render-check fuzz bench clean

# Fuzz targets, package:name; each runs FUZZTIME (make test: a short fixed
# time; make fuzz FUZZTIME=5m for a long run).
FUZZ := desired:FuzzLoad desired:FuzzInstance desired:FuzzTemplate \
	controllers:FuzzParseState observed:FuzzParsePrint observed:FuzzParseDigests
FUZZTIME ?= 3s

build:
	$(GO) build -o $(BIN) ./cmd/reconcile

# The whole suite: formatting and vet, unit tests, testscript suites, and
# every fuzz target for a short fixed time.
test: lint
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

fuzz:
	@set -e; for t in $(FUZZ); do \
	  pkg=$${t%%:*}; name=$${t#*:}; \
	  echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME); \
	done

lint:
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# The checked-in manifests under sanctum/services are what the catalog renders.
render-check: build
	./$(BIN) render --check --catalog $(CATALOG)

# The main job on the shipped catalog, in a disposable home made here (with
# the one demo secret the catalog needs, and some of the agent workspaces:
# mundi's and yoda's are absent, so theirs are skipped); the real HOME is
# never touched. --local: a newcomer's machine has no VM to reach over SSH.
demo: build
	@set -e; home=$$(mktemp -d -t reconcile-demo.XXXXXX); \
	mkdir -p "$$home/.sanctum/secrets"; chmod 700 "$$home/.sanctum/secrets"; \
	printf 'demo-%s\n' "$$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" > "$$home/.sanctum/secrets/openclaw-gateway-token"; \
	chmod 600 "$$home/.sanctum/secrets/openclaw-gateway-token"; \
	for w in workspace workspace-quigon workspace-windu workspace-cilghal workspace-tommy; do mkdir -p "$$home/.openclaw/$$w"; done; \
	r="./$(BIN) --home $$home --catalog $(CATALOG) --local"; \
	echo "== disposable home: $$home"; \
	echo "== reconcile --dry-run: the full plan (exit 2: drift)"; \
	$$r --dry-run || [ $$? -eq 2 ]; \
	echo; echo "== reconcile apply"; $$r apply; \
	echo; echo "== reconcile --check: zero drift (exit 0)"; $$r --check; \
	echo; echo "== a hand edit of ~/.sanctum/services/voice-agent.yaml"; \
	sed -i.orig 's/port: 1138$$/port: 1139/' "$$home/.sanctum/services/voice-agent.yaml"; rm -f "$$home/.sanctum/services/voice-agent.yaml.orig"; \
	$$r --check || [ $$? -eq 2 ]; \
	$$r --dry-run | grep -v ' unchanged ' || true; \
	echo; echo "== reconcile apply restores it, keeping the edited bytes in a backup"; $$r apply; \
	$$r --check; \
	echo; echo "== backups:"; find "$$home/.sanctum/state/backups" -type f | sed "s|$$home|~|"; \
	echo; echo "The demo home stays at $$home (rm -rf it when done)."

# The performance table: reconcile --check on generated catalogs of 200,
# 2,000 and 20,000 managed files (5% drifted, 1% missing) against a
# read-and-compare lower bound measured in the same run, peak RSS, apply on a
# fully drifted home, an unchanged home with the stat cache; then a node of
# 2,000 targets behind the real sshd; then the Go benchmarks of the hot
# paths. Local directory mode, so that the tables print.
bench:
	cd cmd/reconcile && $(GO) test -run '^TestBenchHarness$$' -bench.harness -count=1
	cd testscripts && $(GO) test -run '^TestBenchRemote$$' -bench.remote -count=1
	$(GO) test ./controllers -run '^$$' -bench . -benchmem

clean:
	rm -rf bin
