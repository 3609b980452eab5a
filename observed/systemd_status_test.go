package observed

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUnitStatusOf reads `systemctl show --timestamp=unix` of two units,
// one systemd does not know (empty timestamps), as systemd 252 prints it
// (Id not first).
func TestUnitStatusOf(t *testing.T) {
	out := "Result=exit-code\nId=a.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nUnitFileState=enabled\nMainPID=0\n" +
		"StateChangeTimestamp=@1796184958\nActiveEnterTimestamp=@1796184900\nInactiveEnterTimestamp=@1796184958\n\n" +
		"Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\nUnitFileState=\nMainPID=0\n" +
		"StateChangeTimestamp=\nActiveEnterTimestamp=\nInactiveEnterTimestamp=n/a\n"
	blocks, err := ParseShowBlocks(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*UnitStatus{}
	for id, b := range blocks {
		st, err := UnitStatusOf(b)
		if err != nil {
			t.Fatal(err)
		}
		got[id] = st
	}
	at := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	want := map[string]*UnitStatus{
		"a.service": {Unit: "a.service", LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code",
			UnitFileState: "enabled", StateChange: at(1796184958), ActiveEnter: at(1796184900), InactiveEnter: at(1796184958)},
		"nope.service": {Unit: "nope.service", LoadState: "not-found", ActiveState: "inactive", SubState: "dead", Result: "success"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UnitStatusOf mismatch (-want +got):\n%s", diff)
	}
	if s := got["a.service"].Since(); !s.Equal(at(1796184958)) {
		t.Errorf("Since of a failed unit = %v, want its InactiveEnter", s)
	}
}

func TestParseUnixTimestamp(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"n/a", time.Time{}, false},
		{"@0", time.Time{}, false},
		{"@1796184958", time.Unix(1796184958, 0).UTC(), false},
		{"Wed 2026-12-02 04:00:00 UTC", time.Time{}, true},
		{"@-5", time.Time{}, true},
		{"@12x", time.Time{}, true},
	} {
		got, err := ParseUnixTimestamp(tt.in)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("ParseUnixTimestamp(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := ParseShowBlocks("LoadState=loaded\n\n"); err == nil {
		t.Error("a block without Id: no error")
	}
}
