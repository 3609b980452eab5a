//go:build unix

package observed

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// homeTree lists every path under a home with its kind, mode and content
// (or link target), so that a test can say "nothing changed here".
func homeTree(t *testing.T, home string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(home, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case info.IsDir():
			out = append(out, rel+"/ "+info.Mode().Perm().String())
		default:
			data, _ := os.ReadFile(p)
			out = append(out, rel+" "+info.Mode().Perm().String()+" "+string(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// fixture is the same small home, made twice: once for the real host and
// once under the overlay.
func fixture(t *testing.T, outsideDir string) string {
	t.Helper()
	home := t.TempDir()
	writeRaw(t, filepath.Join(home, "a/file"), "old", 0o644)
	writeRaw(t, filepath.Join(home, "a/real"), "target bytes", 0o644)
	if err := os.Symlink("real", filepath.Join(home, "a/rel-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outsideDir, filepath.Join(home, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(home, "a"), filepath.Join(home, "abs-a")); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestDryRunRefusesWhatApplyRefuses: every write is tried on the real host
// and on the overlay over an identical home; both must succeed or fail
// with the same message, and the overlay's home must be untouched.
func TestDryRunRefusesWhatApplyRefuses(t *testing.T) {
	outside := t.TempDir()
	cases := []struct {
		name string
		do   func(h Host) error
	}{
		{"write over a relative symlink inside HOME", func(h Host) error { return h.WriteFile("a/rel-link", []byte("x"), 0o644) }},
		{"write through a directory symlinked out of HOME", func(h Host) error { return h.WriteFile("out/x", []byte("x"), 0o644) }},
		{"write below a directory symlinked out of HOME", func(h Host) error { return h.WriteFile("out/deeper/x", []byte("x"), 0o644) }},
		{"write outside HOME by name", func(h Host) error { return h.WriteFile("../x", []byte("x"), 0o644) }},
		{"write a new file", func(h Host) error { return h.WriteFile("b/c/new", []byte("x"), 0o600) }},
		{"write through a symlink to a directory inside HOME", func(h Host) error { return h.WriteFile("abs-a/via", []byte("x"), 0o644) }},
		{"symlink over a regular file", func(h Host) error { return h.Symlink("elsewhere", "a/file") }},
		{"symlink repointed", func(h Host) error { return h.Symlink("file", "a/rel-link") }},
		{"symlink into a directory out of HOME", func(h Host) error { return h.Symlink("t", "out/l") }},
		{"new file over an existing one", func(h Host) error {
			return h.WriteFiles([]FileWrite{{Name: "a/file", Data: []byte("x"), Perm: 0o600, New: true}})[0]
		}},
		{"mkdir below a file", func(h Host) error { return h.MkdirAll("a/file/sub", 0o700) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			realHome := fixture(t, outside)
			real, err := NewFileHost(realHome)
			if err != nil {
				t.Fatal(err)
			}
			defer real.Close()
			planHome := fixture(t, outside)
			base, err := OpenFileHost(planHome)
			if err != nil {
				t.Fatal(err)
			}
			defer base.Close()
			before := homeTree(t, planHome)
			plan := NewDryRunHost(ReadOnlyHost{Host: base})
			want, got := tc.do(real), tc.do(plan)
			if (want == nil) != (got == nil) {
				t.Fatalf("apply: %v; dry run: %v", want, got)
			}
			if want != nil {
				// Both name the same cause; the real host may say it with
				// a different syscall name (openat vs create).
				for _, sentinel := range []error{ErrSymlink, ErrOutsideHome, fs.ErrExist} {
					if errors.Is(want, sentinel) != errors.Is(got, sentinel) {
						t.Errorf("errors.Is(%v): apply %v, dry run %v", sentinel, want, got)
					}
				}
				if errors.Is(want, ErrSymlink) || errors.Is(want, ErrOutsideHome) {
					if diff := cmp.Diff(strings.ReplaceAll(want.Error(), realHome, "HOME"), strings.ReplaceAll(got.Error(), planHome, "HOME")); diff != "" {
						t.Errorf("message (-apply +dry run):\n%s", diff)
					}
				}
			}
			if diff := cmp.Diff(before, homeTree(t, planHome)); diff != "" {
				t.Errorf("the dry run changed the home (-before +after):\n%s", diff)
			}
			if _, err := os.Lstat(filepath.Join(outside, "x")); err == nil {
				t.Errorf("something was written outside HOME")
			}
		})
	}
}

// TestDryRunReadsSeeThePlan: after planned writes, reads answer as the
// real host would after the same writes.
func TestDryRunReadsSeeThePlan(t *testing.T) {
	outside := t.TempDir()
	ops := func(h Host) {
		t.Helper()
		for _, err := range []error{
			h.WriteFile("a/file", []byte("new"), 0o600),
			h.WriteFile("n/deep/created", []byte("c"), 0o644),
			h.Chmod("a/real", 0o640),
			h.Remove("a/rel-link"),
			h.Symlink("../a/file", "n/link"),
			h.AppendFile("log/x.log", []byte("one\n"), 0o600),
			h.AppendFile("log/x.log", []byte("two\n"), 0o600),
			h.MkdirAll("st/empty", 0o700),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	view := func(h Host) []string {
		t.Helper()
		var out []string
		for _, name := range []string{"a/file", "a/real", "a/rel-link", "n/deep/created", "n/link", "log/x.log", "st/empty", "abs-a/file"} {
			data, info, err := h.ReadFile(name)
			line := name + ": "
			switch {
			case errors.Is(err, fs.ErrNotExist):
				line += "absent"
			case err != nil && info != nil && info.IsDir():
				line += "dir " + info.Mode().Perm().String()
			case err != nil:
				line += "error"
			default:
				line += info.Mode().Perm().String() + " " + string(data)
			}
			if li, err := h.Lstat(name); err == nil && li.Mode()&fs.ModeSymlink != 0 {
				target, _ := h.Readlink(name)
				line += " (link -> " + target + ")"
			}
			out = append(out, line)
		}
		for _, dir := range []string{"a", "n", "."} {
			entries, err := h.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			out = append(out, dir+"/: "+strings.Join(names, " "))
		}
		return out
	}
	realHome := fixture(t, outside)
	real, err := NewFileHost(realHome)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	ops(real)
	planHome := fixture(t, outside)
	base, err := OpenFileHost(planHome)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	before := homeTree(t, planHome)
	plan := NewDryRunHost(ReadOnlyHost{Host: base})
	ops(plan)
	if diff := cmp.Diff(view(real), view(plan)); diff != "" {
		t.Errorf("reads (-apply +dry run):\n%s", diff)
	}
	if diff := cmp.Diff(before, homeTree(t, planHome)); diff != "" {
		t.Errorf("the dry run changed the home (-before +after):\n%s", diff)
	}
	if len(plan.Ops()) != 8 {
		t.Errorf("recorded %d ops, want 8: %v", len(plan.Ops()), plan.Ops())
	}
}

// TestReadOnlyGuardFires: a write wired through the guard is refused with
// ErrReadOnly, and the home is untouched.
func TestReadOnlyGuardFires(t *testing.T) {
	home := fixture(t, t.TempDir())
	base, err := OpenFileHost(home)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	before := homeTree(t, home)
	g := ReadOnlyHost{Host: base}
	for _, err := range []error{
		g.WriteFile("a/file", []byte("x"), 0o644),
		g.WriteFiles([]FileWrite{{Name: "z", Data: []byte("x")}})[0],
		g.AppendFile("z", nil, 0o600),
		g.Chmod("a/file", 0o600),
		g.Symlink("t", "l"),
		g.Remove("a/file"),
		g.RemoveAll("a"),
		g.MkdirAll("d", 0o700),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("got %v, want ErrReadOnly", err)
		}
	}
	if diff := cmp.Diff(before, homeTree(t, home)); diff != "" {
		t.Errorf("home changed (-before +after):\n%s", diff)
	}
}

// TestAllowOnly: --check --record's door lets exactly the ledger through.
func TestAllowOnly(t *testing.T) {
	home := t.TempDir()
	real, err := OpenFileHost(home)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	h := AllowOnlyHost{Host: ReadOnlyHost{Host: real}, Writer: real, Paths: []string{"s/ledger.json"}}
	if err := h.MkdirAll("s", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("s/ledger.json", []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("s/other.json", []byte("{}"), 0o600); !errors.Is(err, ErrReadOnly) {
		t.Errorf("other file: got %v, want ErrReadOnly", err)
	}
	if err := h.MkdirAll("t", 0o700); !errors.Is(err, ErrReadOnly) {
		t.Errorf("other dir: got %v, want ErrReadOnly", err)
	}
	got := homeTree(t, home)
	want := []string{"./ " + mustPerm(t, home), "s/ -rwx------", "s/ledger.json -rw------- {}"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("home (-want +got):\n%s", diff)
	}
}

func mustPerm(t *testing.T, p string) string {
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm().String()
}

// TestAbsentHome: a home that does not exist reads as empty and is never
// made.
func TestAbsentHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "nope")
	if _, err := OpenFileHost(home); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenFileHost: %v, want ErrNotExist", err)
	}
	plan := NewDryRunHost(ReadOnlyHost{Host: AbsentHome{Dir: home}})
	if _, _, err := plan.ReadFile("a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read: %v", err)
	}
	if err := plan.WriteFile(".sanctum/x", []byte("x"), 0o600); err != nil {
		t.Errorf("planned write: %v", err)
	}
	if data, _, err := plan.ReadFile(".sanctum/x"); err != nil || string(data) != "x" {
		t.Errorf("read back: %q %v", data, err)
	}
	if _, err := os.Stat(home); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("home was created: %v", err)
	}
}

// TestDryRunSeesPlanThroughHostSymlinks: a read that reaches a planned path
// through one of the host's own symlinks sees the plan, as it would after
// apply: a replaced file (found by its inode), a removed one, a new one.
func TestDryRunSeesPlanThroughHostSymlinks(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name string
		do   func(h Host) error
		want string
	}{
		{"replaced", func(h Host) error { return h.WriteFile("a/real", []byte("planned"), 0o600) }, "planned -rw-------"},
		{"removed", func(h Host) error { return h.Remove("a/real") }, "absent"},
		{"made anew", func(h Host) error {
			if err := h.Remove("a/real"); err != nil {
				return err
			}
			return h.WriteFile("a/real", []byte("new"), 0o644)
		}, "new -rw-r--r--"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, side := range []string{"apply", "dry run"} {
				home := fixture(t, outside)
				base, err := OpenFileHost(home)
				if err != nil {
					t.Fatal(err)
				}
				var h Host = base
				if side == "dry run" {
					h = NewDryRunHost(ReadOnlyHost{Host: base})
				}
				if err := tc.do(h); err != nil {
					t.Fatal(err)
				}
				got := "absent"
				if data, info, err := h.ReadFile("a/rel-link"); err == nil {
					got = string(data) + " " + info.Mode().Perm().String()
				} else if !errors.Is(err, fs.ErrNotExist) {
					got = err.Error()
				}
				if info, err := h.Stat("a/rel-link"); err == nil && got == "absent" {
					got = "stat found " + info.Name()
				}
				if got != tc.want {
					t.Errorf("%s: read through the symlink = %q, want %q", side, got, tc.want)
				}
				base.Close()
			}
		})
	}
}
