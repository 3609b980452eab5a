package observed

import (
	"context"
	"errors"
	"strings"
)

// Keys of systemd's answers in a ReadLog (a saved plan):
//
//	systemd:available      whether systemctl can be asked
//	systemd:show:<unit>    what a pass decides a unit's actions on
//	systemd-system:...     the same of the system manager

// systemdAvailableDigest says whether systemctl can be asked.
func systemdAvailableDigest(err error) string {
	switch {
	case err == nil:
		return "available"
	case errors.Is(err, ErrNoSystemd):
		return "no-systemctl"
	}
	return "error"
}

// showDigest covers what a pass decides a unit's actions on: whether it
// is loaded and from where, whether it runs or failed (and why), whether
// it is enabled, whether a reload is due, and when its main process last
// started (a restart since the plan means the plan's reasons are old).
// Not MainPID or SubState, which a unit changes by itself while it runs.
func showDigest(info *UnitInfo, err error) string {
	switch {
	case errors.Is(err, ErrNoSystemd):
		return "no-systemctl"
	case err != nil:
		return "error"
	case info == nil:
		return "absent"
	}
	reload := "no"
	if info.NeedDaemonReload {
		reload = "yes"
	}
	return hashOf(info.LoadState, info.ActiveState, info.Result, info.UnitFileState, reload,
		info.FragmentPath, info.ExecMainStartTimestamp)
}

// RecordingSystemd records systemd's answers in a ReadLog. A unit the
// pass started, stopped, restarted, enabled or disabled (any unit, after a
// daemon-reload) is not recorded afterwards: that answer would describe
// the pass, not the host.
type RecordingSystemd struct {
	Systemd
	Log *ReadLog
	// System: the system manager's answers (keys systemd-system:...).
	System bool
}

// systemdKey is the prefix of a manager's keys.
func systemdKey(system bool) string {
	if system {
		return "systemd-system:"
	}
	return "systemd:"
}

var _ Systemd = RecordingSystemd{}

// Plans implements planner: as the systemd it records.
func (r RecordingSystemd) Plans() bool { return Plans(r.Systemd) }

// Available implements Systemd.
func (r RecordingSystemd) Available() error {
	err := r.Systemd.Available()
	r.Log.add(systemdKey(r.System)+"available", systemdAvailableDigest(err))
	return err
}

// Show implements Systemd.
func (r RecordingSystemd) Show(ctx context.Context, units []string) (map[string]*UnitInfo, error) {
	infos, err := r.Systemd.Show(ctx, units)
	for _, u := range units {
		r.Log.mu.Lock()
		own := r.Log.changed[systemdKey(r.System)+u] || r.Log.changed[systemdKey(r.System)+"*"]
		r.Log.mu.Unlock()
		if !own {
			var info *UnitInfo
			if err == nil {
				info = infos[u]
			}
			r.Log.add(systemdKey(r.System)+"show:"+u, showDigest(info, err))
		}
	}
	return infos, err
}

func (r RecordingSystemd) changed(units ...string) {
	r.Log.mu.Lock()
	for _, u := range units {
		r.Log.changed[systemdKey(r.System)+u] = true
	}
	r.Log.mu.Unlock()
}

// DaemonReload implements Systemd: after it, every unit's answer may
// describe the pass.
func (r RecordingSystemd) DaemonReload(ctx context.Context) error {
	r.changed("*")
	return r.Systemd.DaemonReload(ctx)
}

// Enable implements Systemd.
func (r RecordingSystemd) Enable(ctx context.Context, units ...string) error {
	r.changed(units...)
	return r.Systemd.Enable(ctx, units...)
}

// Disable implements Systemd.
func (r RecordingSystemd) Disable(ctx context.Context, unit string) error {
	r.changed(unit)
	return r.Systemd.Disable(ctx, unit)
}

// Start implements Systemd.
func (r RecordingSystemd) Start(ctx context.Context, unit string) error {
	r.changed(unit)
	return r.Systemd.Start(ctx, unit)
}

// Restart implements Systemd.
func (r RecordingSystemd) Restart(ctx context.Context, unit string) error {
	r.changed(unit)
	return r.Systemd.Restart(ctx, unit)
}

// Stop implements Systemd.
func (r RecordingSystemd) Stop(ctx context.Context, unit string) error {
	r.changed(unit)
	return r.Systemd.Stop(ctx, unit)
}

// RereadUnits asks systemd again, read-only and in one show, for every
// systemd key of a plan's reads (the system manager's keys when system);
// the keys whose answer moved.
func RereadUnits(ctx context.Context, reads []Read, s Systemd, system bool) []Moved {
	s = ReadOnlySystemd{Systemd: s}
	prefix := systemdKey(system)
	var units []string
	var keys []Read
	for _, rd := range reads {
		if rest, ok := strings.CutPrefix(rd.Key, prefix); ok {
			keys = append(keys, rd)
			if u, ok := strings.CutPrefix(rest, "show:"); ok {
				units = append(units, u)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	var infos map[string]*UnitInfo
	var showErr error
	if len(units) > 0 {
		infos, showErr = s.Show(ctx, units)
	}
	var moved []Moved
	for _, rd := range keys {
		var now string
		if u, ok := strings.CutPrefix(rd.Key, prefix+"show:"); ok {
			var info *UnitInfo
			if showErr == nil {
				info = infos[u]
			}
			now = showDigest(info, showErr)
		} else {
			now = systemdAvailableDigest(s.Available())
		}
		if now != rd.Digest {
			moved = append(moved, Moved{Key: rd.Key, Was: rd.Digest, Now: now})
		}
	}
	return moved
}
