package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// mode is the kind of pass: decided here, in the wiring (which host stack)
// and the report (what it shows); the controllers never see it.
type mode string

const (
	modeApply  mode = "apply"
	modeDryRun mode = "dry-run"
	modeCheck  mode = "check"
)

type passOptions struct {
	lockTimeout time.Duration
	scheduled   bool      // the launchd pass: never waits, quiet unless something happened
	record      bool      // --check --record: the audit pass writes its ledgers
	plan        *planHook // plan --out FILE, apply FILE (plan.go)
}

func (a *app) applyCommand() *cobra.Command {
	var o passOptions
	cmd := &cobra.Command{
		Use:   "apply [FILE | KIND/NAME ...] [-l SELECTOR] [--node NAME ...]",
		Short: "Converge the host to the catalog, back up what is replaced, record the pass",
		Long: `apply converges the host: it writes what differs (after backing up what was
there under ~/.sanctum/state/backups/<run-id>/), removes what it created earlier
and the catalog no longer wants, and records the pass and its inventory in
~/.sanctum/state/reconcile.json. It holds ~/.sanctum/state/reconcile.lock while
it runs. The shipped example catalog is applied only to a home named with --home.
With FILE (from reconcile plan --out FILE) it applies exactly that plan, or
refuses when anything the plan read has changed since.
With KIND/NAME arguments (Service/voice-agent), -l SELECTOR or --node NAME it
reaches only those objects and what they own, and prunes only what they
owned.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeObjects,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && isPlanFile(args[0]) { // a saved plan (plan.go)
				if !a.target.empty() {
					return &exitError{ExitError, errors.New("apply FILE applies the plan's own target: no -l or --node with it")}
				}
				return a.applyPlan(cmd.Context(), args[0], o)
			}
			objects, err := parseObjects(args)
			if err != nil {
				return err
			}
			a.target.Objects = objects
			if o.scheduled {
				o.lockTimeout = 0
			}
			return a.runPass(cmd.Context(), modeApply, o)
		},
	}
	cmd.Flags().DurationVar(&o.lockTimeout, "lock-timeout", 30*time.Second, "how long to wait for another pass to finish (0: do not wait)")
	a.verboseFlag(cmd)
	a.targetFlags(cmd)
	cmd.Flags().BoolVar(&o.scheduled, "scheduled", false, "the launchd pass: skip (exit 0) if another pass holds the lock, print only changes and failures")
	return cmd
}

// runPass is the one code path of --dry-run, --check and apply; only the
// Host decorator differs.
func (a *app) runPass(ctx context.Context, mode mode, o passOptions) error {
	if a.output != "text" && a.output != "json" {
		return &exitError{ExitError, fmt.Errorf("-o %q: want text or json", a.output)}
	}
	home, explicitHome, err := a.resolveHome()
	if err != nil {
		return err
	}
	localHost, err := a.localHost()
	if err != nil {
		return err
	}
	// A check of a whole home whose inputs the last apply's index still
	// stands for is answered from the index alone (no catalog load).
	indexUse := "unused: --full"
	if mode != modeApply && !a.full && !o.record && o.plan == nil && a.target.empty() {
		done, why, err := a.fastCheck(ctx, mode, home)
		if done {
			return err
		}
		indexUse = "unused: " + why
	}
	// What the last pass left is read while the catalog loads, by a check
	// or dry run of a home that exists (an apply reads it under its lock).
	var pre *leftover
	if mode != modeApply {
		pre = prefetch(home, !a.full)
	}
	loadedAt := time.Now()
	cat, catOpts, err := a.loadCatalogOpts(ctx, desired.ResolveSecrets)
	if err != nil {
		pre.wait()
		return err
	}
	if mode == modeApply && cat.Instance.Instance.Example && !explicitHome {
		return &exitError{ExitError, fmt.Errorf("%s is the shipped example catalog (instance.example: true); "+
			"refusing to apply it to $HOME (%s). Name the home explicitly with --home DIR, "+
			"preferably a disposable one such as $(mktemp -d)", cat.Name, home)}
	}
	w, err := wire(mode, home, o.record, localHost)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer w.Close()
	w.limit(cat.Instance.Limits)
	real, host := w.base, w.host
	now := a.cfg.Now()
	runID := newRunID(now)
	var sess *session // apply's: the lock, the run's name, what it leaves
	if mode == modeApply {
		sess, err = a.beginSession(ctx, real, o.lockTimeout)
		if errors.Is(err, observed.ErrLocked) && o.scheduled {
			return a.skipScheduled(real, a.cfg.Now(), cat)
		}
		if err != nil {
			return &exitError{ExitError, err}
		}
		defer sess.end()
		now, runID = sess.Now, sess.RunID
	}
	last := pre.wait()
	if last == nil {
		last = readLeftover(host, !a.full)
	}
	if last.err != nil {
		return &exitError{ExitError, last.err}
	}
	state := last.state
	// A target (Service/x, -l, --node) is checked against the catalog and
	// what the last pass owned: an object gone from the catalog can still
	// be named, to prune what it left.
	if o.record && !a.target.empty() {
		return &exitError{ExitError, errors.New("--record writes the audit of the whole fan-out: no target with it")}
	}
	var inventory []controllers.InventoryEntry
	if state != nil {
		inventory = state.Inventory
	}
	a.resolved, err = a.target.resolve(cat, inventory, a.local)
	if err != nil {
		return err
	}
	if o.plan != nil { // saved plans (plan.go): record the reads, or check them under the lock
		if host, w.launchd, w.remote, w.systemd, w.system, err = o.plan.observe(ctx, host, w.launchd, w.remote, w.systemd, w.system, state, cat); err != nil {
			return err
		}
	}
	// The file engine knows a secret-bearing file (0600) by any spelling
	// of a secret in it, as the masking table does.
	// An apply of the whole catalog leaves an index: it logs what the pass
	// looks at, so that the index can tell a later check whether all of it
	// still holds.
	passHost := a.maskLedgers(host)
	var touched *observed.TouchLog
	if mode == modeApply && a.resolved == nil && o.plan == nil {
		touched = observed.NewTouchLog()
		passHost = observed.TouchingHost{Host: passHost, Log: touched}
	}
	pass := controllers.NewPass(passHost, w.launchd, runID, now, drift.AllSpellings(cat.SecretValues), state)
	pass.Ledgers = a.maskLedgers(w.ledgers)
	pass.Diffs = mode != modeCheck // a check lists drift tersely
	pass.Remote, pass.Local, pass.ParallelNodes = w.remote, a.local, a.parallel
	pass.Systemd, pass.SystemSystemd, pass.LocalHost = w.systemd, w.system, localHost
	indexKey, err := a.indexKey(home)
	if err != nil {
		return err
	}
	if last.index != nil {
		notAlone := strings.TrimPrefix(indexUse, "unused: ")
		indexUse = useIndex(pass, last.index, indexKey, cat)
		if mode != modeApply && notAlone != "--full" {
			indexUse += "; not answered alone: " + notAlone
		}
	}
	if touched != nil {
		pass.Indexing = &controllers.Indexing{Key: indexKey, Catalog: cat, LoadedAt: loadedAt, Touched: touched, NoReplay: a.noReplay(cat),
			Mask: func(b []byte) []byte { return a.redactor.JSON(b) }}
	}
	if a.cfg.Progress {
		var mu sync.Mutex
		pass.Progress = func(node, status string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(a.cfg.Stderr, "reconcile: node %s: %s\n", node, status)
		}
	}
	pass.TwinCatalog = func(ctx context.Context) (*desired.Catalog, error) { return desired.LoadTwin(ctx, catOpts) }
	ctrls := controllers.Controllers()
	if a.resolved != nil {
		pass.Narrow(a.resolved.scope)
		ctrls = a.resolved.scope.Controllers(ctrls)
	}
	cs, runErr := pass.Run(ctx, cat, ctrls)
	a.redactor.ChangeSet(cs)
	if sess != nil {
		histMode := "apply"
		if o.scheduled {
			histMode = "scheduled"
		}
		runErr = sess.finish(outcome{Mode: histMode, CatalogDigest: cat.Digest, Changes: cs, Err: runErr, Incomplete: pass.Incomplete,
			Backups: &cat.Instance.Backups, History: &cat.Instance.History, Quiet: o.scheduled,
			Keep: func() error {
				return pass.Save(cat.Digest, cs)
			}})
	}
	quiet := o.scheduled && runErr == nil && cs.Summary().Changes() == 0
	if !quiet {
		if err := a.report(mode, runID, now, home, cat, cs, runErr, factsOf(pass, indexUse)); err != nil {
			return &exitError{ExitError, err}
		}
	}
	if o.plan != nil { // saved plans (plan.go): save the plan, or check apply followed it
		if err := o.plan.done(a, mode, runID, now, home, cat, cs, runErr, pass); err != nil {
			return err
		}
	}
	switch {
	case runErr != nil && len(cs.Failed()) == 0:
		// No object failed: what failed is the pass's own (a ledger it
		// could not write), and that is the message.
		return &exitError{ExitError, errors.New(a.redact(errorsText(runErr)))}
	case runErr != nil:
		return &exitError{ExitError, fmt.Errorf("%d object(s) failed", len(cs.Failed()))}
	case len(pass.Incomplete) > 0:
		return &exitError{ExitIncomplete, fmt.Errorf("incomplete: required node(s) %s unreachable", strings.Join(pass.Incomplete, ", "))}
	case mode != modeApply && cs.HasDrift():
		return &exitError{code: ExitDrift}
	}
	return nil
}

// leftover is what the last pass left: its state and, unless --full, its
// index (nil when there is none that can be read).
type leftover struct {
	done  chan struct{}
	state *controllers.State
	err   error
	index *controllers.Index
}

func readLeftover(h observed.Host, index bool) *leftover {
	p := &leftover{}
	p.state, p.err = controllers.LoadPassState(h)
	if index {
		p.index, _ = controllers.ReadIndex(h)
	}
	return p
}

// prefetch starts reading what the last pass left in a home that exists,
// read-only, on its own goroutine; nil when there is no home yet.
func prefetch(home string, index bool) *leftover {
	if info, err := os.Stat(home); err != nil || !info.IsDir() {
		return nil
	}
	p := &leftover{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		fh, err := observed.OpenFileHost(home)
		if err != nil {
			p.err = err
			return
		}
		defer fh.Close()
		r := readLeftover(observed.ReadOnlyHost{Host: fh}, index)
		p.state, p.err, p.index = r.state, r.err, r.index
	}()
	return p
}

// wait returns what a prefetch read (nil if none was started).
func (p *leftover) wait() *leftover {
	if p == nil {
		return nil
	}
	<-p.done
	return p
}

// binaryID names this build of reconcile for the index, once per process: its version and the executable file's
// identity, so that a rebuilt binary (whose renders may differ) never
// trusts what the one before compiled.
var binaryID = sync.OnceValue(func() string {
	id := version()
	exe, err := os.Executable()
	if err != nil {
		return id + " unknown-executable " + newRunID(time.Now()) // never matches
	}
	info, err := os.Stat(exe)
	if err != nil {
		return id + " unknown-executable " + newRunID(time.Now())
	}
	key, _ := observed.KeyOf(info)
	return fmt.Sprintf("%s %s %d %d %d %d", id, exe, info.Size(), info.ModTime().UnixNano(), key.Ino, key.CtimeNs)
})

// skipScheduled is the scheduled pass that found another pass running: it
// leaves a history entry, says so in one line, and succeeds.
func (a *app) skipScheduled(host observed.Host, t time.Time, cat *desired.Catalog) error {
	e := controllers.HistoryEntry{RunID: newRunID(t), Time: t.UTC(), Mode: "scheduled", Result: "skipped",
		Reason: "another pass holds ~/" + controllers.LockFile, CatalogDigest: cat.Digest}
	if err := controllers.AppendHistory(a.maskLedgers(host), e); err != nil {
		return &exitError{ExitError, fmt.Errorf("history: %w", err)}
	}
	fmt.Fprintf(a.cfg.Stdout, "scheduled pass skipped: %s\n", e.Reason)
	return nil
}

func (a *app) report(mode mode, runID string, now time.Time, home string, cat *desired.Catalog, cs *drift.ChangeSet, runErr error, pass passFacts) error {
	if mode != modeApply {
		// A plan keeps its backups in memory only: there is no path to show.
		for i := range cs.Changes {
			cs.Changes[i].Backup = ""
		}
	}
	if a.output == "json" {
		r := &drift.Report{
			SchemaVersion: drift.SchemaVersion, Mode: string(mode), Time: now.UTC(), Home: home,
			Catalog: cat.Name, CatalogDigest: cat.Digest, Drift: cs.HasDrift(), Summary: cs.Summary(), Changes: cs.Changes,
			Nodes: pass.nodes, Incomplete: pass.incomplete,
			Index: pass.index, IndexHits: pass.hits, FilesRead: pass.reads, Rendered: pass.rendered,
		}
		if a.resolved != nil {
			r.Target = a.resolved.report(a.target)
		}
		if mode == modeApply {
			r.RunID = runID
		}
		var merr interface{ WrappedErrors() []error }
		if errors.As(runErr, &merr) {
			for _, e := range merr.WrappedErrors() {
				r.Errors = append(r.Errors, a.redact(e.Error()))
			}
		}
		return drift.WriteJSON(a.cfg.Stdout, r)
	}
	// Changes only unless -v: what a person acts on (drift, failures,
	// unmanaged findings) is not buried among unchanged and skipped lines;
	// the summary still counts them, and JSON always holds everything.
	o := drift.TextOptions{Color: a.cfg.Color, ChangesOnly: !a.verbose}
	switch mode {
	case modeDryRun:
		o.Label = "dry run"
	case modeCheck:
		o.Label, o.Terse = "check", true
	case modeApply:
		o.Label, o.Quiet = "applied, run "+runID, true
	}
	header, err := a.passHeader(mode, home, cat)
	if err != nil {
		return err
	}
	o.Header = header
	return drift.WriteText(a.cfg.Stdout, cs, o)
}

// passHeader is the first line of a pass's text report: which pass, which
// catalog (its absolute directory, or builtin:example), which home, and
// the nodes in scope, so that nobody checks the wrong catalog unawares.
func (a *app) passHeader(mode mode, home string, cat *desired.Catalog) (string, error) {
	_, where, err := a.catalogIdentity()
	if err != nil {
		return "", err
	}
	var remote []string
	for _, n := range cat.Nodes {
		remote = append(remote, n.Name)
	}
	nodes := "this host"
	switch {
	case len(remote) > 0 && a.local:
		nodes += " only (--local; not reached: " + strings.Join(remote, ", ") + ")"
	case a.resolved != nil:
		// A targeted pass: this host when something local is in scope,
		// and the nodes it reaches.
		var in []string
		if sc := a.resolved.scope.Catalog(); len(sc.Services)+len(sc.Agents)+len(sc.Units)+len(sc.Personas)+len(sc.Calibration) > 0 || len(a.resolved.gone) > 0 {
			in = append(in, "this host")
		}
		for _, n := range a.resolved.scope.Nodes() {
			in = append(in, n.Name)
		}
		nodes = joinOrNone(in)
	case len(remote) > 0:
		nodes += ", " + strings.Join(remote, ", ")
	}
	label := string(mode)
	if mode == modeDryRun {
		label = "dry run"
	}
	h := fmt.Sprintf("%s: catalog %s, home %s, nodes: %s", label, where, home, nodes)
	if a.resolved != nil {
		h += "; " + a.resolved.describe(a.target)
	}
	return h, nil
}

// errorsText is an error as one line: a multierror's errors joined by "; ".
func errorsText(err error) string {
	var merr interface{ WrappedErrors() []error }
	if !errors.As(err, &merr) {
		return err.Error()
	}
	var parts []string
	for _, e := range merr.WrappedErrors() {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}
