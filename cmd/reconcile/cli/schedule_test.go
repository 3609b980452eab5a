package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScheduledBinary: the scheduled pass never runs a binary that is gone
// once its command ends.
func TestScheduledBinary(t *testing.T) {
	base := t.TempDir()
	put := func(rel string) string {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stays := put("opt/bin/reconcile")
	goRun := put("go-build3141/b001/exe/reconcile")
	cached := put("cache/go-build/ab/reconcile")
	inTemp := put("tmp/reconcile")
	notExec := filepath.Join(base, "opt/bin/README")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "opt/bin/reconcile-link")
	if err := os.Symlink(goRun, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", filepath.Join(base, "tmp"))
	env := map[string]string{"GOCACHE": filepath.Join(base, "cache/go-build")}
	getenv := func(k string) string { return env[k] }
	for _, tt := range []struct {
		binary, wantErr string
	}{
		{stays, ""},
		{goRun, "is a temporary build of go run or go test"},
		{link, "is a temporary build of go run or go test"}, // through the link
		{cached, "is in the Go build cache"},
		{inTemp, "is in the temp directory"},
		{notExec, "is not an executable file"},
		{filepath.Join(base, "nowhere"), "no such file"},
	} {
		got, err := scheduledBinary(tt.binary, getenv)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.binary, err)
		case tt.wantErr == "" && got != stays:
			t.Errorf("%s: = %s, want it", tt.binary, got)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.binary, err, tt.wantErr)
		}
	}
}
