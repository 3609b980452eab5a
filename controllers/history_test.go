package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// history lists, among the recorded passes and in time order, the runs
// that kept backups and never recorded their end (issue 13 item 7): from
// their journal, or saying why their index cannot be read.
func TestReadHistoryListsUnfinishedRuns(t *testing.T) {
	real, _ := newTestFileHost(t)
	const (
		recorded = "20261201T070000.000000Z-aaaa"
		killed   = "20261201T080000.000000Z-bbbb"
		tampered = "20261201T090000.000000Z-cccc"
	)
	at := func(id string) time.Time {
		tm, err := time.Parse(RunIDTimeFormat, id[:len(RunIDTimeFormat)])
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, e := range []HistoryEntry{
		{RunID: recorded, Time: at(recorded), Mode: "apply", Result: "converged"},
		{RunID: "20261201T100000.000000Z-dddd", Time: at("20261201T100000.000000Z-dddd"), Mode: "apply", Result: "converged"},
	} {
		if err := AppendHistory(real, e); err != nil {
			t.Fatal(err)
		}
	}
	// The recorded run's backups, and a killed run's journal of two.
	for _, id := range []string{recorded, killed} {
		b := NewBackups(id, at(id))
		b.Keep("Service", "x", ".sanctum/services/x.yaml", []byte("old\n"), 0o644, "overwritten", false)
		b.Keep("Service", "y", ".sanctum/services/y.yaml", []byte("old\n"), 0o644, "overwritten", false)
		if err := b.Journal(real); err != nil {
			t.Fatal(err)
		}
	}
	// A run whose journal was edited to restore into the state.
	if err := real.AppendFile(BackupsDir+"/"+tampered+"/"+journalName, []byte(`{"kind":"Service","name":"x","path":".sanctum/state/reconcile.json","backup":".sanctum/state/backups/`+tampered+`/.sanctum/state/reconcile.json","mode":"0644","sha256":"`+digest(nil)+`","reason":"overwritten"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, damaged, err := ReadHistory(real)
	if err != nil || damaged != 0 {
		t.Fatalf("ReadHistory: %v, %d damaged", err, damaged)
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, e.RunID+" "+e.Mode+" "+e.Result+" "+strings.SplitN(e.Reason, ":", 2)[0])
	}
	want := []string{
		recorded + " apply converged ",
		killed + " unknown unfinished started and never recorded its end (killed, or still running); 2 backup(s) kept",
		tampered + " unknown unfinished started and never recorded its end (killed, or still running); its backups cannot be restored",
		"20261201T100000.000000Z-dddd apply converged ",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got[1].Changes != 2 || !strings.Contains(got[1].Reason, "reconcile rollback "+killed+" restores them") {
		t.Errorf("killed run: %+v", got[1])
	}
	if !strings.Contains(got[2].Reason, "backup index refused") {
		t.Errorf("tampered run: %+v", got[2])
	}
}

// RotateHistory drops what is older than the kept days once the oldest is
// a day past them, never the newest entry, and rewrites the file whole
// (issue 16 item 5).
func TestRotateHistory(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	line := func(id string, daysAgo float64) string {
		at := now.Add(-time.Duration(daysAgo * 24 * float64(time.Hour)))
		return `{"runId":"` + id + `","time":"` + at.Format(time.RFC3339Nano) + `","mode":"apply","result":"converged","changes":0,"summary":{}}` + "\n"
	}
	const damaged = `{"runId":"cut` + "\n"
	for _, tc := range []struct {
		name     string
		keepDays int
		history  string
		want     string // "" : unchanged
		dropped  int
	}{
		{name: "nothing old", keepDays: 30,
			history: line("a", 20) + line("b", 1)},
		{name: "old, within the day of slack", keepDays: 30,
			history: line("a", 30.5) + line("b", 1)},
		{name: "old entries and the damaged line among them go", keepDays: 30,
			history: line("a", 60) + damaged + line("b", 31.5) + line("c", 29) + damaged + line("d", 0),
			want:    line("c", 29) + damaged + line("d", 0), dropped: 2},
		{name: "the kept days are the setting's", keepDays: 7,
			history: line("a", 9) + line("b", 7.5) + line("c", 6),
			want:    line("c", 6), dropped: 2},
		{name: "the newest is kept however old", keepDays: 30,
			history: line("a", 90) + line("b", 60),
			want:    line("b", 60), dropped: 1},
		{name: "the newest by time, not by place", keepDays: 30,
			history: line("a", 40) + line("b", 90),
			want:    line("a", 40), dropped: 1},
		{name: "a single old entry stays", keepDays: 30,
			history: line("a", 90)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestFileHost(t)
			if err := h.MkdirAll(StateDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := h.WriteFile(HistoryFile, []byte(tc.history), 0o600); err != nil {
				t.Fatal(err)
			}
			dropped, err := RotateHistory(h, now, tc.keepDays)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = tc.history
			}
			got, info, err := h.ReadFile(HistoryFile)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", dropped, tc.dropped)
			}
			if perm := info.Mode().Perm(); perm != 0o600 {
				t.Errorf("mode %v, want 0600", perm)
			}
		})
	}
	t.Run("no history", func(t *testing.T) {
		h, _ := newTestFileHost(t)
		if n, err := RotateHistory(h, now, 30); n != 0 || err != nil {
			t.Fatalf("RotateHistory = %d, %v; want 0, nil", n, err)
		}
	})
}

// BenchmarkRotateHistoryNothingToDrop is the every-pass cost: 30 days of
// a scheduled pass every five minutes, none old enough to go.
func BenchmarkRotateHistoryNothingToDrop(b *testing.B) {
	h, _ := newTestFileHost(b)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var buf strings.Builder
	for i := 30 * 288; i > 0; i-- {
		at := now.Add(-time.Duration(i) * 5 * time.Minute)
		buf.WriteString(`{"runId":"x","time":"` + at.Format(time.RFC3339Nano) + `","mode":"scheduled","result":"converged","catalogDigest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","changes":0,"summary":{"created":0,"configured":0,"unchanged":160,"skipped":60}}` + "\n")
	}
	if err := h.MkdirAll(StateDir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := h.WriteFile(HistoryFile, []byte(buf.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if n, err := RotateHistory(h, now, 30); n != 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}
