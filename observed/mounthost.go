package observed

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

// SystemUnitDir is where the system manager reads the units its
// administrator installs (systemd.unit(5)): the one place outside HOME a
// pass may write, and only the unit files of scope: system units.
const SystemUnitDir = "/etc/systemd/system"

// MountHost is HOME's Host with one more directory mounted into its
// names: a name under Dir, written absolute (/etc/systemd/system/x.service),
// is a file of Mount, a Host rooted at Dir; every other name is
// HOME-relative, as everywhere. Mount confines its names to Dir as HOME's
// host confines them to HOME (no .., no symlink out), and it reaches only
// the files directly in Dir. Without a MountHost an absolute name is
// refused by HOME's host (ErrOutsideHome), so a pass that was not given
// the directory can never write there.
type MountHost struct {
	Host
	Dir   string
	Mount Host
}

var _ Host = MountHost{}

// route is the host a name belongs to, and the name there.
func (m MountHost) route(name string) (Host, string, error) {
	rest, ok := strings.CutPrefix(name, m.Dir+"/")
	if !ok {
		if name == m.Dir {
			return m.Mount, ".", nil
		}
		return m.Host, name, nil
	}
	if c := path.Clean(rest); c != rest || strings.Contains(c, "/") || c == ".." {
		return nil, "", &fs.PathError{Op: "resolve", Path: name, Err: errors.New("only the files directly in " + m.Dir + " are reconciled")}
	}
	return m.Mount, rest, nil
}

// ReadFile implements Host.
func (m MountHost) ReadFile(name string) ([]byte, fs.FileInfo, error) {
	h, n, err := m.route(name)
	if err != nil {
		return nil, nil, err
	}
	data, info, err := h.ReadFile(n)
	return data, info, m.named(err, n, name)
}

// ReadFileUnless implements Host.
func (m MountHost) ReadFileUnless(name string, known func(fs.FileInfo) bool) ([]byte, fs.FileInfo, bool, error) {
	h, n, err := m.route(name)
	if err != nil {
		return nil, nil, false, err
	}
	data, info, skipped, err := h.ReadFileUnless(n, known)
	return data, info, skipped, m.named(err, n, name)
}

// Stat implements Host.
func (m MountHost) Stat(name string) (fs.FileInfo, error) {
	h, n, err := m.route(name)
	if err != nil {
		return nil, err
	}
	info, err := h.Stat(n)
	return info, m.named(err, n, name)
}

// Lstat implements Host.
func (m MountHost) Lstat(name string) (fs.FileInfo, error) {
	h, n, err := m.route(name)
	if err != nil {
		return nil, err
	}
	info, err := h.Lstat(n)
	return info, m.named(err, n, name)
}

// ReadDir implements Host.
func (m MountHost) ReadDir(name string) ([]fs.DirEntry, error) {
	h, n, err := m.route(name)
	if err != nil {
		return nil, err
	}
	entries, err := h.ReadDir(n)
	return entries, m.named(err, n, name)
}

// Readlink implements Host.
func (m MountHost) Readlink(name string) (string, error) {
	h, n, err := m.route(name)
	if err != nil {
		return "", err
	}
	target, err := h.Readlink(n)
	return target, m.named(err, n, name)
}

// WriteFile implements Host.
func (m MountHost) WriteFile(name string, data []byte, perm fs.FileMode) error {
	h, n, err := m.route(name)
	if err != nil {
		return err
	}
	return m.named(h.WriteFile(n, data, perm), n, name)
}

// WriteFiles implements Host: each host writes its own share of the batch
// in one call, durable at its end as the batch is.
func (m MountHost) WriteFiles(writes []FileWrite) []error {
	errs := make([]error, len(writes))
	var home, mount []FileWrite
	var homeAt, mountAt []int
	for i, w := range writes {
		h, n, err := m.route(w.Name)
		switch {
		case err != nil:
			errs[i] = err
		case h == m.Mount:
			w.Name = n
			mount, mountAt = append(mount, w), append(mountAt, i)
		default:
			home, homeAt = append(home, w), append(homeAt, i)
		}
	}
	for _, batch := range []struct {
		h      Host
		writes []FileWrite
		at     []int
	}{{m.Host, home, homeAt}, {m.Mount, mount, mountAt}} {
		if len(batch.writes) == 0 {
			continue
		}
		for j, err := range batch.h.WriteFiles(batch.writes) {
			i := batch.at[j]
			errs[i] = m.named(err, batch.writes[j].Name, writes[i].Name)
			writes[i].Written = batch.writes[j].Written
		}
	}
	return errs
}

// AppendFile implements Host.
func (m MountHost) AppendFile(name string, data []byte, perm fs.FileMode) error {
	h, n, err := m.route(name)
	if err != nil {
		return err
	}
	return m.named(h.AppendFile(n, data, perm), n, name)
}

// Chmod implements Host.
func (m MountHost) Chmod(name string, perm fs.FileMode) error {
	h, n, err := m.route(name)
	if err != nil {
		return err
	}
	return m.named(h.Chmod(n, perm), n, name)
}

// Symlink implements Host.
func (m MountHost) Symlink(target, name string) error {
	h, n, err := m.route(name)
	if err != nil {
		return err
	}
	return m.named(h.Symlink(target, n), n, name)
}

// Remove implements Host.
func (m MountHost) Remove(name string) error {
	h, n, err := m.route(name)
	if err != nil {
		return err
	}
	return m.named(h.Remove(n), n, name)
}

// RemoveAll implements Host: never in the mounted directory.
func (m MountHost) RemoveAll(name string) error {
	h, _, err := m.route(name)
	if err != nil {
		return err
	}
	if h == m.Mount {
		return &fs.PathError{Op: "removeall", Path: name, Err: errors.New("not in " + m.Dir)}
	}
	return m.Host.RemoveAll(name)
}

// MkdirAll implements Host: the mounted directory is there already and
// keeps the mode it has.
func (m MountHost) MkdirAll(name string, perm fs.FileMode) error {
	h, n, err := m.route(name)
	if err != nil {
		return err
	}
	if h == m.Mount {
		if n != "." {
			return &fs.PathError{Op: "mkdir", Path: name, Err: errors.New("only the files directly in " + m.Dir + " are reconciled")}
		}
		return nil
	}
	return h.MkdirAll(n, perm)
}

// named gives an error of the mounted host the name the pass used, and
// says what a refused write there needs.
func (m MountHost) named(err error, inner, name string) error {
	if err == nil || inner == name {
		return err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		out := &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
		if errors.Is(err, fs.ErrPermission) {
			out.Err = permissionNeeded{pe.Err}
		}
		return out
	}
	return err
}

// permissionNeeded is a refusal in the system's unit directory: only
// root writes there.
type permissionNeeded struct{ err error }

func (e permissionNeeded) Error() string {
	return e.err.Error() + " (system units are written by root: run reconcile as root on this host)"
}
func (e permissionNeeded) Unwrap() error { return e.err }
