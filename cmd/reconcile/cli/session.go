package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/hashicorp/go-multierror"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// session is the one sequence of every command that writes (apply, the
// scheduled pass, rollback, schedule install|uninstall): take the home's
// lock, name the run, let the command run its pass, then keep what the run
// leaves for the next one, prune old backup runs and record the pass in the
// history, in that order, whatever failed before. The commands keep only
// their flags, their wiring and their exit codes.
type session struct {
	a     *app
	host  observed.Host // the real host: the session's own writes
	lock  *observed.Lock
	RunID string
	Now   time.Time
	// cleaned is the debris of an interrupted run removed from the state
	// directory once the lock is held, reported with the run's changes.
	cleaned []drift.Change
}

// beginSession takes the lock of host's home (waiting up to timeout) and
// names the run. An error matches observed.ErrLocked when another pass
// holds the lock.
func (a *app) beginSession(ctx context.Context, host observed.Host, timeout time.Duration) (*session, error) {
	lock, err := a.lock(ctx, host.Home(), timeout)
	if err != nil {
		return nil, err
	}
	now := a.cfg.Now()
	s := &session{a: a, host: a.maskLedgers(host), lock: lock, RunID: newRunID(now), Now: now}
	// A run killed while it wrote its ledgers left their temporary files;
	// no other writer runs now.
	s.cleaned = controllers.SweepDebris(host, controllers.StateDir)
	// Who holds the lock, for a pass that finds it busy: not being able
	// to say so is no reason to fail this one.
	_ = lock.Record(observed.LockHolder{PID: os.Getpid(), Command: a.command, RunID: s.RunID, Since: now})
	return s, nil
}

// end releases the lock.
func (s *session) end() { s.lock.Release() }

// outcome is what a command's run gives the session to record.
type outcome struct {
	Mode          string // apply | scheduled | rollback | schedule
	Reason        string
	CatalogDigest string
	Changes       *drift.ChangeSet
	// Err is the run's own error; the session adds its own to it.
	Err error
	// Incomplete names the required nodes the run could not reach.
	Incomplete []string
	// Nodes is a rollback's outcome on each node.
	Nodes []controllers.NodeRollback
	// Keep writes what the run leaves for the next pass (its state, its
	// backup index, its caches).
	Keep func() error
	// Backups, when set, prunes old backup runs after a run without error.
	Backups *v1.BackupSettings
	// History, when set, drops history entries older than its days once
	// this run's entry is recorded.
	History *v1.HistorySettings
	// Quiet: say nothing about pruned runs (the scheduled pass).
	Quiet bool
}

// finish keeps, prunes, records and rotates the history; it returns the run's error combined
// with the session's.
func (s *session) finish(o outcome) error {
	err := o.Err
	if o.Changes != nil {
		o.Changes.Add(s.cleaned...)
	}
	if o.Keep != nil {
		if kerr := o.Keep(); kerr != nil {
			err = multierror.Append(err, kerr)
		}
	}
	if o.Backups != nil && err == nil {
		pass := controllers.NewPass(s.host, nil, s.RunID, s.Now, nil, &controllers.State{})
		pruned, perr := pass.PruneBackups(*o.Backups)
		switch {
		case perr != nil:
			err = multierror.Append(err, fmt.Errorf("prune backups: %w", perr))
		case len(pruned) > 0 && !o.Quiet:
			fmt.Fprintf(s.a.cfg.Stderr, "reconcile: pruned %d old backup run(s)\n", len(pruned))
		}
	}
	e := controllers.HistoryEntry{RunID: s.RunID, Time: s.Now.UTC(), Mode: o.Mode, Result: "converged",
		Reason: o.Reason, CatalogDigest: o.CatalogDigest, Incomplete: o.Incomplete, Nodes: o.Nodes}
	if o.Changes != nil {
		e.Changes, e.Summary = o.Changes.Summary().Changes(), o.Changes.Summary()
		if len(o.Changes.Failed()) > 0 {
			e.Result = "failed"
		}
	}
	if e.Result == "converged" && len(o.Incomplete) > 0 {
		e.Result = "incomplete"
	}
	if err != nil {
		e.Result = "failed"
	}
	if herr := controllers.AppendHistory(s.host, e); herr != nil {
		return multierror.Append(err, fmt.Errorf("history: %w", herr))
	}
	if o.History != nil {
		days := o.History.Days()
		dropped, rerr := controllers.RotateHistory(s.host, s.Now, days)
		switch {
		case rerr != nil:
			err = multierror.Append(err, fmt.Errorf("rotate history: %w", rerr))
		case dropped > 0 && !o.Quiet:
			fmt.Fprintf(s.a.cfg.Stderr, "reconcile: dropped %d history entry(ies) older than %d days\n", dropped, days)
		}
	}
	return err
}

// writeHome opens the home of a command that writes, making it if need be.
func (a *app) writeHome() (*observed.FileHost, error) {
	home, _, err := a.resolveHome()
	if err != nil {
		return nil, err
	}
	host, err := observed.NewFileHost(home)
	if err != nil {
		return nil, &exitError{ExitError, err}
	}
	return host, nil
}

// readHome opens the home of a command that only reads, behind the
// read-only guard as its outermost layer: any write is an error, and a home
// that does not exist reads as empty and is not made.
func (a *app) readHome() (observed.Host, func(), error) {
	home, _, err := a.resolveHome()
	if err != nil {
		return nil, nil, err
	}
	host, err := observed.OpenFileHost(home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return observed.ReadOnlyHost{Host: observed.AbsentHome{Dir: home}}, func() {}, nil
	case err != nil:
		return nil, nil, &exitError{ExitError, err}
	}
	return observed.ReadOnlyHost{Host: host}, func() { host.Close() }, nil
}
