package cli

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	caches := []string{filepath.Join(base, "cache/go-build")}
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
		got, err := scheduledBinary(tt.binary, caches)
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

// goBuildCaches finds the build cache in the environment and, when go is
// on PATH, asks it: go env -w may have set it where no variable shows.
func TestGoBuildCaches(t *testing.T) {
	bin := t.TempDir()
	goScript := "#!/bin/sh\n[ \"$1 $2\" = \"env GOCACHE\" ] && echo /srv/gocache\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(goScript), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("XDG_CACHE_HOME", "/home/u/.cache")
	env := map[string]string{"GOCACHE": "/env/gocache"}
	got := goBuildCaches(context.Background(), func(k string) string { return env[k] })
	want := []string{"/env/gocache", "/home/u/.cache/go-build", "/srv/gocache"}
	if runtime.GOOS == "darwin" {
		dir, _ := os.UserCacheDir()
		want[1] = filepath.Join(dir, "go-build")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("goBuildCaches (-want +got):\n%s", diff)
	}
	// No go on PATH: the environment and the default only.
	t.Setenv("PATH", t.TempDir())
	if got := goBuildCaches(context.Background(), func(k string) string { return env[k] }); len(got) != 2 {
		t.Errorf("without go: %q, want 2 entries", got)
	}
}
