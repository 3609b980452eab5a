// Package cli is the reconcile command line: flags, exit codes and output.
// main only calls Main; the testscript harness registers the same Main, so
// scripts run exactly what users run.
package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
	"github.com/sanctum-haus/reconcile/observed/regular"
	"github.com/sanctum-haus/reconcile/sanctum"
)

// Exit codes, as DESIGN.md's CLI contract has them.
const (
	ExitOK         = 0
	ExitError      = 1
	ExitDrift      = 2
	ExitIncomplete = 3
)

// BuiltinCatalog names the embedded example catalog.
const BuiltinCatalog = "builtin:example"

// Config owns what the process shares with the world.
type Config struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
	// Color is decided once: stdout is a terminal and NO_COLOR is unset.
	Color bool
	// Progress: stderr is a terminal, so a line per remote node is welcome.
	Progress bool
}

// exitError carries an exit status up to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// Main runs reconcile with the process's stdio and environment.
// RECONCILE_CPUPROFILE=<file> and RECONCILE_MEMPROFILE=<file> write pprof
// profiles of the run (make bench, profiling).
func Main(args []string) int {
	// A pass is short-lived: collect garbage lazily while the heap is small,
	// and keep it under a soft limit on big catalogs.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(80 << 20)
	if p := os.Getenv("RECONCILE_MEMPROFILE"); p != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(p); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if p := os.Getenv("RECONCILE_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	ctx, stop := onSignal(os.Stderr, signalGrace, func() { os.Exit(ExitError) })
	defer stop()
	cfg := &Config{
		Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now,
		Color:    colorWanted(isatty.IsTerminal(os.Stdout.Fd()), os.Getenv),
		Progress: isatty.IsTerminal(os.Stderr.Fd()),
	}
	return Run(ctx, cfg, args)
}

// signalGrace is how long a command has, after SIGINT or SIGTERM cancelled
// its context, to return through its defers (release the lock, end the ssh
// masters) before the process exits anyway: every command stops within 2 s.
const signalGrace = 1500 * time.Millisecond

// onSignal returns a context that SIGINT or SIGTERM cancels. A second
// signal, or the grace period running out, calls exit (the kernel then
// drops the lock with the process; every write is a rename, so nothing is
// left half-written). stop ends the watch.
func onSignal(stderr io.Writer, grace time.Duration, exit func()) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		select {
		case first = <-sigs:
			cancel()
		case <-done:
			return
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "reconcile: %s again: exiting now\n", s)
		case <-t.C:
			fmt.Fprintf(stderr, "reconcile: %s: still running %s later: exiting\n", first, grace)
		case <-done:
			return
		}
		exit()
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}

// Run runs one command line and returns the exit status. A panic on the
// way (one raised again from a worker pool, observed.ForEach, included)
// is an error, exit 1 with a message and the stack, never the runtime's
// exit 2, which means drift.
func Run(ctx context.Context, cfg *Config, args []string) (code int) {
	// stdout is counted: a command that fails in -o json mode before it
	// printed anything prints its errors there as JSON.
	out := &countingWriter{w: cfg.Stdout}
	c := *cfg
	c.Stdout = out
	cfg = &c
	a := &app{cfg: cfg}
	defer func() {
		if v := recover(); v != nil {
			// The panic's value may quote a secret; the stack holds none.
			fmt.Fprintf(cfg.Stderr, "reconcile: internal error: %s\n%s", a.redact(fmt.Sprint(v)), debug.Stack())
			code = ExitError
		}
	}()
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(cfg.Stdout)
	root.SetErr(cfg.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if a.output == "json" && out.n == 0 {
		if ee := (*exitError)(nil); !errors.As(err, &ee) || ee.err != nil {
			a.writeJSONError(out, err)
		}
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(cfg.Stderr, "reconcile: "+a.redact(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(cfg.Stderr, "reconcile: "+a.redact(err.Error()))
	return ExitError
}

// app holds the flags and what one invocation learned.
type app struct {
	cfg     *Config
	home    string
	catalog string
	output  string
	local   bool
	// parallel is how many remote nodes a pass reconciles at once.
	parallel int
	full     bool
	verbose  bool
	command  string // the command line's command, "reconcile apply"
	// target is what a pass was asked to reach (target.go), resolved
	// against the catalog into resolved.
	target   target
	resolved *resolvedTarget
	redactor *drift.Redactor
}

func (a *app) redact(s string) string { return a.redactor.String(s) }

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (a *app) rootCommand() *cobra.Command {
	var dryRun, check, record bool
	root := &cobra.Command{
		Use:   "reconcile [--dry-run|--check] [KIND/NAME ...] [-l SELECTOR] [--node NAME ...]",
		Short: "Make a Sanctum host match its checked-in catalog",
		Long: `reconcile makes a Sanctum host match its checked-in catalog (sanctum/) and says
exactly where it does not.

  reconcile --dry-run    the plan: every change with its diff; exit 0 no drift, 2 drift
  reconcile --check      terse drift list for CI; exit 0 no drift, 2 drift
  reconcile apply        converge the host and record the pass

Their text output is a header (catalog, home, nodes in scope), the changes,
failures and unmanaged findings, and a summary; -v lists unchanged and
skipped objects too. Every command exits 1 on error (invalid catalog, I/O
failure).`,
		Version:           version(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeObjects,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && !dryRun && !check {
				return &exitError{ExitError, fmt.Errorf("%q: objects go with --dry-run, --check, plan or apply", args[0])}
			}
			objects, err := parseObjects(args)
			if err != nil {
				return err
			}
			a.target.Objects = objects
			switch {
			case dryRun:
				return a.runPass(cmd.Context(), modeDryRun, passOptions{})
			case check:
				return a.runPass(cmd.Context(), modeCheck, passOptions{record: record})
			case record:
				return &exitError{ExitError, errors.New("--record goes with --check (the audit pass)")}
			}
			if !a.target.empty() {
				return &exitError{ExitError, errors.New("-l and --node go with --dry-run, --check, plan or apply")}
			}
			return cmd.Help()
		},
	}
	root.Flags().BoolVar(&dryRun, "dry-run", false, "show the full plan with diffs; write nothing (exit 2 on drift)")
	root.Flags().BoolVar(&check, "check", false, "list drift tersely for CI; write nothing (exit 2 on drift)")
	root.Flags().BoolVar(&record, "record", false, "with --check: write the audit ledgers (agent-markdown-sync.json), nothing else")
	root.MarkFlagsMutuallyExclusive("dry-run", "check")
	a.verboseFlag(root)
	a.targetFlags(root)
	pf := root.PersistentFlags()
	pf.StringVar(&a.home, "home", "", "the home to reconcile (default $HOME)")
	pf.StringVar(&a.catalog, "catalog", "", "catalog directory (default $SANCTUM_CATALOG, else ./sanctum; "+BuiltinCatalog+" is the embedded example)")
	pf.StringVarP(&a.output, "output", "o", "text", "output format: text or json where the command has it (graph: dot, svg, png, mermaid or json); anything else is refused")
	pf.BoolVar(&a.local, "local", false, "this host only: no SSH to remote nodes")
	pf.IntVar(&a.parallel, "parallel", controllers.DefaultParallelNodes, fmt.Sprintf("remote nodes reconciled at once (1 to %d); each has one SSH connection per pass", controllers.MaxParallelNodes))
	pf.BoolVar(&a.full, "full", false, "ignore the caches of the last apply: load the catalog, render every target, read every managed file")
	root.SetVersionTemplate("reconcile {{.Version}}\n")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		a.command = cmd.CommandPath() // who holds the lock, for another pass to say
		if a.parallel < 1 || a.parallel > controllers.MaxParallelNodes {
			return &exitError{ExitError, fmt.Errorf("--parallel %d: want 1 to %d nodes at once", a.parallel, controllers.MaxParallelNodes)}
		}
		return a.checkOutput(cmd)
	}
	_ = root.RegisterFlagCompletionFunc("output", completeOutput)
	root.AddCommand(a.applyCommand(), a.validateCommand(), a.renderCommand(), a.versionCommand(),
		a.scheduleCommand(), a.historyCommand(), a.adoptCommand(), a.statusCommand(), a.graphCommand(), a.rollbackCommand(),
		a.planCommand()) // plan.go: saved plans
	strictCompletion(root)
	return root
}

// verboseFlag gives a pass's command -v: list unchanged and skipped
// objects too (text output; JSON always lists everything).
func (a *app) verboseFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&a.verbose, "verbose", "v", false, "text output: list unchanged and skipped objects too, not only changes, failures and unmanaged findings")
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version from the build info",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.output == "json" {
				return json.NewEncoder(a.cfg.Stdout).Encode(map[string]string{"version": version()})
			}
			fmt.Fprintf(a.cfg.Stdout, "reconcile %s\n", version())
			return nil
		},
	}
}

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Decode and validate the catalog only (secrets are resolved against --home)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := a.loadCatalog(cmd.Context(), desired.ResolveSecrets)
			if err != nil {
				return err
			}
			if a.output == "json" {
				enc := json.NewEncoder(a.cfg.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					SchemaVersion int    `json:"schemaVersion"`
					Valid         bool   `json:"valid"`
					Catalog       string `json:"catalog"`
					CatalogDigest string `json:"catalogDigest"`
					Services      int    `json:"services"`
					Calibration   int    `json:"calibrationFiles"`
					Errors        []any  `json:"errors"`
				}{1, true, cat.Name, cat.Digest, len(cat.Services), len(cat.Calibration), []any{}})
			}
			fmt.Fprintf(a.cfg.Stdout, "%s: valid (%d services, %d calibration files, %s)\n",
				cat.Name, len(cat.Services), len(cat.Calibration), cat.Digest)
			return nil
		},
	}
}

// resolveHome returns the absolute home and whether the user named it.
func (a *app) resolveHome() (string, bool, error) {
	home, explicit := a.home, a.home != ""
	if !explicit {
		home = a.cfg.Getenv("HOME")
	}
	if home == "" {
		return "", false, &exitError{ExitError, errors.New("no home: set $HOME or pass --home")}
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", false, &exitError{ExitError, err}
	}
	return abs, explicit, nil
}

// lock takes the pass lock of a home, saying so when it has to wait.
func (a *app) lock(ctx context.Context, home string, timeout time.Duration) (*observed.Lock, error) {
	// The lock is opened inside HOME's root: no symlink takes it, or what
	// it creates, out of HOME.
	root, err := os.OpenRoot(home)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	defer root.Close() // the held lock keeps its own descriptors
	return observed.AcquireLock(ctx, root, controllers.LockFile, timeout, func() {
		held := ""
		if h, ok := observed.ReadLockHolder(root, controllers.LockFile); ok {
			held = ": " + h.String()
		}
		fmt.Fprintf(a.cfg.Stderr, "reconcile: another pass holds ~/%s%s; waiting up to %s\n", controllers.LockFile, held, timeout)
	})
}

// ErrNoCatalog: no --catalog, no $SANCTUM_CATALOG and no ./sanctum. The
// embedded example is never taken in their place: a check run outside the
// repository would otherwise judge the host against the wrong catalog.
var ErrNoCatalog = errors.New("no catalog")

// catalogName picks the catalog: --catalog, $SANCTUM_CATALOG, or
// ./sanctum; the embedded example only when named (--catalog
// builtin:example).
func (a *app) catalogName() (string, error) {
	name := a.catalog
	if name == "" {
		name = a.cfg.Getenv("SANCTUM_CATALOG")
	}
	if name == "" {
		info, err := os.Stat("sanctum")
		if err != nil || !info.IsDir() {
			wd, _ := os.Getwd()
			return "", &exitError{ExitError, fmt.Errorf("%w to use: there is no ./sanctum in %s and neither --catalog nor $SANCTUM_CATALOG names one; "+
				"pass --catalog DIR (or --catalog %s for the shipped example)", ErrNoCatalog, wd, BuiltinCatalog)}
		}
		name = "sanctum"
	}
	return name, nil
}

// catalogFS opens the catalog catalogName picks.
func (a *app) catalogFS() (fs.FS, string, error) {
	name, err := a.catalogName()
	if err != nil {
		return nil, "", err
	}
	if name == BuiltinCatalog {
		return sanctum.Example(), name, nil
	}
	info, err := os.Stat(name)
	if err != nil {
		return nil, name, &exitError{ExitError, fmt.Errorf("catalog: %w", err)}
	}
	if !info.IsDir() {
		return nil, name, &exitError{ExitError, fmt.Errorf("catalog %s: not a directory", name)}
	}
	// The catalog is a root: no symlink in it leads out of it, no open of
	// a FIFO blocks, no file over desired.MaxFileSize is read. The root
	// stays open for the process: sources are read from it during the pass.
	root, err := os.OpenRoot(name)
	if err != nil {
		return nil, name, &exitError{ExitError, fmt.Errorf("catalog: %w", err)}
	}
	return regular.FS{Root: root, Limit: desired.MaxFileSize, Outside: desired.ErrOutsideCatalog}, name, nil
}

func (a *app) loadCatalog(ctx context.Context, secrets desired.SecretMode) (*desired.Catalog, error) {
	cat, _, err := a.loadCatalogOpts(ctx, secrets)
	return cat, err
}

// loadCatalogOpts loads the catalog; it returns the options too, for
// loading its twin later.
func (a *app) loadCatalogOpts(ctx context.Context, secrets desired.SecretMode) (*desired.Catalog, desired.Options, error) {
	fsys, name, err := a.catalogFS()
	if err != nil {
		return nil, desired.Options{}, err
	}
	home, _, err := a.resolveHome()
	if err != nil {
		return nil, desired.Options{}, err
	}
	opts := desired.Options{FS: fsys, Name: name, Home: home, Secrets: secrets}
	cat, err := desired.Load(ctx, opts)
	if err != nil {
		// A home that does not exist, and nothing else wrong: the catalog
		// is valid, and the message is the home's alone.
		if list := flatten(err); len(list) == 1 && errors.Is(list[0], desired.ErrHomeMissing) {
			return nil, opts, &exitError{ExitError, list[0]}
		}
		return nil, opts, &exitError{ExitError, fmt.Errorf("invalid catalog:\n%w", err)}
	}
	a.redactor = drift.NewRedactor(cat.SecretValues)
	return cat, opts, nil
}

// newRunID names a pass: its time to the microsecond, so that run ids sort
// as the runs happened, and a random suffix against two processes starting
// in the same microsecond.
func newRunID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format(controllers.RunIDTimeFormat) + "-" + hex.EncodeToString(b[:])
}
