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
