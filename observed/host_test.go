//go:build unix

package observed

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newTestHost(t *testing.T) (*FileHost, string) {
	t.Helper()
	home := t.TempDir()
	h, err := NewFileHost(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, home
}

// setUmask sets the process umask for one test; tests that call it do not
// run in parallel.
func setUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func writeRaw(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func readRaw(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestFileHostWriteFile(t *testing.T) {
	tests := []struct {
		name     string
		umask    int
		existing *fs.FileMode // a file already there, with this mode
		path     string
		perm     fs.FileMode
	}{
		{name: "0644 under umask 077", umask: 0o077, path: "a.txt", perm: 0o644},
		{name: "0600 under umask 022", umask: 0o022, path: "a.txt", perm: 0o600},
		{name: "0644 under umask 0", umask: 0, path: "a.txt", perm: 0o644},
		{name: "0600 nested, parents created", umask: 0o022, path: ".sanctum/state/backups/r1/x.yaml", perm: 0o600},
		{name: "0644 nested under umask 077", umask: 0o077, path: ".sanctum/services/voice-agent.yaml", perm: 0o644},
		{name: "replaces a 0644 file with 0644", umask: 0o077, existing: modeOf(0o644), path: "d/a.txt", perm: 0o644},
		{name: "replaces a 0600 file with 0600", umask: 0o022, existing: modeOf(0o600), path: "d/a.txt", perm: 0o600},
		{name: "replaces a 0644 file with 0600", umask: 0o022, existing: modeOf(0o644), path: "d/a.txt", perm: 0o600},
		{name: "replaces a 0600 file with 0644", umask: 0o077, existing: modeOf(0o600), path: "d/a.txt", perm: 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, home := newTestHost(t)
			target := filepath.Join(home, filepath.FromSlash(tt.path))
			if tt.existing != nil {
				writeRaw(t, target, "old bytes\n", *tt.existing)
			}
			setUmask(t, tt.umask)
			if err := h.WriteFile(tt.path, []byte("new bytes\n"), tt.perm); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			info, err := os.Lstat(target)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.perm.String(), info.Mode().String()); diff != "" {
				t.Errorf("mode mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff("new bytes\n", readRaw(t, target)); diff != "" {
				t.Errorf("content mismatch (-want +got):\n%s", diff)
			}
			data, rinfo, err := h.ReadFile(tt.path)
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if diff := cmp.Diff("new bytes\n", string(data)); diff != "" {
				t.Errorf("ReadFile content mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.perm, rinfo.Mode().Perm()); diff != "" {
				t.Errorf("ReadFile mode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func modeOf(m fs.FileMode) *fs.FileMode { return &m }

func TestFileHostWriteFileLeavesNoTempFile(t *testing.T) {
	h, home := newTestHost(t)
	for i, content := range []string{"one\n", "two\n"} {
		if err := h.WriteFile("a/b/c.txt", []byte(content), 0o644); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if diff := cmp.Diff([]string{"a"}, listDir(t, home)); diff != "" {
			t.Errorf("write %d: home root mismatch (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff([]string{"b"}, listDir(t, filepath.Join(home, "a"))); diff != "" {
			t.Errorf("write %d: a/ mismatch (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff([]string{"c.txt"}, listDir(t, filepath.Join(home, "a", "b"))); diff != "" {
			t.Errorf("write %d: a/b/ mismatch (-want +got):\n%s", i, diff)
		}
	}
	if err := h.WriteFile("top.txt", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "top.txt"}, listDir(t, home)); diff != "" {
		t.Errorf("home root after a top-level write mismatch (-want +got):\n%s", diff)
	}
}

func TestFileHostReadFile(t *testing.T) {
	h, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "real.txt"), "inside\n", 0o640)
	if err := os.Symlink("real.txt", filepath.Join(home, "alias.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(home, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		want     string
		wantMode fs.FileMode
		wantErr  error // errors.Is; nil: success
		anyErr   bool
	}{
		{name: "regular file", path: "real.txt", want: "inside\n", wantMode: 0o640},
		{name: "cleaned path", path: "dir/../real.txt", want: "inside\n", wantMode: 0o640},
		{name: "symlink inside home is followed", path: "alias.txt", want: "inside\n", wantMode: 0o640},
		{name: "missing file", path: "missing.txt", wantErr: fs.ErrNotExist},
		{name: "missing parent", path: "nope/missing.txt", wantErr: fs.ErrNotExist},
		{name: "directory", path: "dir", anyErr: true},
		{name: "parent", path: "../x", wantErr: ErrOutsideHome},
		{name: "absolute", path: "/etc/passwd", wantErr: ErrOutsideHome},
		{name: "up through a subdirectory", path: "dir/../../x", wantErr: ErrOutsideHome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, info, err := h.ReadFile(tt.path)
			switch {
			case tt.anyErr:
				if err == nil || errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("ReadFile(%q) error = %v, want a non-NotExist error", tt.path, err)
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadFile(%q) error = %v, want errors.Is %v", tt.path, err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("ReadFile(%q): %v", tt.path, err)
			}
			if diff := cmp.Diff(tt.want, string(data)); diff != "" {
				t.Errorf("content mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMode, info.Mode().Perm()); diff != "" {
				t.Errorf("mode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileHostRefusesPathsOutsideHome(t *testing.T) {
	h, home := newTestHost(t)
	ops := []struct {
		name string
		do   func(name string) error
	}{
		{"ReadFile", func(n string) error { _, _, err := h.ReadFile(n); return err }},
		{"Lstat", func(n string) error { _, err := h.Lstat(n); return err }},
		{"ReadDir", func(n string) error { _, err := h.ReadDir(n); return err }},
		{"WriteFile", func(n string) error { return h.WriteFile(n, []byte("x"), 0o644) }},
		{"Chmod", func(n string) error { return h.Chmod(n, 0o600) }},
		{"Remove", func(n string) error { return h.Remove(n) }},
		{"MkdirAll", func(n string) error { return h.MkdirAll(n, 0o700) }},
	}
	for _, path := range []string{"../x", "..", "/etc/passwd", "a/../../x", "/"} {
		for _, op := range ops {
			t.Run(op.name+" "+path, func(t *testing.T) {
				if err := op.do(path); !errors.Is(err, ErrOutsideHome) {
					t.Errorf("%s(%q) error = %v, want errors.Is ErrOutsideHome", op.name, path, err)
				}
			})
		}
	}
	if _, err := os.Lstat(filepath.Join(home, "..", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("something was written beside HOME: %v", err)
	}
}

func TestFileHostSymlinks(t *testing.T) {
	tests := []struct {
		name string
		// setup makes the home's links; outside is another directory holding
		// target.txt ("outside\n").
		setup   func(t *testing.T, home, outside string)
		op      func(h *FileHost) error
		wantErr error
	}{
		{
			name: "read through an absolute link out of home",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, filepath.Join(outside, "target.txt"), filepath.Join(home, "link"))
			},
			op:      func(h *FileHost) error { _, _, err := h.ReadFile("link"); return err },
			wantErr: ErrOutsideHome,
		},
		{
			name: "read through a relative link out of home",
			setup: func(t *testing.T, home, outside string) {
				rel, err := filepath.Rel(home, filepath.Join(outside, "target.txt"))
				if err != nil {
					t.Fatal(err)
				}
				symlink(t, rel, filepath.Join(home, "link"))
			},
			op:      func(h *FileHost) error { _, _, err := h.ReadFile("link"); return err },
			wantErr: ErrOutsideHome,
		},
		{
			name: "read through a linked directory out of home",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, outside, filepath.Join(home, "dir"))
			},
			op:      func(h *FileHost) error { _, _, err := h.ReadFile("dir/target.txt"); return err },
			wantErr: ErrOutsideHome,
		},
		{
			name: "write over a link out of home",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, filepath.Join(outside, "target.txt"), filepath.Join(home, "link"))
			},
			op:      func(h *FileHost) error { return h.WriteFile("link", []byte("new\n"), 0o644) },
			wantErr: ErrSymlink,
		},
		{
			name: "write over a link inside home",
			setup: func(t *testing.T, home, outside string) {
				writeRaw(t, filepath.Join(home, "real.txt"), "inside\n", 0o644)
				symlink(t, "real.txt", filepath.Join(home, "link"))
			},
			op:      func(h *FileHost) error { return h.WriteFile("link", []byte("new\n"), 0o644) },
			wantErr: ErrSymlink,
		},
		{
			name: "write through a linked directory out of home",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, outside, filepath.Join(home, "dir"))
			},
			op:      func(h *FileHost) error { return h.WriteFile("dir/target.txt", []byte("new\n"), 0o644) },
			wantErr: ErrOutsideHome,
		},
		{
			name: "write a new file through a linked directory out of home",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, outside, filepath.Join(home, "dir"))
			},
			op:      func(h *FileHost) error { return h.WriteFile("dir/sub/new.txt", []byte("new\n"), 0o644) },
			wantErr: ErrOutsideHome,
		},
		{
			name: "chmod through a link out of home",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, filepath.Join(outside, "target.txt"), filepath.Join(home, "link"))
			},
			op:      func(h *FileHost) error { return h.Chmod("link", 0o600) },
			wantErr: ErrOutsideHome,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, home := newTestHost(t)
			outside := t.TempDir()
			writeRaw(t, filepath.Join(outside, "target.txt"), "outside\n", 0o644)
			tt.setup(t, home, outside)
			before := snapshot(t, home)
			err := tt.op(h)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(map[string]string{"target.txt": "outside\n 0644"}, snapshot(t, outside)); diff != "" {
				t.Errorf("outside directory changed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, snapshot(t, home)); diff != "" {
				t.Errorf("home changed (-want +got):\n%s", diff)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every entry under dir without following links: file
// content and mode, link target, or "dir".
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case info.IsDir():
			out[rel] = "dir " + fmtPerm(info.Mode().Perm())
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(data) + " " + fmtPerm(info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fmtPerm(m fs.FileMode) string {
	const digits = "01234567"
	return "0" + string(digits[m>>6&7]) + string(digits[m>>3&7]) + string(digits[m&7])
}

func TestFileHostReadDir(t *testing.T) {
	h, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "d", "b.yaml"), "b", 0o644)
	writeRaw(t, filepath.Join(home, "d", "a.yaml"), "a", 0o644)
	if err := os.Mkdir(filepath.Join(home, "d", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want []string
	}{
		{name: "sorted entries", dir: "d", want: []string{"a.yaml", "b.yaml", "sub/"}},
		{name: "missing lists as empty", dir: "missing", want: nil},
		{name: "empty", dir: "d/sub", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := h.ReadDir(tt.dir)
			if err != nil {
				t.Fatalf("ReadDir: %v", err)
			}
			var got []string
			for _, e := range entries {
				n := e.Name()
				if e.IsDir() {
					n += "/"
				}
				got = append(got, n)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadDir mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileHostMkdirAllChmodRemove(t *testing.T) {
	h, home := newTestHost(t)
	setUmask(t, 0o077)
	if err := h.MkdirAll(".sanctum/state", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := h.MkdirAll(".sanctum/state", 0o700); err != nil {
		t.Fatal(err)
	}
	info, err := h.Lstat(".sanctum/state")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff((fs.ModeDir | 0o700).String(), info.Mode().String()); diff != "" {
		t.Errorf("MkdirAll mode mismatch (-want +got):\n%s", diff)
	}
	if err := h.WriteFile("f.txt", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Chmod("f.txt", 0o600); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{".sanctum": "dir 0700", ".sanctum/state": "dir 0700", "f.txt": "x 0600"}, snapshot(t, home)); diff != "" {
		t.Errorf("home mismatch (-want +got):\n%s", diff)
	}
	if err := h.Remove("f.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Lstat("f.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat after Remove: %v, want fs.ErrNotExist", err)
	}
	if err := h.Remove("f.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestDryRunHost(t *testing.T) {
	real, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "keep.txt"), "kept\n", 0o644)
	before := snapshot(t, home)
	d := NewDryRunHost(real)

	steps := []struct {
		name string
		do   func() error
	}{
		{"write", func() error { return d.WriteFile("new/a.txt", []byte("x"), 0o600) }},
		{"write over existing", func() error { return d.WriteFile("keep.txt", []byte("changed"), 0o644) }},
		{"chmod", func() error { return d.Chmod("keep.txt", 0o600) }},
		{"remove", func() error { return d.Remove("keep.txt") }},
		{"mkdir", func() error { return d.MkdirAll(".sanctum/state", 0o700) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	if err := d.WriteFile("../x", []byte("x"), 0o644); !errors.Is(err, ErrOutsideHome) {
		t.Errorf("WriteFile(../x) error = %v, want errors.Is ErrOutsideHome", err)
	}
	want := []Op{
		{Verb: "write", Path: "new/a.txt", Mode: 0o600},
		{Verb: "write", Path: "keep.txt", Mode: 0o644},
		{Verb: "chmod", Path: "keep.txt", Mode: 0o600},
		{Verb: "remove", Path: "keep.txt"},
		{Verb: "mkdir", Path: ".sanctum/state", Mode: 0o700},
	}
	if diff := cmp.Diff(want, d.Ops()); diff != "" {
		t.Errorf("Ops mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot(t, home)); diff != "" {
		t.Errorf("dry run changed the home (-want +got):\n%s", diff)
	}
	// Reads see the plan: keep.txt is planned away, new/a.txt is there.
	if _, _, err := d.ReadFile("keep.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(keep.txt) after a planned remove: %v, want ErrNotExist", err)
	}
	if data, _, err := d.ReadFile("new/a.txt"); err != nil || string(data) != "x" {
		t.Errorf("ReadFile(new/a.txt) = %q, %v; want the planned bytes", data, err)
	}
}

func TestDryRunHostRefusesPathsOutsideHome(t *testing.T) {
	real, _ := newTestHost(t)
	d := NewDryRunHost(real)
	tests := []struct {
		name string
		do   func() error
	}{
		{name: "WriteFile", do: func() error { return d.WriteFile("../x", nil, 0o644) }},
		{name: "Chmod", do: func() error { return d.Chmod("../x", 0o600) }},
		{name: "Remove", do: func() error { return d.Remove("/etc/passwd") }},
		{name: "MkdirAll", do: func() error { return d.MkdirAll("../x", 0o700) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(d.Ops())
			if err := tt.do(); !errors.Is(err, ErrOutsideHome) {
				t.Errorf("error = %v, want errors.Is ErrOutsideHome", err)
			}
			if got := len(d.Ops()) - before; got != 0 {
				t.Errorf("recorded %d ops for a refused path", got)
			}
		})
	}
}

func TestReadOnlyHost(t *testing.T) {
	real, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "keep.txt"), "kept\n", 0o644)
	before := snapshot(t, home)
	r := ReadOnlyHost{Host: real}
	tests := []struct {
		name string
		do   func() error
	}{
		{"WriteFile", func() error { return r.WriteFile("keep.txt", []byte("x"), 0o644) }},
		{"WriteFile new", func() error { return r.WriteFile("new/a.txt", []byte("x"), 0o644) }},
		{"Chmod", func() error { return r.Chmod("keep.txt", 0o600) }},
		{"Remove", func() error { return r.Remove("keep.txt") }},
		{"MkdirAll", func() error { return r.MkdirAll(".sanctum/state", 0o700) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, ErrReadOnly) {
				t.Errorf("error = %v, want errors.Is ErrReadOnly", err)
			}
		})
	}
	if diff := cmp.Diff(before, snapshot(t, home)); diff != "" {
		t.Errorf("read-only host changed the home (-want +got):\n%s", diff)
	}
	data, _, err := r.ReadFile("keep.txt")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("kept\n", string(data)); diff != "" {
		t.Errorf("ReadFile through the guard mismatch (-want +got):\n%s", diff)
	}
	// A dry run over the guard (--check) records instead of failing.
	d := NewDryRunHost(r)
	if err := d.WriteFile("keep.txt", []byte("x"), 0o644); err != nil {
		t.Errorf("dry run over the guard: %v", err)
	}
}

// A batch writes every file it can, each as WriteFile would, leaves no
// temporary file behind, and gives each failure to its own entry.
func TestFileHostWriteFiles(t *testing.T) {
	h, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "d", "old.txt"), "old bytes\n", 0o644)
	writeRaw(t, filepath.Join(home, "real.txt"), "real\n", 0o644)
	if err := os.Symlink("real.txt", filepath.Join(home, "link.txt")); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, filepath.Join(home, "afile"), "a file, not a directory\n", 0o644)
	setUmask(t, 0o022)
	writes := []FileWrite{
		{Name: "d/old.txt", Data: []byte("new bytes\n"), Perm: 0o600},
		{Name: "d/new.txt", Data: []byte("fresh\n"), Perm: 0o644},
		{Name: "deep/er/x.yaml", Data: []byte("x: 1\n"), Perm: 0o644},
		{Name: "link.txt", Data: []byte("never\n"), Perm: 0o644},
		{Name: "../escape.txt", Data: []byte("never\n"), Perm: 0o644},
		{Name: "afile/under.txt", Data: []byte("never\n"), Perm: 0o644},
		{Name: "d/empty.txt", Data: nil, Perm: 0o644},
	}
	errs := h.WriteFiles(writes)
	if len(errs) != len(writes) {
		t.Fatalf("%d errors for %d writes", len(errs), len(writes))
	}
	for i, wantErr := range []error{nil, nil, nil, ErrSymlink, ErrOutsideHome, fs.ErrExist, nil} {
		switch {
		case wantErr == nil && errs[i] != nil:
			t.Errorf("%s: %v", writes[i].Name, errs[i])
		case wantErr != nil && !errors.Is(errs[i], wantErr):
			t.Errorf("%s: error %v, want %v", writes[i].Name, errs[i], wantErr)
		}
	}
	for _, w := range []FileWrite{writes[0], writes[1], writes[2], writes[6]} {
		target := filepath.Join(home, filepath.FromSlash(w.Name))
		if diff := cmp.Diff(string(w.Data), readRaw(t, target)); diff != "" {
			t.Errorf("%s content (-want +got):\n%s", w.Name, diff)
		}
		info, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != w.Perm {
			t.Errorf("%s mode %v, want %v", w.Name, info.Mode().Perm(), w.Perm)
		}
	}
	if diff := cmp.Diff("real\n", readRaw(t, filepath.Join(home, "real.txt"))); diff != "" {
		t.Errorf("symlink target changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"empty.txt", "new.txt", "old.txt"}, listDir(t, filepath.Join(home, "d"))); diff != "" {
		t.Errorf("d/ holds more than the files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"afile", "d", "deep", "link.txt", "real.txt"}, listDir(t, home)); diff != "" {
		t.Errorf("home holds more than the files (-want +got):\n%s", diff)
	}
	if errs := h.WriteFiles(nil); len(errs) != 0 {
		t.Errorf("an empty batch gave %v", errs)
	}
}

// Decorated hosts: a dry run records a batch as writes, a read-only host
// refuses every file of it.
func TestDecoratedWriteFiles(t *testing.T) {
	h, home := newTestHost(t)
	writes := []FileWrite{{Name: "a.txt", Data: []byte("a"), Perm: 0o644}, {Name: "b/c.txt", Data: []byte("c"), Perm: 0o600}}
	d := NewDryRunHost(h)
	for _, err := range d.WriteFiles(writes) {
		if err != nil {
			t.Errorf("dry run: %v", err)
		}
	}
	if diff := cmp.Diff([]Op{{Verb: "write", Path: "a.txt", Mode: 0o644}, {Verb: "write", Path: "b/c.txt", Mode: 0o600}}, d.Ops()); diff != "" {
		t.Errorf("dry-run ops (-want +got):\n%s", diff)
	}
	for _, err := range (ReadOnlyHost{Host: h}).WriteFiles(writes) {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("read-only: %v, want ErrReadOnly", err)
		}
	}
	if got := listDir(t, home); len(got) != 0 {
		t.Errorf("home got %v", got)
	}
}

// A New file is created in place with its exact mode, and never replaces
// one that is there.
func TestFileHostWriteFilesNew(t *testing.T) {
	h, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "b", "taken.txt"), "keep me\n", 0o644)
	setUmask(t, 0o077)
	errs := h.WriteFiles([]FileWrite{
		{Name: "b/r1/x.yaml", Data: []byte("old\n"), Perm: 0o600, New: true},
		{Name: "b/taken.txt", Data: []byte("never\n"), Perm: 0o600, New: true},
		{Name: "b/open.txt", Data: []byte("open\n"), Perm: 0o644, New: true},
	})
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("errors %v", errs)
	}
	if !errors.Is(errs[1], fs.ErrExist) {
		t.Errorf("an existing file: %v, want ErrExist", errs[1])
	}
	if got := readRaw(t, filepath.Join(home, "b", "taken.txt")); got != "keep me\n" {
		t.Errorf("an existing file was replaced: %q", got)
	}
	for name, want := range map[string]fs.FileMode{"b/r1/x.yaml": 0o600, "b/open.txt": 0o644} {
		info, err := os.Stat(filepath.Join(home, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, info.Mode().Perm(), want)
		}
	}
	if diff := cmp.Diff([]string{"open.txt", "r1", "taken.txt"}, listDir(t, filepath.Join(home, "b"))); diff != "" {
		t.Errorf("b/ (-want +got):\n%s", diff)
	}
}

// WriteFiles gives each write the stat of the bytes it wrote, from the
// file's own handle before the rename (issue 13 item 6): the same file the
// path names afterwards, with its size and modification time; a process
// that replaces the file after the rename leaves another file there, and
// one that rewrites it in place another size or time.
func TestWriteFilesWritten(t *testing.T) {
	h, home := newTestHost(t)
	if err := h.WriteFile("d/old.txt", []byte("before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writes := []FileWrite{
		{Name: "d/old.txt", Data: []byte("after, longer\n"), Perm: 0o600},
		{Name: "d/new.txt", Data: []byte("new\n"), Perm: 0o644},
		{Name: "k/backup.txt", Data: []byte("kept\n"), Perm: 0o600, New: true},
	}
	for i, err := range h.WriteFiles(writes) {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	for _, w := range writes {
		if w.Written == nil {
			t.Fatalf("%s: no Written stat", w.Name)
		}
		after, err := os.Stat(filepath.Join(home, w.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(w.Written, after) || w.Written.Size() != int64(len(w.Data)) || !w.Written.ModTime().Equal(after.ModTime()) ||
			w.Written.Mode().Perm() != w.Perm {
			t.Errorf("%s: Written %v %d %v %v, the file %v %d %v", w.Name, w.Written.Mode(), w.Written.Size(), w.Written.ModTime(),
				os.SameFile(w.Written, after), after.Mode(), after.Size(), after.ModTime())
		}
	}
	// Another process renames its own file over one reconcile wrote: the
	// path names another file now.
	racer := filepath.Join(home, "d", "racer")
	if err := os.WriteFile(racer, []byte("after, longer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(racer, filepath.Join(home, "d", "old.txt")); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(filepath.Join(home, "d", "old.txt")); os.SameFile(writes[0].Written, after) {
		t.Errorf("a file renamed over d/old.txt is still the file reconcile wrote")
	}
	// A failed write has no stat.
	ws := []FileWrite{{Name: "../out.txt", Data: []byte("x"), Perm: 0o644, Written: writes[1].Written}}
	if errs := h.WriteFiles(ws); errs[0] == nil || ws[0].Written != nil {
		t.Errorf("a refused write: error %v, Written %v", errs[0], ws[0].Written)
	}
}

// Temporary files have one recognisable name, never a user's.
func TestIsTemp(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{tempName("alpha.yaml"), true},
		{tempName(".hidden"), true},
		{".alpha.yaml.reconcile-tmp-0123456789ab", true},
		{".alpha.yaml7385012345", false}, // renameio's names: a user's file could look so
		{"alpha.yaml.reconcile-tmp-0123456789ab", false},
		{".alpha.yaml.reconcile-tmp-0123456789", false},
		{".alpha.yaml.reconcile-tmp-0123456789abXY", false},
		{".SOUL.md.reconcile-tmp", false},
		{"alpha.yaml", false},
	} {
		if got := IsTemp(tt.name); got != tt.want {
			t.Errorf("IsTemp(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
