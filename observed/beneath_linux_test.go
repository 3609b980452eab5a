package observed

import (
	"os"
	"path/filepath"
	"testing"
)

// The one-call open serves plain files and symlinks that stay in HOME, and
// leaves to the root (nil) everything else: missing files, symlinks that
// leave HOME or are absolute, paths that climb out.
func TestOpenBeneath(t *testing.T) {
	h, home := newTestHost(t)
	outside := t.TempDir()
	writeRaw(t, filepath.Join(home, "d", "a.txt"), "a\n", 0o644)
	writeRaw(t, filepath.Join(outside, "secret.txt"), "outside\n", 0o644)
	for link, target := range map[string]string{
		"d/rel.txt":   "a.txt",
		"d/abs.txt":   filepath.Join(home, "d", "a.txt"),
		"d/out.txt":   filepath.Join(outside, "secret.txt"),
		"d/climb.txt": "../../" + filepath.Base(outside) + "/secret.txt",
		"linkdir":     "d",
		"linkdir-out": outside,
	} {
		if err := os.Symlink(target, filepath.Join(home, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{
		"d/a.txt":                true,
		"d/rel.txt":              true,
		"linkdir/a.txt":          true,
		"d/missing.txt":          false,
		"d/abs.txt":              false, // absolute: the root decides
		"d/out.txt":              false,
		"d/climb.txt":            false,
		"linkdir-out/secret.txt": false,
		"../x":                   false,
	} {
		f := h.openBeneath(name)
		if got := f != nil; got != want {
			t.Errorf("openBeneath(%q) opened: %v, want %v", name, got, want)
		}
		if f != nil {
			f.Close()
		}
	}
	// Through ReadFile, the root's answers stand for what openBeneath left.
	if data, _, err := h.ReadFile("d/rel.txt"); err != nil || string(data) != "a\n" {
		t.Errorf("ReadFile(d/rel.txt) = %q, %v", data, err)
	}
	if _, _, err := h.ReadFile("d/out.txt"); err == nil {
		t.Error("ReadFile followed a symlink out of HOME")
	}
	if _, _, err := h.ReadFile("linkdir-out/secret.txt"); err == nil {
		t.Error("ReadFile followed a directory symlink out of HOME")
	}
}

// statBeneath's FileInfo is os.Stat's, field for field and as a StatKey
// (an index compares keys taken either way), for files of every mode bit;
// it refuses what openBeneath refuses.
func TestStatBeneathIsOsStat(t *testing.T) {
	h, home := newTestHost(t)
	outside := t.TempDir()
	writeRaw(t, filepath.Join(outside, "secret.txt"), "outside\n", 0o644)
	for name, perm := range map[string]os.FileMode{"a.txt": 0o644, "s.txt": 0o600, "x.sh": 0o755, "g.txt": 0o640 | os.ModeSetgid, "k.txt": 0o644 | os.ModeSticky} {
		p := filepath.Join(home, "d", name)
		writeRaw(t, p, name+"\n", 0o644)
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		fd, got := h.statBeneath("d/" + name)
		if fd < 0 {
			t.Fatalf("statBeneath(d/%s): no descriptor", name)
		}
		closeFD(fd)
		want, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() || !got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() {
			t.Errorf("%s: statBeneath %v %d %v %v, os.Stat %v %d %v %v", name, got.Name(), got.Size(), got.Mode(), got.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
		}
		gk, ok1 := KeyOf(got)
		wk, ok2 := KeyOf(want)
		if !ok1 || !ok2 || gk != wk {
			t.Errorf("%s: key %+v (%v), os.Stat's %+v (%v)", name, gk, ok1, wk, ok2)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(home, "d", "out.txt")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d/out.txt", "d/missing.txt", "../x"} {
		if fd, _ := h.statBeneath(name); fd >= 0 {
			closeFD(fd)
			t.Errorf("statBeneath(%s) answered; the root must", name)
		}
	}
}
