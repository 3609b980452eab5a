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
	// SystemUnits answers for the units of the system manager (services
	// whose unit is scope: system); nil: their state is unknown.
	SystemUnits observed.UnitStatusReader
}

// statusTimeFormat is how status writes a moment in a detail.
const statusTimeFormat = "2006-01-02 15:04:05Z"

// unitsOfServices asks each systemd manager once about the units the
// enabled services run under or whose state their probe judges, on the
// host that runs them: the user's manager for user units, the system
// manager for the units of services whose unit is scope: system (a
// systemd probe reads its unit from the manager of its service's unit).
// errs says, per unit not answered, why its state is unknown (another
// host, no systemctl, a manager that does not answer).
func unitsOfServices(ctx context.Context, services map[string]*v1.Service, src HealthSources) (map[string]*observed.UnitStatus, map[string]error) {
	var user, system []string
	for _, s := range services {
		names := &user
		if systemScoped(s) {
			names = &system
		}
		if u := s.UnitName(); u != "" {
			*names = append(*names, u)
		}
		if _, p := probeOf(s); p != nil && p.Type == v1.ProbeSystemd {
			*names = append(*names, s.ProbeUnit(p))
		}
	}
	infos := make(map[string]*observed.UnitStatus)
	errs := make(map[string]error)
	for _, m := range []struct {
		names  []string
		reader observed.UnitStatusReader
		prefix string
	}{{user, src.Units, ""}, {system, src.SystemUnits, systemPrefix}} {
		if len(m.names) == 0 {
			continue
		}
		slices.Sort(m.names)
		names := slices.Compact(m.names)
		got, err := unitStatus(ctx, names, m.reader, src)
		for _, n := range names {
			if err != nil {
				errs[m.prefix+n] = err
			} else if st := got[n]; st != nil {
				infos[m.prefix+n] = st
			}
		}
	}
	return infos, errs
}

// systemPrefix keys the system manager's units in unitsOfServices'
// answers: a user unit and a system unit may share a name.
const systemPrefix = "system/"

// systemScoped says whether a service's units are the system manager's
// (its spec.systemd says scope: system; a systemd probe's unit is read
// from the manager of its service's unit).
func systemScoped(s *v1.Service) bool {
	return s.Spec.Systemd != nil && s.Spec.Systemd.Scope == v1.SystemdScopeSystem
}

// managedUnit is the key of a service's unit in unitsOfServices' answers.
func managedUnit(s *v1.Service, unit string) string {
	if systemScoped(s) {
		return systemPrefix + unit
	}
	return unit
}

// unitStatus asks one manager about units.
func unitStatus(ctx context.Context, names []string, r observed.UnitStatusReader, src HealthSources) (map[string]*observed.UnitStatus, error) {
	switch {
	case src.LocalHost != v1.SystemdHostVM && src.UnitsNode == "":
		return nil, fmt.Errorf("a unit's state is read on host %s, this host is %s (no node is catalog host %s, or --local)",
			v1.SystemdHostVM, src.LocalHost, v1.SystemdHostVM)
	case r == nil:
		return nil, fmt.Errorf("systemd state unknown: %w", observed.ErrNoSystemd)
	}
	if err := r.Available(); err != nil {
		return nil, fmt.Errorf("systemd state unknown: %w", err)
	}
	infos, err := r.UnitStatus(ctx, names)
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
func judgeByUnit(s *v1.Service, p *v1.Probe, units map[string]*observed.UnitStatus, unitErrs map[string]error) (state, detail string, since *time.Time) {
	unit := s.ProbeUnit(p)
	if unitErr := unitErrs[managedUnit(s, unit)]; unitErr != nil {
		return HealthUnprobed, "systemd unit " + unit + ": " + unitErr.Error(), nil
	}
	st := units[managedUnit(s, unit)]
	if st == nil {
		return HealthUnprobed, "systemd unit " + unit + ": no answer from systemctl show", nil
	}
	state, detail = judgeUnit(st)
	if t := st.Since(); !t.IsZero() {
		since = &t
	}
	return state, detail, since
}
