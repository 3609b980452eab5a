package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sanctum-haus/reconcile/observed"
)

// stubUnits answers UnitStatus from a table and counts the calls.
type stubUnits struct {
	units map[string]*observed.UnitStatus
	err   error
	calls [][]string
}

func (s *stubUnits) Available() error { return nil }

func (s *stubUnits) UnitStatus(_ context.Context, units []string) (map[string]*observed.UnitStatus, error) {
	s.calls = append(s.calls, units)
	if s.err != nil {
		return nil, s.err
	}
	out := map[string]*observed.UnitStatus{}
	for _, u := range units {
		if st, ok := s.units[u]; ok {
			out[u] = st
		} else {
			out[u] = &observed.UnitStatus{Unit: u, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
		}
	}
	return out, nil
}

// TestCheckHealthSystemd: a systemd probe is healthy for an active unit
// (running, or exited: a oneshot), down for a failed (with Result),
// stopped or unknown one; one call answers for every unit; on a host that
// is not vm, or without systemd, the probe is unprobed with the reason.
func TestCheckHealthSystemd(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	t1 := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	cat := loadHealthCatalog(t,
		healthService("run", "vm", nil, "systemd: {execStart: [/bin/sleep, '9']}", "health: {liveness: {type: systemd}}"),
		healthService("oneshot", "vm", nil, "health: {readiness: {type: systemd, unit: batch.service}}"),
		healthService("crash", "vm", nil, "systemd: {execStart: [/bin/false]}", "health: {liveness: {type: systemd}}"),
		healthService("stopped", "vm", nil, "systemd: {execStart: [/bin/sleep, '9']}", "health: {liveness: {type: systemd}}"),
		healthService("gone", "vm", nil, "health: {liveness: {type: systemd, unit: gone.service}}"),
		healthService("noprobe", "vm", nil, "systemd: {execStart: [/bin/sleep, '9']}"),
		healthService("porty", "mac", nil, portProbe(1001)),
	)
	units := &stubUnits{units: map[string]*observed.UnitStatus{
		"sanctum-run.service":     {Unit: "sanctum-run.service", LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success", ActiveEnter: t0, StateChange: t0},
		"batch.service":           {Unit: "batch.service", LoadState: "loaded", ActiveState: "active", SubState: "exited", Result: "success", ActiveEnter: t0},
		"sanctum-crash.service":   {Unit: "sanctum-crash.service", LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code", InactiveEnter: t1},
		"sanctum-stopped.service": {Unit: "sanctum-stopped.service", LoadState: "loaded", ActiveState: "inactive", SubState: "dead", Result: "success", InactiveEnter: t1, ActiveEnter: t0},
		"sanctum-noprobe.service": {Unit: "sanctum-noprobe.service", LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success"},
	}}
	src := HealthSources{Prober: &stubProber{up: map[int]bool{1001: true}}, Units: units, LocalHost: "vm"}
	rep := CheckHealthWith(context.Background(), cat, src, testNow)
	type row struct {
		State, Detail string
		Since         *time.Time
	}
	got := map[string]row{}
	for _, h := range rep.Services {
		got[h.Name] = row{h.State, h.Detail, h.Since}
	}
	want := map[string]row{
		"run":     {HealthHealthy, "unit sanctum-run.service active (running) since 2026-12-01 10:00:00Z", &t0},
		"oneshot": {HealthHealthy, "unit batch.service active (exited) since 2026-12-01 10:00:00Z", &t0},
		"crash":   {HealthDown, "unit sanctum-crash.service failed (failed), Result=exit-code since 2026-12-01 11:00:00Z", &t1},
		"stopped": {HealthDown, "unit sanctum-stopped.service inactive (dead) since 2026-12-01 11:00:00Z", &t1},
		"gone":    {HealthDown, "unit gone.service not loaded (LoadState=not-found)", nil},
		"noprobe": {HealthUnprobed, "unit sanctum-noprobe.service active (running)", nil},
		"porty":   {HealthHealthy, "port 1001 open", nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services mismatch (-want +got):\n%s", diff)
	}
	wantCalls := [][]string{{"batch.service", "gone.service", "sanctum-crash.service", "sanctum-noprobe.service", "sanctum-run.service", "sanctum-stopped.service"}}
	if diff := cmp.Diff(wantCalls, units.calls); diff != "" {
		t.Errorf("systemctl show calls mismatch (-want +got):\n%s", diff)
	}

	// On the Mac with the node that is vm: the same verdicts, from the
	// node's units, in one call.
	units.calls = nil
	onNode := CheckHealthWith(context.Background(), cat, HealthSources{Prober: src.Prober, Units: units, LocalHost: "mac", UnitsNode: "vm"}, testNow)
	for _, h := range onNode.Services {
		if w, ok := want[h.Name]; ok && h.Name != "porty" {
			if diff := cmp.Diff(w, row{h.State, h.Detail, h.Since}); diff != "" {
				t.Errorf("%s from the node mismatch (-want +got):\n%s", h.Name, diff)
			}
		}
	}
	if diff := cmp.Diff(wantCalls, units.calls); diff != "" {
		t.Errorf("node show calls mismatch (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name       string
		src        HealthSources
		wantDetail string
	}{
		{"on the mac", HealthSources{Prober: &stubProber{}, Units: units, LocalHost: "mac"},
			"systemd unit sanctum-run.service: a unit's state is read on host vm, this host is mac (no node is catalog host vm, or --local)"},
		{"no systemctl", HealthSources{Prober: &stubProber{}, LocalHost: "vm"},
			"systemd unit sanctum-run.service: systemd state unknown: systemctl not found on this host"},
		{"no answer", HealthSources{Prober: &stubProber{}, Units: &stubUnits{err: errors.New("exit 1: Failed to connect to bus")}, LocalHost: "vm"},
			"systemd unit sanctum-run.service: systemd state unknown: exit 1: Failed to connect to bus"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			units.calls = nil
			rep := CheckHealthWith(context.Background(), cat, tt.src, testNow)
			for _, h := range rep.Services {
				if h.Name != "run" {
					continue
				}
				if diff := cmp.Diff(row{HealthUnprobed, tt.wantDetail, nil}, row{h.State, h.Detail, h.Since}); diff != "" {
					t.Errorf("run mismatch (-want +got):\n%s", diff)
				}
			}
			if tt.src.LocalHost == "mac" && len(units.calls) != 0 {
				t.Errorf("systemctl asked on the mac: %v", units.calls)
			}
		})
	}
}

// TestHealthRecordDurations: FOR from the record when the state is the
// recorded one; unknown when it changed, unless recording (since now); a
// unit's own time wins; the next record holds every known since.
func TestHealthRecordDurations(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	long := now.Add(-(50*time.Hour + 30*time.Minute))
	unitSince := now.Add(-45 * time.Second)
	prev := &HealthRecord{SchemaVersion: 1, Services: map[string]HealthRecordEntry{
		"same":    {State: HealthHealthy, Since: long},
		"changed": {State: HealthHealthy, Since: long},
		"future":  {State: HealthHealthy, Since: now.Add(time.Hour)},
		"gone":    {State: HealthDown, Since: long},
	}}
	mk := func() *HealthReport {
		return &HealthReport{Services: []ServiceHealth{
			{Name: "same", State: HealthHealthy},
			{Name: "changed", State: HealthDown},
			{Name: "future", State: HealthHealthy},
			{Name: "new", State: HealthUnprobed},
			{Name: "unit", State: HealthHealthy, Since: &unitSince},
		}}
	}
	secs := func(d time.Duration) *int64 { n := int64(d / time.Second); return &n }
	tests := []struct {
		record  bool
		wantFor map[string]*int64
	}{
		{false, map[string]*int64{"same": secs(50*time.Hour + 30*time.Minute), "changed": nil, "future": nil, "new": nil, "unit": secs(45 * time.Second)}},
		{true, map[string]*int64{"same": secs(50*time.Hour + 30*time.Minute), "changed": secs(0), "future": secs(0), "new": secs(0), "unit": secs(45 * time.Second)}},
	}
	for _, tt := range tests {
		rep := mk()
		next := prev.Durations(rep, now, tt.record)
		got := map[string]*int64{}
		for _, s := range rep.Services {
			got[s.Name] = s.For
		}
		if diff := cmp.Diff(tt.wantFor, got); diff != "" {
			t.Errorf("record=%v: FOR mismatch (-want +got):\n%s", tt.record, diff)
		}
		if _, ok := next.Services["gone"]; ok {
			t.Errorf("record=%v: a service gone from the report stays recorded", tt.record)
		}
		if tt.record {
			want := map[string]HealthRecordEntry{
				"same": {HealthHealthy, long}, "changed": {HealthDown, now}, "future": {HealthHealthy, now},
				"new": {HealthUnprobed, now}, "unit": {HealthHealthy, unitSince},
			}
			if diff := cmp.Diff(want, next.Services); diff != "" {
				t.Errorf("next record mismatch (-want +got):\n%s", diff)
			}
		}
	}
}

// TestCheckHealthTwoManagers: a service whose unit is scope: system is
// judged from the system manager, a user one from the user's, also when
// their probes name a unit of the same name in each.
func TestCheckHealthTwoManagers(t *testing.T) {
	cat := loadHealthCatalog(t,
		healthService("mine", "vm", nil, "systemd: {execStart: [/bin/sleep, '9']}", "health: {liveness: {type: systemd, unit: shared.service}}"),
		healthService("root", "vm", nil, "systemd: {scope: system, execStart: [/bin/sleep, '9']}", "health: {liveness: {type: systemd, unit: shared.service}}"),
	)
	user := &stubUnits{units: map[string]*observed.UnitStatus{
		"shared.service":       {Unit: "shared.service", LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success"},
		"sanctum-mine.service": {Unit: "sanctum-mine.service", LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success"},
	}}
	system := &stubUnits{units: map[string]*observed.UnitStatus{
		"shared.service":       {Unit: "shared.service", LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code"},
		"sanctum-root.service": {Unit: "sanctum-root.service", LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success"},
	}}
	rep := CheckHealthWith(context.Background(), cat, HealthSources{Units: user, SystemUnits: system, LocalHost: "vm"}, testNow)
	got := map[string]string{}
	for _, h := range rep.Services {
		got[h.Name] = h.State + ": " + h.Detail
	}
	want := map[string]string{
		"mine": HealthHealthy + ": unit shared.service active (running)",
		"root": HealthDown + ": unit shared.service failed (failed), Result=exit-code",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
