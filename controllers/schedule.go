package controllers

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// ScheduleLabel is the label of the scheduled convergence pass.
const ScheduleLabel = "com.sanctum.reconcile"

// ScheduleInterval is how often launchd runs the scheduled pass, in seconds.
const ScheduleInterval = 300

// ScheduleAgent is the launch agent of the scheduled pass: `reconcile apply
// --scheduled` at load and every five minutes, logging under ~/.sanctum/logs.
func ScheduleAgent(home string, args []string) *v1.LaunchAgent {
	log := scheduleLog(home)
	return scheduledJob("reconcile", ScheduleLabel, args, log, log)
}

// scheduleLog is the scheduled jobs' log.
func scheduleLog(home string) string { return filepath.Join(home, ".sanctum", "logs", "reconcile.log") }

// scheduledJob is a background job launchd runs at load and every
// ScheduleInterval seconds.
func scheduledJob(name, label string, args []string, stdout, stderr string) *v1.LaunchAgent {
	return &v1.LaunchAgent{
		TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindLaunchAgent},
		ObjectMeta: v1.ObjectMeta{Name: name},
		Spec: v1.LaunchAgentSpec{
			Label: label, ProgramArguments: args, RunAtLoad: true, StartInterval: ScheduleInterval,
			ProcessType: "Background", StandardOutPath: stdout, StandardErrorPath: stderr,
		},
	}
}

// HealthScheduleLabel is the label of the job that keeps the health
// record fresh: `reconcile status --record` beside the scheduled pass.
const HealthScheduleLabel = "com.sanctum.reconcile.health"

// HealthSchedulePlist is its plist, relative to HOME.
const HealthSchedulePlist = LaunchAgentsDir + "/" + HealthScheduleLabel + ".plist"

// ScheduleHealthAgent is the launch agent that records the services'
// health at load and at the scheduled pass's interval (`reconcile status
// --record`), so that status's FOR column is known. A job of its own, not
// a step of the pass: status takes no lock and never waits for a pass,
// and a pass is not slowed by probes. The table it prints goes nowhere;
// its errors go to the scheduled pass's log.
func ScheduleHealthAgent(home string, args []string) *v1.LaunchAgent {
	return scheduledJob("reconcile-health", HealthScheduleLabel, args, "/dev/null", scheduleLog(home))
}

// InstallSchedule writes the scheduled pass's plist (backing up what it
// replaces) and makes launchd run it: bootstrap when not loaded, reload only
// when the plist changed.
func (p *Pass) InstallSchedule(ctx context.Context, a *v1.LaunchAgent) []drift.Change {
	content, err := RenderPlist(a)
	if err != nil {
		return []drift.Change{p.fail(drift.Change{Kind: v1.KindLaunchAgent, Name: a.Name}, err)}
	}
	if err := p.Host.MkdirAll(".sanctum/logs", 0o755); err != nil {
		return []drift.Change{p.fail(drift.Change{Kind: v1.KindLaunchAgent, Name: a.Name}, err)}
	}
	target := Domain(a) + "/" + a.LabelName()
	file := p.File(ctx, FileTarget{Kind: v1.KindLaunchAgent, Name: a.Name, Path: PlistPath(a), Content: content, Launchd: target})
	out := []drift.Change{file}
	if file.Action == drift.Failed {
		return out
	}
	c := drift.Change{Kind: v1.KindLaunchAgent, Name: a.Name, Target: target, Action: drift.Unchanged}
	if err := p.Launchd.Available(); err != nil {
		c.Action, c.Reason = drift.Skipped, "launchd state unknown: "+err.Error()
		return append(out, c)
	}
	_, err = p.Launchd.Print(ctx, target)
	loaded := err == nil
	if err != nil && !errors.Is(err, observed.ErrNotLoaded) {
		return append(out, p.fail(c, err))
	}
	var steps []string
	switch {
	case loaded && file.Action == drift.Unchanged:
		return append(out, c)
	case loaded:
		c.Action, steps = drift.Configured, []string{"plist changed: reload"}
	default:
		c.Action, steps = drift.Created, []string{"not loaded: bootstrap"}
	}
	if _, err := observed.Reload(ctx, p.Launchd, target, Domain(a), p.abs(PlistPath(a)), loaded, p.Reload); err != nil {
		c.Reason = strings.Join(steps, "; ")
		return append(out, p.fail(c, err))
	}
	c.Reason = strings.Join(steps, "; ")
	return append(out, c)
}

// UninstallSchedule boots the scheduled pass out and moves its plist into
// the run's backups.
func (p *Pass) UninstallSchedule(ctx context.Context, a *v1.LaunchAgent) []drift.Change {
	a.Spec.Retired = true
	return []drift.Change{p.retire(ctx, a)}
}

// Finish writes what a pass that made backups owes: their index.
func (p *Pass) Finish() error {
	return p.writeBackupIndex()
}
