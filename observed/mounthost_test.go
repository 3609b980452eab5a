package observed

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountHost: names under the mounted directory reach its root and
// only its own files; every other name is HOME's; a batch is split and
// its answers kept in order; without the mount an absolute name is
// refused.
func TestMountHost(t *testing.T) {
	base := t.TempDir()
	home, units := filepath.Join(base, "home"), filepath.Join(base, "units")
	for _, d := range []string{home, units, filepath.Join(units, "multi-user.target.wants")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hh, err := OpenFileHost(home)
	if err != nil {
		t.Fatal(err)
	}
	defer hh.Close()
	uh, err := OpenFileHost(units)
	if err != nil {
		t.Fatal(err)
	}
	defer uh.Close()
	const dir = "/etc/systemd/system"
	m := MountHost{Host: hh, Dir: dir, Mount: uh}

	writes := []FileWrite{
		{Name: "a.txt", Data: []byte("home"), Perm: 0o644},
		{Name: dir + "/x.service", Data: []byte("[Service]\n"), Perm: 0o600},
		{Name: dir + "/multi-user.target.wants/x.service", Data: []byte("no"), Perm: 0o644},
		{Name: "b/c.txt", Data: []byte("deep"), Perm: 0o644},
	}
	errs := m.WriteFiles(writes)
	if errs[0] != nil || errs[1] != nil || errs[3] != nil {
		t.Fatalf("writes: %v", errs)
	}
	if errs[2] == nil || !strings.Contains(errs[2].Error(), "only the files directly in "+dir) {
		t.Fatalf("a subfolder of the unit directory: %v", errs[2])
	}
	if writes[1].Written == nil || writes[0].Written == nil {
		t.Fatalf("Written not carried back: %+v", writes)
	}
	got, err := os.ReadFile(filepath.Join(units, "x.service"))
	if err != nil || string(got) != "[Service]\n" {
		t.Fatalf("unit file: %q %v", got, err)
	}
	if info, _ := os.Stat(filepath.Join(units, "x.service")); info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", info.Mode())
	}
	if _, err := os.Stat(filepath.Join(home, "b/c.txt")); err != nil {
		t.Fatal(err)
	}
	data, info, err := m.ReadFile(dir + "/x.service")
	if err != nil || string(data) != "[Service]\n" || info.Mode().Perm() != 0o600 {
		t.Fatalf("read back: %q %v %v", data, info, err)
	}
	// An error names the file as the pass does.
	_, _, err = m.ReadFile(dir + "/missing.service")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != dir+"/missing.service" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	for _, bad := range []string{dir + "/../passwd", dir + "/./x.service", dir + "//x.service", dir + "/a/b"} {
		if _, _, err := m.ReadFile(bad); err == nil {
			t.Errorf("%s: read", bad)
		}
	}
	// A symlink in the unit directory that leads out is not followed.
	if err := os.Symlink(filepath.Join(home, "a.txt"), filepath.Join(units, "out.service")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.ReadFile(dir + "/out.service"); err == nil {
		t.Error("a symlink out of the unit directory was followed")
	}
	entries, err := m.ReadDir(dir)
	if err != nil || len(entries) != 3 {
		t.Fatalf("readdir: %v %v", entries, err)
	}
	if err := m.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(units); info.Mode().Perm() != 0o755 {
		t.Fatalf("MkdirAll changed the unit directory's mode: %v", info.Mode())
	}
	if err := m.RemoveAll(dir + "/x.service"); err == nil {
		t.Error("RemoveAll in the unit directory")
	}
	if err := m.Remove(dir + "/x.service"); err != nil {
		t.Fatal(err)
	}
	// HOME alone refuses an absolute name.
	if _, _, err := hh.ReadFile(dir + "/x.service"); !errors.Is(err, ErrOutsideHome) {
		t.Fatalf("without the mount: %v", err)
	}
}

// deniedHost refuses every write as a directory root owns refuses a
// user's.
type deniedHost struct{ *FileHost }

func (deniedHost) WriteFile(name string, _ []byte, _ fs.FileMode) error {
	return &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
}

// TestMountHostPermission: a write the unit directory refuses names the
// file as the pass does and says who may write there.
func TestMountHostPermission(t *testing.T) {
	base := t.TempDir()
	hh, err := OpenFileHost(base)
	if err != nil {
		t.Fatal(err)
	}
	defer hh.Close()
	m := MountHost{Host: hh, Dir: "/etc/systemd/system", Mount: deniedHost{hh}}
	err = m.WriteFile("/etc/systemd/system/x.service", []byte("x"), 0o644)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "run reconcile as root") ||
		!errors.As(err, &pe) || pe.Path != "/etc/systemd/system/x.service" {
		t.Fatalf("%v", err)
	}
}
