package testscripts

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The plan/apply parity property (issue 19, item 2): whatever the catalog,
// the host, launchd and the remote node look like, `reconcile --dry-run`
// predicts exactly what `reconcile apply` then does, and the host is then
// converged. Each seed draws a scenario; a failing seed replays alone with
// -parity.seed.

var (
	paritySeeds  = flag.Int("parity.seeds", 3, "TestParity: how many seeded scenarios to run (seeds parity.first .. parity.first+N-1)")
	parityFirst  = flag.Uint64("parity.first", 1, "TestParity: the first seed")
	paritySeed   = flag.Int64("parity.seed", -1, "TestParity: replay this one seed")
	parityOnly   = flag.String("parity.only", "", "TestParity: draw mutations only of these kinds (comma-separated)")
	parityMaxMut = flag.Int("parity.mutations", 4, "TestParity: at most this many mutations per scenario (at least 1)")
	parityKeep   = flag.Bool("parity.keep", false, "TestParity: keep every seed's directory and log where it is")
)

// parityEntry is one change of a report as the property compares it:
// kind, name, where (node, path and launchd target), action and reason.
// The diff, the backup and the wording that differs by mode alone are left
// out (see normalise).
type parityEntry struct {
	Kind, Name, Node, Path, Target, Action, Reason, Error string
}

func (e parityEntry) String() string {
	where := strings.TrimSpace(e.Node + " " + e.Path + " " + e.Target)
	s := fmt.Sprintf("%s/%s %s %s", e.Kind, e.Name, e.Action, where)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Error != "" {
		s += " error: " + e.Error
	}
	return s
}

var (
	// Only an apply bootstraps, so only it can say how many tries it took.
	bootstrapTries = regexp.MustCompile(`; bootstrap took \d+ tries`)
	// A node's summary says "differ" in a plan where apply says "written".
	nodeWritten = regexp.MustCompile(`^(\d+ of \d+ file\(s\)) written`)
)

func normalise(c parityChange) parityEntry {
	e := parityEntry{Kind: c.Kind, Name: c.Name, Node: c.Node, Path: c.Path, Target: c.Target,
		Action: c.Action, Reason: c.Reason, Error: c.Error}
	e.Reason = bootstrapTries.ReplaceAllString(e.Reason, "")
	e.Error = bootstrapTries.ReplaceAllString(e.Error, "")
	if e.Kind == "RemoteNode" && e.Path == "" {
		e.Reason = nodeWritten.ReplaceAllString(e.Reason, "$1 differ")
	}
	return e
}

// parityChange is the part of drift.Change the JSON report carries that
// the property reads (drift/drift.go).
type parityChange struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
	Path   string `json:"path"`
	Node   string `json:"node"`
	Target string `json:"target"`
	Reason string `json:"reason"`
	Backup string `json:"backup"`
	Error  string `json:"error"`
}

type parityReport struct {
	Mode    string         `json:"mode"`
	Changes []parityChange `json:"changes"`
	Errors  []string       `json:"errors"`
}

// entries decodes a pass's -o json report into its sorted multiset of
// entries.
func (w *parityWorld) entries(what string, r parityRun) []parityEntry {
	w.t.Helper()
	var rep parityReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		w.t.Fatalf("seed %d: %s -o json (exit %d): %v\nstdout:\n%s\nstderr:\n%s", w.seed, what, r.code, err, r.stdout, r.stderr)
	}
	out := make([]parityEntry, 0, len(rep.Changes))
	for _, c := range rep.Changes {
		out = append(out, normalise(c))
	}
	slices.SortFunc(out, func(a, b parityEntry) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func onlyAction(es []parityEntry, keep func(string) bool) []parityEntry {
	var out []parityEntry
	for _, e := range es {
		if keep(e.Action) {
			out = append(out, e)
		}
	}
	return out
}

// TestParity: at least 200 seeded scenarios in a long run (-parity.seeds
// 200), three in make test. Each starts from a converged host, draws 1 to
// 4 mutations, and then requires: the entries of `--dry-run -o json` equal
// those of `apply -o json` (failures included: a refused symlink is failed
// with the same reason in both), the two agree on whether the pass fails,
// and `--check` afterwards exits 0 (or, when apply could not converge by
// design, exits 1 with the same failures and no drift).
func TestParity(t *testing.T) {
	shipped, err := filepath.Abs("../sanctum")
	must(t, err)
	root := t.TempDir()
	if *parityKeep {
		root, err = os.MkdirTemp("", "parity-")
		must(t, err)
		t.Logf("seed directories under %s", root)
	}
	sshd := startParitySSHD(t, filepath.Join(root, "sshd"))
	kinds := parityMutations
	if *parityOnly != "" {
		kinds = nil
		for _, k := range strings.Split(*parityOnly, ",") {
			i := slices.IndexFunc(parityMutations, func(m parityMutation) bool { return m.kind == k })
			if i < 0 {
				t.Fatalf("-parity.only: no mutation kind %q", k)
			}
			kinds = append(kinds, parityMutations[i])
		}
	}
	seeds := make([]uint64, 0, *paritySeeds)
	if *paritySeed >= 0 {
		seeds = append(seeds, uint64(*paritySeed))
	} else {
		for i := range *paritySeeds {
			seeds = append(seeds, *parityFirst+uint64(i))
		}
	}
	start := time.Now()
	t.Cleanup(func() {
		if !t.Failed() || len(seeds) > 1 {
			t.Logf("%d seed(s) in %s (%s per seed of wall time, seeds in parallel)", len(seeds),
				time.Since(start).Round(time.Millisecond), (time.Since(start) / time.Duration(len(seeds))).Round(time.Millisecond))
		}
	})
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(root, fmt.Sprintf("seed-%d", seed))
			w := newParityWorld(t, dir, seed, sshd, shipped)
			w.scenario(kinds)
		})
	}
}

func (w *parityWorld) scenario(kinds []parityMutation) {
	t := w.t
	began := time.Now()

	// A converged host to start from.
	if r := w.reconcile("apply", "-o", "json"); r.code != 0 {
		t.Fatalf("seed %d: first apply exited %d:\n%s\n%s", w.seed, r.code, r.stdout, r.stderr)
	}
	if r := w.reconcile("--check"); r.code != 0 {
		t.Fatalf("seed %d: --check right after the first apply exited %d (not converged before any mutation):\n%s\n%s", w.seed, r.code, r.stdout, r.stderr)
	}

	n := 1 + w.rng.IntN(max(*parityMaxMut, 1))
	for range n {
		for try := 0; ; try++ {
			m := pick(w.rng, kinds)
			before := len(w.steps)
			if m.do(w) {
				w.steps[before] = m.kind + ": " + w.steps[before]
				break
			}
			if try > 20 {
				t.Fatalf("seed %d: no applicable mutation among %d kinds", w.seed, len(kinds))
			}
		}
	}

	plan := w.reconcile("--dry-run", "-o", "json")
	apply := w.reconcile("apply", "-o", "json")
	check := w.reconcile("--check", "-o", "json")
	for _, r := range []struct {
		what string
		run  parityRun
		ok   []int
	}{{"--dry-run", plan, []int{0, 1, 2}}, {"apply", apply, []int{0, 1}}, {"--check", check, []int{0, 1, 2}}} {
		if !slices.Contains(r.ok, r.run.code) {
			t.Fatalf("seed %d: %s exited %d\nscenario:\n  %s\nstdout:\n%s\nstderr:\n%s", w.seed, r.what, r.run.code,
				strings.Join(w.steps, "\n  "), r.run.stdout, r.run.stderr)
		}
	}
	planned, applied, checked := w.entries("--dry-run", plan), w.entries("apply", apply), w.entries("--check", check)

	var problems []string
	if d := cmp.Diff(multiset(planned), multiset(applied)); d != "" {
		problems = append(problems, "the plan is not what apply did (-dry-run +apply):\n"+d)
	}
	if (plan.code == 1) != (apply.code == 1) {
		problems = append(problems, fmt.Sprintf("--dry-run exited %d, apply exited %d: they disagree on failure", plan.code, apply.code))
	}
	isFailed := func(a string) bool { return a == "failed" }
	isDrift := func(a string) bool { return a == "created" || a == "configured" || a == "deleted" }
	appliedFailures := onlyAction(applied, isFailed)
	switch {
	case len(appliedFailures) == 0 && check.code != 0:
		problems = append(problems, fmt.Sprintf("--check after a clean apply exited %d, want 0:\n%s", check.code,
			strings.Join(entryLines(onlyAction(checked, func(a string) bool { return isDrift(a) || isFailed(a) })), "\n")))
	case len(appliedFailures) > 0:
		// What apply refused by design (a symlink out of HOME, a symlink on
		// the node) stays refused: --check says so (exit 1) and finds no
		// other drift.
		if check.code != 1 {
			problems = append(problems, fmt.Sprintf("--check after an apply with failures exited %d, want 1", check.code))
		}
		if d := cmp.Diff(multiset(appliedFailures), multiset(onlyAction(checked, isFailed))); d != "" {
			problems = append(problems, "--check's failures are not apply's (-apply +check):\n"+d)
		}
		if drift := onlyAction(checked, isDrift); len(drift) > 0 {
			problems = append(problems, "--check after apply still finds drift:\n"+strings.Join(entryLines(drift), "\n"))
		}
	}
	t.Logf("seed %d: %d entries, dry-run exit %d, apply exit %d, check exit %d, %s; scenario:\n  %s",
		w.seed, len(applied), plan.code, apply.code, check.code, time.Since(began).Round(time.Millisecond), strings.Join(w.steps, "\n  "))
	if len(problems) > 0 {
		replay := fmt.Sprintf("go test ./testscripts -run 'TestParity$' -parity.seed=%d -parity.mutations=%d", w.seed, *parityMaxMut)
		if *parityOnly != "" {
			replay += " -parity.only=" + *parityOnly
		}
		t.Errorf("seed %d: plan/apply parity broken\nscenario:\n  %s\n%s\nreplay: %s -parity.keep -v",
			w.seed, strings.Join(w.steps, "\n  "), strings.Join(problems, "\n"), replay)
	}
}

// multiset counts the entries by their one-line form, so that cmp.Diff
// shows exactly the entries one side has and the other has not.
func multiset(es []parityEntry) map[string]int {
	m := make(map[string]int, len(es))
	for _, e := range es {
		m[e.String()]++
	}
	return m
}

func entryLines(es []parityEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = "  " + e.String()
	}
	return out
}
