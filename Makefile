# reconcile: make a Sanctum host match its checked-in catalog.
GO      ?= go
BIN     := bin/reconcile
CATALOG := sanctum

.PHONY: build deps test lint cross demo render-check fuzz bench clean

# Fuzz targets, package:name; each runs FUZZTIME (make test: a fixed count of
# inputs, since a -fuzztime duration races Go 1.26's coordinator (go.dev/issue/75804)
# and fails a loaded machine with "context deadline exceeded"; make fuzz
# FUZZTIME=200000x for a long run).
FUZZ := desired:FuzzLoad desired:FuzzInstance desired:FuzzTemplate \
	controllers:FuzzParseState observed:FuzzParsePrint observed:FuzzParseDigests \
	observed:FuzzParseShow observed:FuzzParseObservation
FUZZTIME ?= 1000x

build:
	$(GO) build -o $(BIN) ./cmd/reconcile

# What the suites need, as tool:Debian-package (a path for a file that is
# not on PATH): OpenSSH's server and client (the RemoteNode suites start a
# real sshd on 127.0.0.1), Graphviz (graph -o dot must render with dot),
# procps (pgrep, process probes), python3 (an independent plist parser),
# coreutils' readlink, rsync (make bench times it as a peer), and on
# Linux systemd (suites run a real systemd --user, and a real systemd
# --system as PID 1 of namespaces of their own, which mount and
# util-linux's nsenter set up and enter, coreutils' timeout bounds), and
# sudo (a node user's sudo -n inside such a namespace). The one list:
# .ci/run calls make deps too.
DEPS := /usr/sbin/sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client \
	dot:graphviz pgrep:procps python3:python3 readlink:coreutils rsync:rsync
ifeq ($(shell uname -s),Linux)
DEPS += /lib/systemd/systemd:systemd mount:mount nsenter:util-linux timeout:coreutils sudo:sudo
endif

# Installs what is missing from DEPS with apt-get (through sudo when not
# root); does nothing, and asks apt nothing, when everything is there. As
# root on Linux it also makes /run/systemd/system, which systemd --user
# takes as the sign that systemd manages the machine (a container lacks it).
deps:
	@set -e; need=; missing=; \
	for d in $(DEPS); do \
	  tool=$${d%%:*}; pkg=$${d#*:}; \
	  case $$tool in /*) [ -x "$$tool" ] && continue ;; *) command -v "$$tool" >/dev/null 2>&1 && continue ;; esac; \
	  missing="$$missing $$tool"; \
	  case " $$need " in *" $$pkg "*) ;; *) need="$$need $$pkg" ;; esac; \
	done; \
	sudo=; if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi; \
	if [ -n "$$need" ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make deps: missing$$missing; install them (Debian packages:$$need)" >&2; exit 1; \
	  fi; \
	  echo "make deps: installing$$need"; \
	  $$sudo apt-get -o DPkg::Lock::Timeout=300 update -qq; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq $$need >/dev/null; \
	fi; \
	if [ "$$(uname -s)" = Linux ] && [ "$$(id -u)" = 0 ] && [ ! -d /run/systemd/system ]; then mkdir -p /run/systemd/system; fi

# The whole suite: deps, formatting and vet, the darwin build, unit tests,
# testscript suites, and every fuzz target for a short fixed time.
test: deps lint cross
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

# The users' machines are Macs: build and vet for darwin on both
# architectures, so that a Linux CI catches what only a Mac would.
cross:
	@set -e; for arch in arm64 amd64; do \
	  echo "GOOS=darwin GOARCH=$$arch: go build, go vet"; \
	  GOOS=darwin GOARCH=$$arch $(GO) build ./...; \
	  GOOS=darwin GOARCH=$$arch $(GO) vet ./...; \
	done

# The checked-in manifests under sanctum/services are what the catalog renders.
render-check: build
	./$(BIN) render --check --catalog $(CATALOG)

# The main job on the shipped catalog, in a disposable home made here (with
# the one demo secret the catalog needs, and some of the agent workspaces:
# mundi's and yoda's are absent, so theirs are skipped); the real HOME is
# never touched. --local: a newcomer's machine has no VM to reach over SSH.
# SANCTUM_HOST=mac: the shipped haus is run from its Mac, also on Linux,
# where this machine's own systemd would otherwise get the VM's units.
demo: build
	@set -e; home=$$(mktemp -d -t reconcile-demo.XXXXXX); \
	mkdir -p "$$home/.sanctum/secrets"; chmod 700 "$$home/.sanctum/secrets"; \
	printf 'demo-%s\n' "$$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" > "$$home/.sanctum/secrets/openclaw-gateway-token"; \
	chmod 600 "$$home/.sanctum/secrets/openclaw-gateway-token"; \
	for w in workspace workspace-quigon workspace-windu workspace-cilghal workspace-tommy; do mkdir -p "$$home/.openclaw/$$w"; done; \
	r="env SANCTUM_HOST=mac ./$(BIN) --home $$home --catalog $(CATALOG) --local"; \
	echo "== disposable home: $$home"; \
	echo "== reconcile --dry-run: the full plan (exit 2: drift)"; \
	$$r --dry-run || [ $$? -eq 2 ]; \
	echo; echo "== reconcile apply"; $$r apply; \
	echo; echo "== reconcile --check: zero drift (exit 0)"; $$r --check; \
	echo; echo "== a hand edit of ~/.sanctum/services/voice-agent.yaml"; \
	sed -i.orig 's/port: 1138$$/port: 1139/' "$$home/.sanctum/services/voice-agent.yaml"; rm -f "$$home/.sanctum/services/voice-agent.yaml.orig"; \
	$$r --check || [ $$? -eq 2 ]; \
	$$r --dry-run || [ $$? -eq 2 ]; \
	echo; echo "== reconcile apply restores it, keeping the edited bytes in a backup"; $$r apply; \
	$$r --check; \
	echo; echo "== backups:"; find "$$home/.sanctum/state/backups" -type f | sed "s|$$home|~|"; \
	echo; echo "The demo home stays at $$home (rm -rf it when done)."

# The performance tables: reconcile (built as users build it) --check on
# generated catalogs of about 200, 2,000 and 20,000 managed files, after an
# apply with 5% drifted and 1% missing, cold (the same drift, no index) and
# unchanged, against a standalone read-and-compare floor and against diff -rq
# and rsync -rnc over the same trees, runs interleaved; peak RSS; apply on a
# fully drifted home against the floor of backing up and replacing; the
# shipped haus and the start-up (--version, inittrace); then a node of 2,000
# targets behind the real sshd; then the Go benchmarks of the hot paths.
bench:
	cd cmd/reconcile && $(GO) test -run '^TestBenchHarness$$' -bench.harness -count=1
	cd testscripts && $(GO) test -run '^TestBenchRemote$$' -bench.remote -count=1
	$(GO) test ./controllers -run '^$$' -bench . -benchmem

clean:
	rm -rf bin
