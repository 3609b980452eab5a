package observed

import (
	"context"
	"testing"
)

// unitsAnswer is a systemd that answers show from a map and takes every
// action.
type unitsAnswer struct {
	NoSystemd
	units map[string]*UnitInfo
}

func (u *unitsAnswer) Available() error { return nil }
func (u *unitsAnswer) Show(_ context.Context, names []string) (map[string]*UnitInfo, error) {
	out := map[string]*UnitInfo{}
	for _, n := range names {
		if i, ok := u.units[n]; ok {
			c := *i
			out[n] = &c
		} else {
			out[n] = &UnitInfo{Unit: n, LoadState: "not-found", ActiveState: "inactive"}
		}
	}
	return out, nil
}
func (u *unitsAnswer) DaemonReload(context.Context) error { return nil }
func (u *unitsAnswer) Start(_ context.Context, n string) error {
	u.units[n].ActiveState = "active"
	return nil
}
func (u *unitsAnswer) Enable(context.Context, ...string) error   { return nil }
func (u *unitsAnswer) Restart(_ context.Context, n string) error { return nil }

func TestRecordingSystemd(t *testing.T) {
	ctx := context.Background()
	sys := &unitsAnswer{units: map[string]*UnitInfo{
		"a.service": {LoadState: "loaded", ActiveState: "inactive", UnitFileState: "enabled"},
		"b.service": {LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled", MainPID: 7},
	}}
	log := NewReadLog()
	r := RecordingSystemd{Systemd: sys, Log: log}
	if err := r.Available(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Show(ctx, []string{"a.service", "b.service"}); err != nil {
		t.Fatal(err)
	}
	// What the pass does afterwards is not the host as it was.
	if err := r.Start(ctx, "a.service"); err != nil {
		t.Fatal(err)
	}
	r.Show(ctx, []string{"a.service"})
	_ = r.DaemonReload(ctx)
	r.Show(ctx, []string{"c.service"})
	reads := log.Reads()
	keys := map[string]bool{}
	for _, rd := range reads {
		keys[rd.Key] = true
	}
	for _, k := range []string{"systemd:available", "systemd:show:a.service", "systemd:show:b.service"} {
		if !keys[k] {
			t.Errorf("%s not recorded: %v", k, reads)
		}
	}
	if keys["systemd:show:c.service"] {
		t.Errorf("a show after daemon-reload was recorded: %v", reads)
	}

	// Reread: a started unit moved; one whose pid changed alone did not.
	sys.units["b.service"].MainPID = 8
	moved := RereadUnits(ctx, reads, sys, false)
	if len(moved) != 1 || moved[0].Key != "systemd:show:a.service" {
		t.Fatalf("moved = %+v, want only a.service", moved)
	}
	if d := Describe(moved[0].Key); d != "systemd unit a.service" {
		t.Errorf("Describe = %q", d)
	}
	// The unit back as the plan saw it: nothing moved.
	sys.units["a.service"].ActiveState = "inactive"
	if moved := RereadUnits(ctx, reads, sys, false); len(moved) != 0 {
		t.Errorf("moved = %+v after the unit was back as planned", moved)
	}
}
