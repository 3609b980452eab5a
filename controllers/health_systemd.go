package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/observed"
)

// UnitState is what status shows of a service's systemd unit.
type UnitState struct {
	Unit        string `json:"unit"`
	LoadState   string `json:"loadState"`
	ActiveState string `json:"activeState"`
	SubState    string `json:"subState"`
	Result      string `json:"result,omitempty"`
	// Since is when the unit entered its ActiveState (nil: unknown).
	Since *time.Time `json:"since"`
}

// HealthSources are what CheckHealthWith reads the health of services
// from.
type HealthSources struct {
	Prober observed.Prober
	// Launchd judges periodic jobs (nil: unprobed).
	Launchd observed.Launchd
	// Units answers for the systemd units of this host's services in one
	// call (nil: their state is unknown).
	Units observed.UnitStatusReader
	// LocalHost is the catalog host this machine is (LocalHostName): a
	// unit's state is read only on the host that runs it.
	LocalHost string
	// UnitsNode, when set, is the node that is host vm: Units reads the
	// units there (over SSH), from a host that is not vm.
	UnitsNode string
}

// statusTimeFormat is how status writes a moment in a detail.
const statusTimeFormat = "2006-01-02 15:04:05Z"

// unitsOfServices asks systemd once about the units the enabled services
// run under or whose state their probe judges, on the host that runs
// them. The error says why their state is unknown (another host, no
// systemctl, a manager that does not answer); no unit asked, none.
func unitsOfServices(ctx context.Context, services map[string]*v1.Service, src HealthSources) (map[string]*observed.UnitStatus, error) {
	var names []string
	for _, s := range services {
		if u := s.UnitName(); u != "" {
			names = append(names, u)
		}
		if _, p := probeOf(s); p != nil && p.Type == v1.ProbeSystemd {
			names = append(names, s.ProbeUnit(p))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(names)
	names = slices.Compact(names)
	switch {
	case src.LocalHost != v1.SystemdHostVM && src.UnitsNode == "":
		return nil, fmt.Errorf("a unit's state is read on host %s, this host is %s (no node is catalog host %s, or --local)",
			v1.SystemdHostVM, src.LocalHost, v1.SystemdHostVM)
	case src.Units == nil:
		return nil, fmt.Errorf("systemd state unknown: %w", observed.ErrNoSystemd)
	}
	if err := src.Units.Available(); err != nil {
		return nil, fmt.Errorf("systemd state unknown: %w", err)
	}
	infos, err := src.Units.UnitStatus(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("systemd state unknown: %w", err)
	}
	return infos, nil
}

// unitStateOf is the UnitState of a unit systemd answered for.
func unitStateOf(st *observed.UnitStatus) *UnitState {
	u := &UnitState{Unit: st.Unit, LoadState: st.LoadState, ActiveState: st.ActiveState, SubState: st.SubState}
	if st.ActiveState == "failed" || st.Result != "success" {
		u.Result = st.Result
	}
	if t := st.Since(); !t.IsZero() {
		u.Since = &t
	}
	return u
}

// describeUnit is a unit's state in words: "unit x.service active
// (running) since 2026-12-02 04:00:00Z".
func describeUnit(st *observed.UnitStatus) string {
	if st.LoadState != "" && st.LoadState != "loaded" {
		return fmt.Sprintf("unit %s not loaded (LoadState=%s)", st.Unit, st.LoadState)
	}
	d := fmt.Sprintf("unit %s %s (%s)", st.Unit, st.ActiveState, st.SubState)
	if st.ActiveState == "failed" || (st.ActiveState != "active" && st.Result != "" && st.Result != "success") {
		d += ", Result=" + st.Result
	}
	if t := st.Since(); !t.IsZero() {
		d += " since " + t.UTC().Format(statusTimeFormat)
	}
	return d
}

// judgeUnit is a systemd probe's verdict: healthy when the unit is active
// and not failed (running, or exited: a oneshot that remains after exit),
// down otherwise with its state (and systemd's Result when it failed).
func judgeUnit(st *observed.UnitStatus) (state, detail string) {
	detail = describeUnit(st)
	if st.LoadState == "loaded" && st.ActiveState == "active" {
		return HealthHealthy, detail
	}
	return HealthDown, detail
}

// judgeByUnit applies a systemd probe: unprobed, with the reason, when
// the unit's state could not be read here.
func judgeByUnit(s *v1.Service, p *v1.Probe, units map[string]*observed.UnitStatus, unitErr error) (state, detail string, since *time.Time) {
	unit := s.ProbeUnit(p)
	if unitErr != nil {
		return HealthUnprobed, "systemd unit " + unit + ": " + unitErr.Error(), nil
	}
	st := units[unit]
	if st == nil {
		return HealthUnprobed, "systemd unit " + unit + ": no answer from systemctl show", nil
	}
	state, detail = judgeUnit(st)
	if t := st.Since(); !t.IsZero() {
		since = &t
	}
	return state, detail, since
}
