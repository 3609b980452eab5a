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
