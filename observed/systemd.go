package observed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoSystemd: this host has no systemctl (macOS): systemd's state is
// unknown, which is neither drift nor an error.
var ErrNoSystemd = errors.New("systemctl not found on this host")

// ShowProperties are the properties a pass asks `systemctl show` for, in
// one call for every unit it manages.
var ShowProperties = []string{"Id", "LoadState", "ActiveState", "SubState", "UnitFileState",
	"NeedDaemonReload", "FragmentPath", "MainPID", "ExecMainStartTimestamp", "Result"}

// UnitInfo is what `systemctl show` says of one unit.
type UnitInfo struct {
	Unit             string // Id
	LoadState        string // loaded, not-found, bad-setting, error, masked
	ActiveState      string // active, inactive, failed, activating, deactivating, reloading
	SubState         string // running, dead, exited, failed, ...
	UnitFileState    string // enabled, disabled, static, masked, linked, ... ("" when not found)
	NeedDaemonReload bool   // the file on disk changed since systemd loaded it
	FragmentPath     string // the unit file systemd loaded
	MainPID          int
	// ExecMainStartTimestamp is when the main process last started, as
	// systemctl prints it ("" when it never ran).
	ExecMainStartTimestamp string
	Result                 string // success, exit-code, signal, ...
}

// SystemctlError is a systemctl invocation that failed.
type SystemctlError struct {
	Args   []string
	Code   int
	Stderr string
	// System: the call was to the system manager (no --user).
	System bool
}

func (e *SystemctlError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	what := strings.Join(e.Args, " ")
	if len(e.Args) > 0 && e.Args[0] == "show" {
		units := 0
		for i, a := range e.Args {
			if a == "--" {
				units = len(e.Args) - i - 1
			}
		}
		what = fmt.Sprintf("show (%d units)", units)
	}
	cmd := "systemctl --user"
	if e.System {
		cmd = "systemctl"
	}
	switch {
	case e.System && strings.Contains(msg, "Interactive authentication required"):
		msg += " (the system manager's units are changed by root: run reconcile as root)"
	case strings.Contains(msg, "Failed to connect to bus") && e.System:
		msg += " (a user who is not root reaches the system manager over the system bus; without one, only root or sudo -n can ask it)"
	case strings.Contains(msg, "Failed to connect to bus") && !e.System:
		msg += " (does the user's systemd run? systemctl --user reaches it through XDG_RUNTIME_DIR)"
	}
	return fmt.Sprintf("%s %s: exit %d: %s", cmd, what, e.Code, msg)
}

// Systemd is the door to one systemd manager (the user's: systemctl
// --user). Units are named as systemd names them (x.service).
type Systemd interface {
	// Available reports ErrNoSystemd when systemctl cannot be asked.
	Available() error
	// Show answers for every unit in one call; a unit systemd does not
	// know is there, with LoadState not-found.
	Show(ctx context.Context, units []string) (map[string]*UnitInfo, error)
	DaemonReload(ctx context.Context) error
	// Enable enables every unit named in one call: systemctl reloads the
	// manager for each enable, so one call for all saves a reload each.
	Enable(ctx context.Context, units ...string) error
	Disable(ctx context.Context, unit string) error
	Start(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
}

// Systemctl runs the systemctl found on PATH against the user's manager,
// which it reaches through XDG_RUNTIME_DIR (or DBUS_SESSION_BUS_ADDRESS),
// or against the system manager (NewSystemctlSystem).
type Systemctl struct {
	path string
	err  error
	// system: the system manager (no --user).
	system bool
}

var _ Systemd = (*Systemctl)(nil)

// NewSystemctl looks systemctl up once.
func NewSystemctl() *Systemctl {
	p, err := exec.LookPath("systemctl")
	if err != nil {
		return &Systemctl{err: ErrNoSystemd}
	}
	return &Systemctl{path: p}
}

// SystemdBooted is the directory that exists when systemd manages this
// machine as PID 1 (sd_booted(3)).
const SystemdBooted = "/run/systemd/system"

// NewSystemctlSystem is the system manager's systemctl, asked directly:
// show and cat need no privilege, and only a pass run by root changes its
// units (cli's localSystem: a node's system units, reached from another
// host, go through sudo -n in the node's script instead). ErrNoSystemd
// when systemd does not manage this machine (no /run/systemd/system) or
// has no systemctl.
func NewSystemctlSystem() *Systemctl {
	s := NewSystemctl()
	s.system = true
	if _, err := os.Stat(SystemdBooted); err != nil && s.err == nil {
		s.err = notAsked("systemd does not manage this machine (no " + SystemdBooted + "): no system manager to ask")
	}
	return s
}

// Available implements Systemd.
func (s *Systemctl) Available() error { return s.err }

func (s *Systemctl) run(ctx context.Context, args ...string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	flags := []string{"--user", "--no-pager", "--no-ask-password"}
	if s.system {
		flags = flags[1:]
	}
	return runTool(ctx, 90*time.Second, s.path, append(flags, args...), func(code int, out string) error {
		return &SystemctlError{Args: args, Code: code, Stderr: out, System: s.system}
	})
}

// Show implements Systemd.
func (s *Systemctl) Show(ctx context.Context, units []string) (map[string]*UnitInfo, error) {
	if len(units) == 0 {
		return map[string]*UnitInfo{}, nil
	}
	args := append([]string{"show", "--property=" + strings.Join(ShowProperties, ","), "--"}, units...)
	out, err := s.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	infos, err := ParseShow(out)
	if err != nil {
		return nil, fmt.Errorf("systemctl show: %w", err)
	}
	for _, u := range units {
		if infos[u] == nil {
			return nil, fmt.Errorf("systemctl show: no answer for %s", u)
		}
	}
	return infos, nil
}

// ParseShow reads `systemctl show` of several units (ParseShowBlocks)
// into what a pass decides on.
func ParseShow(out string) (map[string]*UnitInfo, error) {
	blocks, err := ParseShowBlocks(out)
	if err != nil {
		return nil, err
	}
	infos := make(map[string]*UnitInfo, len(blocks))
	for id, p := range blocks {
		pid, _ := strconv.Atoi(p["MainPID"])
		infos[id] = &UnitInfo{Unit: id, LoadState: p["LoadState"], ActiveState: p["ActiveState"], SubState: p["SubState"],
			UnitFileState: p["UnitFileState"], NeedDaemonReload: p["NeedDaemonReload"] == "yes", FragmentPath: p["FragmentPath"],
			MainPID: pid, ExecMainStartTimestamp: p["ExecMainStartTimestamp"], Result: p["Result"]}
	}
	return infos, nil
}

// DaemonReload implements Systemd.
func (s *Systemctl) DaemonReload(ctx context.Context) error {
	_, err := s.run(ctx, "daemon-reload")
	return err
}

// Enable implements Systemd.
func (s *Systemctl) Enable(ctx context.Context, units ...string) error {
	_, err := s.run(ctx, append([]string{"enable", "--"}, units...)...)
	return err
}

// Disable implements Systemd.
func (s *Systemctl) Disable(ctx context.Context, unit string) error {
	_, err := s.run(ctx, "disable", "--", unit)
	return err
}

// Start implements Systemd.
func (s *Systemctl) Start(ctx context.Context, unit string) error {
	_, err := s.run(ctx, "start", "--", unit)
	return err
}

// Restart implements Systemd.
func (s *Systemctl) Restart(ctx context.Context, unit string) error {
	_, err := s.run(ctx, "restart", "--", unit)
	return err
}

// Stop implements Systemd.
func (s *Systemctl) Stop(ctx context.Context, unit string) error {
	_, err := s.run(ctx, "stop", "--", unit)
	return err
}

// DryRunSystemd passes queries through and records every state change
// instead of making it.
type DryRunSystemd struct {
	Systemd
	mu  sync.Mutex
	ops []Op
}

var _ Systemd = (*DryRunSystemd)(nil)

// NewDryRunSystemd decorates s.
func NewDryRunSystemd(s Systemd) *DryRunSystemd { return &DryRunSystemd{Systemd: s} }

// Ops returns the recorded state changes.
func (d *DryRunSystemd) Ops() []Op {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Op(nil), d.ops...)
}

func (d *DryRunSystemd) record(verb, unit string) error {
	d.mu.Lock()
	d.ops = append(d.ops, Op{Verb: verb, Path: unit})
	d.mu.Unlock()
	return nil
}

// Plans implements planner.
func (d *DryRunSystemd) Plans() bool { return true }

// DaemonReload implements Systemd.
func (d *DryRunSystemd) DaemonReload(context.Context) error { return d.record("daemon-reload", "") }

// Enable implements Systemd.
func (d *DryRunSystemd) Enable(_ context.Context, units ...string) error {
	for _, u := range units {
		_ = d.record("enable", u)
	}
	return nil
}

// Disable implements Systemd.
func (d *DryRunSystemd) Disable(_ context.Context, unit string) error {
	return d.record("disable", unit)
}

// Start implements Systemd.
func (d *DryRunSystemd) Start(_ context.Context, unit string) error { return d.record("start", unit) }

// Restart implements Systemd.
func (d *DryRunSystemd) Restart(_ context.Context, unit string) error {
	return d.record("restart", unit)
}

// Stop implements Systemd.
func (d *DryRunSystemd) Stop(_ context.Context, unit string) error { return d.record("stop", unit) }

// ReadOnlySystemd refuses every state change: under it, one is a bug.
type ReadOnlySystemd struct{ Systemd }

var _ Systemd = ReadOnlySystemd{}

// DaemonReload implements Systemd.
func (ReadOnlySystemd) DaemonReload(context.Context) error {
	return readOnly("systemctl daemon-reload", "")
}

// Enable implements Systemd.
func (ReadOnlySystemd) Enable(_ context.Context, units ...string) error {
	return readOnly("systemctl enable", strings.Join(units, " "))
}

// Disable implements Systemd.
func (ReadOnlySystemd) Disable(_ context.Context, unit string) error {
	return readOnly("systemctl disable", unit)
}

// Start implements Systemd.
func (ReadOnlySystemd) Start(_ context.Context, unit string) error {
	return readOnly("systemctl start", unit)
}

// Restart implements Systemd.
func (ReadOnlySystemd) Restart(_ context.Context, unit string) error {
	return readOnly("systemctl restart", unit)
}

// Stop implements Systemd.
func (ReadOnlySystemd) Stop(_ context.Context, unit string) error {
	return readOnly("systemctl stop", unit)
}

// NoSystemd is the systemd of a host that has none (macOS), of a pass
// given none, and of one that must not ask the manager it could reach
// (Reason says why): every question answers ErrNoSystemd.
type NoSystemd struct{ Reason string }

var _ Systemd = NoSystemd{}

// Available implements Systemd.
func (n NoSystemd) Available() error {
	if n.Reason != "" {
		return notAsked(n.Reason)
	}
	return ErrNoSystemd
}

// notAsked is ErrNoSystemd for a manager that is there but must not be
// asked; its text is the reason.
type notAsked string

func (e notAsked) Error() string        { return string(e) }
func (e notAsked) Is(target error) bool { return target == ErrNoSystemd }

// Show implements Systemd.
func (NoSystemd) Show(context.Context, []string) (map[string]*UnitInfo, error) {
	return nil, ErrNoSystemd
}

// DaemonReload implements Systemd.
func (NoSystemd) DaemonReload(context.Context) error { return ErrNoSystemd }

// Enable implements Systemd.
func (NoSystemd) Enable(context.Context, ...string) error { return ErrNoSystemd }

// Disable implements Systemd.
func (NoSystemd) Disable(context.Context, string) error { return ErrNoSystemd }

// Start implements Systemd.
func (NoSystemd) Start(context.Context, string) error { return ErrNoSystemd }

// Restart implements Systemd.
func (NoSystemd) Restart(context.Context, string) error { return ErrNoSystemd }

// Stop implements Systemd.
func (NoSystemd) Stop(context.Context, string) error { return ErrNoSystemd }
