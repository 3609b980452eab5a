package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

func (a *app) scheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Install or remove the launchd agent that runs the scheduled convergence pass",
		Long: `schedule manages com.sanctum.reconcile, the launch agent that runs
"reconcile apply --scheduled" at load and every 300 seconds, for this home and
catalog, logging to ~/.sanctum/logs/reconcile.log; and beside it
com.sanctum.reconcile.health, which runs "reconcile status --record" as often,
so that status knows how long each service has been in its state.`,
	}
	var binary string
	install := &cobra.Command{
		Use:   "install [KIND/NAME ...] [-l SELECTOR] [--node NAME ...]",
		Short: "Write com.sanctum.reconcile.plist (and com.sanctum.reconcile.health.plist) and load them (reloaded only when changed)",
		Long: `install writes com.sanctum.reconcile.plist and loads it: the scheduled pass runs
this reconcile binary (or --binary), which must not be a temporary build (go run,
go test, the Go build cache, the temp directory), with --home, the catalog's
absolute path, and --local and a target when given here. Beside it,
com.sanctum.reconcile.health runs "reconcile status --record" for the same home
and catalog (and --local) at the same interval, keeping the health record
~/.sanctum/state/health.json fresh; its table goes to /dev/null, its errors to
the log.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			objects, err := parseObjects(args)
			if err != nil {
				return err
			}
			a.target.Objects = objects
			return a.schedule(cmd.Context(), true, binary)
		},
	}
	install.Flags().StringVar(&binary, "binary", "", "the reconcile binary launchd runs (default: this one)")
	a.targetFlags(install)
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Boot com.sanctum.reconcile and com.sanctum.reconcile.health out and move their plists into the backups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.schedule(cmd.Context(), false, "")
		},
	}
	cmd.AddCommand(install, uninstall)
	return cmd
}

func (a *app) schedule(ctx context.Context, install bool, binary string) error {
	home, explicit, err := a.resolveHome()
	if err != nil {
		return err
	}
	args, healthArgs := []string{}, []string{}
	if install {
		cat, err := a.loadCatalog(ctx, desired.ResolveSecrets)
		if err != nil {
			return err
		}
		if cat.Instance.Instance.Example && !explicit {
			return &exitError{ExitError, fmt.Errorf("%s is the shipped example catalog; refusing to schedule it against $HOME (%s): name the home with --home", cat.Name, home)}
		}
		self, err := scheduledBinary(binary, goBuildCaches(ctx, a.cfg.Getenv))
		if err != nil {
			return &exitError{ExitError, err}
		}
		catalog := cat.Name
		if catalog != BuiltinCatalog {
			if catalog, err = filepath.Abs(catalog); err != nil {
				return &exitError{ExitError, err}
			}
		}
		// The scheduled pass is this one's: the same home, catalog (by its
		// absolute path, never the working directory's), --local and target.
		if _, err := a.target.resolve(cat, nil, a.local); err != nil {
			return err
		}
		args = []string{self, "apply", "--scheduled", "--home", home, "--catalog", catalog}
		// The health record of the same home and catalog, probed as
		// this pass would (--local: nothing past this host).
		healthArgs = []string{self, "status", "--record", "--home", home, "--catalog", catalog}
		if a.local {
			args = append(args, "--local")
			healthArgs = append(healthArgs, "--local")
		}
		if a.target.Selector != "" {
			args = append(args, "-l", a.target.Selector)
		}
		for _, n := range a.target.Nodes {
			args = append(args, "--node", n)
		}
		args = append(args, a.target.Objects...)
	}
	real, err := observed.NewFileHost(home)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer real.Close()
	s, err := a.beginSession(ctx, real, 30*time.Second)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer s.end()
	pass := controllers.NewPass(a.maskLedgers(real), observed.NewLaunchctl(), s.RunID, s.Now, nil, &controllers.State{})
	agent := controllers.ScheduleAgent(home, args)
	health := controllers.ScheduleHealthAgent(home, healthArgs)
	var changes []drift.Change
	if install {
		changes = append(pass.InstallSchedule(ctx, agent), pass.InstallSchedule(ctx, health)...)
	} else {
		changes = append(pass.UninstallSchedule(ctx, agent), pass.UninstallSchedule(ctx, health)...)
	}
	cs := &drift.ChangeSet{Changes: changes}
	if err := s.finish(outcome{Mode: "schedule", Changes: cs, Keep: pass.Finish}); err != nil {
		return &exitError{ExitError, err}
	}
	if err := drift.WriteText(a.cfg.Stdout, cs, drift.TextOptions{Color: a.cfg.Color, Label: "schedule, run " + s.RunID}); err != nil {
		return &exitError{ExitError, err}
	}
	if len(cs.Failed()) > 0 {
		return &exitError{ExitError, fmt.Errorf("schedule %s failed", map[bool]string{true: "install", false: "uninstall"}[install])}
	}
	return nil
}

func (a *app) historyCommand() *cobra.Command {
	var limit int
	var since string
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the passes recorded in ~/.sanctum/state/history.jsonl",
		Long: `history lists the recorded passes, oldest first: the last 20 unless --limit
says otherwise (0: all), and with --since only those since a time (a
duration back from now such as 24h, or a date such as 2026-12-01 or an
RFC 3339 time).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return &exitError{ExitError, fmt.Errorf("--limit %d: want 0 (all) or more", limit)}
			}
			from, err := parseSince(since, a.cfg.Now())
			if err != nil {
				return &exitError{ExitError, err}
			}
			host, done, err := a.readHome()
			if err != nil {
				return err
			}
			defer done()
			entries, damaged, err := controllers.ReadHistory(host)
			if err != nil {
				return &exitError{ExitError, err}
			}
			if damaged > 0 {
				fmt.Fprintf(a.cfg.Stderr, "reconcile: %d damaged history line(s) skipped\n", damaged)
			}
			if !from.IsZero() {
				kept := entries[:0]
				for _, e := range entries {
					if !e.Time.Before(from) {
						kept = append(kept, e)
					}
				}
				entries = kept
			}
			if limit > 0 && len(entries) > limit {
				entries = entries[len(entries)-limit:]
			}
			switch a.output {
			case "json":
				if entries == nil {
					entries = []controllers.HistoryEntry{}
				}
				enc := json.NewEncoder(a.cfg.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			case "text":
				w := tabwriter.NewWriter(a.cfg.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "RUN\tTIME\tMODE\tRESULT\tCHANGES\tFAILED")
				for _, e := range entries {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", e.RunID, e.Time.Format("2006-01-02 15:04:05Z"), e.Mode, e.Result, e.Changes, e.Summary.Failed)
				}
				return w.Flush()
			}
			return &exitError{ExitError, fmt.Errorf("-o %q: want text or json", a.output)}
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "show the last N passes (0: all)")
	cmd.Flags().StringVar(&since, "since", "", "show passes since a time: a duration back from now (24h) or a date (2026-12-01, RFC 3339)")
	return cmd
}

// parseSince reads --since: "" (no bound), a duration back from now, a
// date, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration such as 24h, a date such as 2026-12-01, or an RFC 3339 time", s)
}

func (a *app) rollbackCommand() *cobra.Command {
	var lockTimeout time.Duration
	var dryRun bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "rollback [--dry-run] <run-id>",
		Short: "Restore every file a pass overwrote or removed, here and on its nodes, from its backups",
		Long: `rollback restores, from ~/.sanctum/state/backups/<run-id>/, every file that pass
overwrote or removed (files it only created are left as they are), backing up
what it replaces under its own run id, reloads the launch agents whose
plists it restores, and (on a Linux host) makes the user's systemd load the
unit files it restores: one daemon-reload, then a restart of each such unit
that runs (one that does not run is left stopped). What it restores is reconcile's again (its inventory):
the next apply converges to the catalog, pruning a restored file the catalog
no longer wants; edit the catalog first to keep what was restored. A backup
index edited by hand is refused. reconcile history lists run ids, those of
runs that were killed too.

On every remote node the run changed (its backup index says which, and what),
rollback restores the same way from the node's own backups
(~/.sanctum/state/backups/<run-id>/ on the node), over one connection per node:
a backup that no longer holds what the run kept is refused, what it replaces is
backed up on the node under the rollback's run id, and a file already as in
the backup is left unchanged. A node that cannot be reached is reported and
the command exits 3: run the same rollback again once it is back. A unit
file restored on a node is loaded by the node's systemd in the same session
(daemon-reload) and its unit restarted if it runs (try-restart).

--dry-run prints what rollback would restore, here and on each node, and
changes nothing anywhere (exit 0 nothing to restore, 2 something to restore).`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRunIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 || parallel > controllers.MaxParallelNodes {
				return &exitError{ExitError, fmt.Errorf("--parallel %d: want 1 to %d", parallel, controllers.MaxParallelNodes)}
			}
			if dryRun {
				return a.rollbackDryRun(cmd.Context(), args[0], parallel)
			}
			ctx := cmd.Context()
			localHost, err := a.localHost()
			if err != nil {
				return err
			}
			real, err := a.writeHome()
			if err != nil {
				return err
			}
			defer real.Close()
			idx, err := controllers.ReadBackupIndex(real, args[0])
			if errors.Is(err, controllers.ErrKilledBeforeChange) {
				fmt.Fprintln(a.cfg.Stdout, err) // nothing was changed: nothing to restore
				return nil
			}
			if err != nil {
				return &exitError{ExitError, err}
			}
			s, err := a.beginSession(ctx, real, lockTimeout)
			if err != nil {
				return &exitError{ExitError, err}
			}
			defer s.end()
			secrets, nodes := a.rollbackCatalog(ctx)
			system, unitDir, err := localSystem(localHost, real.Home())
			if err != nil {
				return &exitError{ExitError, err}
			}
			if unitDir != nil {
				defer unitDir.Close()
			}
			pass := controllers.NewPass(a.maskLedgers(withUnitDir(real, unitDir)), observed.NewLaunchctl(), s.RunID, s.Now, drift.AllSpellings(secrets), &controllers.State{})
			pass.Diffs = false
			ssh := observed.NewSSH(real.Home())
			defer ssh.Close()
			pass.Remote, pass.Systemd, pass.SystemSystemd = ssh, localSystemd(localHost, real.Home()), system
			cs := &drift.ChangeSet{Changes: pass.Rollback(ctx, idx)}
			nodeChanges, recs := pass.RollbackNodes(ctx, idx, nodes, parallel)
			cs.Add(nodeChanges...)
			a.redactor.ChangeSet(cs)
			cs.Sort(controllers.KindRank)
			if err := s.finish(outcome{Mode: "rollback", Reason: "rollback of " + idx.RunID, Changes: cs, Keep: pass.FinishRollback,
				Incomplete: pass.Incomplete, Nodes: recs}); err != nil {
				return &exitError{ExitError, err}
			}
			if err := drift.WriteText(a.cfg.Stdout, cs, drift.TextOptions{Color: a.cfg.Color, Quiet: false, Label: "rollback of " + idx.RunID + ", run " + s.RunID}); err != nil {
				return &exitError{ExitError, err}
			}
			return rollbackExit(cs, pass.Incomplete, false)
		},
	}
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 30*time.Second, "how long to wait for another pass to finish")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be restored, here and on each node; change nothing (exit 2 when something would be)")
	cmd.Flags().IntVar(&parallel, "parallel", controllers.DefaultParallelNodes, "how many nodes to roll back at once")
	return cmd
}

// rollbackCatalog is what rollback takes from the catalog when it loads
// (the catalog may be what is broken: rollback does not need it): its
// secrets, to mask and to keep secret-bearing files 0600 (without them no
// diff is shown, since restored bytes may hold secrets it cannot
// recognise), and its nodes, reached as it says now.
func (a *app) rollbackCatalog(ctx context.Context) ([]string, map[string]*v1.RemoteNode) {
	cat, err := a.loadCatalog(ctx, desired.ResolveSecrets)
	if err != nil {
		return nil, nil
	}
	nodes := make(map[string]*v1.RemoteNode, len(cat.Nodes))
	for _, n := range cat.Nodes {
		nodes[n.Name] = n
	}
	return cat.SecretValues, nodes
}

// rollbackDryRun prints what a rollback would restore, here and on each
// node, through the dry run's stack: reads go to the host and the nodes,
// every write is planned and none is made; it takes no lock and records
// nothing.
func (a *app) rollbackDryRun(ctx context.Context, runID string, parallel int) error {
	home, _, err := a.resolveHome()
	if err != nil {
		return err
	}
	localHost, err := a.localHost()
	if err != nil {
		return err
	}
	w, err := wire(modeDryRun, home, false, localHost)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer w.Close()
	idx, err := controllers.ReadBackupIndex(w.base, runID)
	if errors.Is(err, controllers.ErrKilledBeforeChange) {
		fmt.Fprintln(a.cfg.Stdout, err)
		return nil
	}
	if err != nil {
		return &exitError{ExitError, err}
	}
	secrets, nodes := a.rollbackCatalog(ctx)
	now := a.cfg.Now()
	pass := controllers.NewPass(w.host, w.launchd, newRunID(now), now, drift.AllSpellings(secrets), &controllers.State{})
	pass.Diffs = false
	pass.Remote, pass.Systemd, pass.SystemSystemd = w.remote, w.systemd, w.system
	cs := &drift.ChangeSet{Changes: pass.Rollback(ctx, idx)}
	nodeChanges, _ := pass.RollbackNodes(ctx, idx, nodes, parallel)
	cs.Add(nodeChanges...)
	a.redactor.ChangeSet(cs)
	cs.Sort(controllers.KindRank)
	if err := drift.WriteText(a.cfg.Stdout, cs, drift.TextOptions{Color: a.cfg.Color, Label: "rollback of " + idx.RunID + ": dry run, nothing changed"}); err != nil {
		return &exitError{ExitError, err}
	}
	return rollbackExit(cs, pass.Incomplete, true)
}

// rollbackExit is rollback's exit: 1 when a file was not (or could not
// be) restored, 3 when a node could not be reached, 2 for a dry run that
// would restore something.
func rollbackExit(cs *drift.ChangeSet, incomplete []string, dry bool) error {
	failed := 0
	for _, c := range cs.Failed() {
		if !c.Rollup {
			failed++
		}
	}
	switch {
	case len(cs.Failed()) > 0:
		return &exitError{ExitError, fmt.Errorf("%d file(s) not restored", max(failed, 1))}
	case len(incomplete) > 0:
		return &exitError{ExitIncomplete, fmt.Errorf("incomplete: node(s) %s not reached; run the same rollback again once they are back", strings.Join(incomplete, ", "))}
	case dry && cs.HasDrift():
		return &exitError{code: ExitDrift}
	}
	return nil
}

// scheduledBinary is the reconcile binary the scheduled pass runs: binary,
// or this process's own; absolute, resolved through symlinks, and never a
// temporary build that is gone when its command ends: go run and go test
// build into go-build* directories, the Go build cache (caches) keeps only
// what it likes, and the temp directory is cleaned.
func scheduledBinary(binary string, caches []string) (string, error) {
	self := binary
	if self == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		self = exe
	}
	abs, err := filepath.Abs(self)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("schedule: --binary %s: %w", self, err)
	}
	if info, err := os.Stat(real); err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("schedule: %s is not an executable file", real)
	}
	why := ""
	for _, part := range strings.Split(filepath.ToSlash(real), "/") {
		if strings.HasPrefix(part, "go-build") {
			why = "a temporary build of go run or go test"
		}
	}
	for _, c := range caches {
		if within(real, c) {
			why = "in the Go build cache (" + c + ")"
		}
	}
	if tmp := os.TempDir(); why == "" && within(real, tmp) {
		why = "in the temp directory (" + tmp + ")"
	}
	if why != "" {
		return "", fmt.Errorf("schedule: %s is %s, gone when launchd would run it; build reconcile where it stays "+
			"(make build: bin/reconcile, or go install ./cmd/reconcile) and run schedule install with that binary, "+
			"or name one with --binary", real, why)
	}
	return real, nil
}

// goBuildCaches are where the Go build cache may be: $GOCACHE, the
// default under the user cache directory, and what `go env GOCACHE` says
// when go is on PATH (go env -w may set it in go's own env file, not in
// the environment).
func goBuildCaches(ctx context.Context, getenv func(string) string) []string {
	var caches []string
	if c := getenv("GOCACHE"); c != "" {
		caches = append(caches, c)
	}
	if c, err := os.UserCacheDir(); err == nil {
		caches = append(caches, filepath.Join(c, "go-build"))
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return caches
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "env", "GOCACHE").Output()
	if c := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(c) {
		caches = append(caches, c)
	}
	return caches
}

// within says whether path is dir or under it.
func within(path, dir string) bool {
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
