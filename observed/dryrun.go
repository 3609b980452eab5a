package observed

import (
	"fmt"
	"io/fs"
	"sync"
)

// Op is a write a DryRunHost recorded instead of doing.
type Op struct {
	Verb string // write, chmod, remove, mkdir
	Path string
	Mode fs.FileMode
}

// DryRunHost passes reads through and records every write.
type DryRunHost struct {
	Host
	mu  sync.Mutex
	ops []Op
}

var _ Host = (*DryRunHost)(nil)

// NewDryRunHost decorates h.
func NewDryRunHost(h Host) *DryRunHost { return &DryRunHost{Host: h} }

func (d *DryRunHost) record(op Op) {
	d.mu.Lock()
	d.ops = append(d.ops, op)
	d.mu.Unlock()
}

// Ops returns the writes recorded so far.
func (d *DryRunHost) Ops() []Op {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Op(nil), d.ops...)
}

// WriteFile implements Host.
func (d *DryRunHost) WriteFile(name string, _ []byte, perm fs.FileMode) error {
	if _, err := clean(name); err != nil {
		return err
	}
	d.record(Op{Verb: "write", Path: name, Mode: perm})
	return nil
}

// WriteFiles implements Host.
func (d *DryRunHost) WriteFiles(writes []FileWrite) []error {
	errs := make([]error, len(writes))
	for i, w := range writes {
		errs[i] = d.WriteFile(w.Name, w.Data, w.Perm)
	}
	return errs
}

// AppendFile implements Host.
func (d *DryRunHost) AppendFile(name string, _ []byte, perm fs.FileMode) error {
	if _, err := clean(name); err != nil {
		return err
	}
	d.record(Op{Verb: "append", Path: name, Mode: perm})
	return nil
}

// Symlink implements Host.
func (d *DryRunHost) Symlink(target, name string) error {
	if _, err := clean(name); err != nil {
		return err
	}
	d.record(Op{Verb: "symlink " + target, Path: name})
	return nil
}

// Chmod implements Host.
func (d *DryRunHost) Chmod(name string, perm fs.FileMode) error {
	if _, err := clean(name); err != nil {
		return err
	}
	d.record(Op{Verb: "chmod", Path: name, Mode: perm})
	return nil
}

// Remove implements Host.
func (d *DryRunHost) Remove(name string) error {
	if _, err := clean(name); err != nil {
		return err
	}
	d.record(Op{Verb: "remove", Path: name})
	return nil
}

// RemoveAll implements Host.
func (d *DryRunHost) RemoveAll(name string) error {
	if _, err := clean(name); err != nil {
		return err
	}
	d.record(Op{Verb: "removeall", Path: name})
	return nil
}

// MkdirAll implements Host.
func (d *DryRunHost) MkdirAll(name string, perm fs.FileMode) error {
	if _, err := clean(name); err != nil {
		return err
	}
	d.record(Op{Verb: "mkdir", Path: name, Mode: perm})
	return nil
}

// ReadOnlyHost lets reads through and refuses every write: under --check a
// write is a bug in reconcile, never something to do.
type ReadOnlyHost struct{ Host }

var _ Host = ReadOnlyHost{}

func readOnly(verb, name string) error {
	return fmt.Errorf("%s %s: %w", verb, name, ErrReadOnly)
}

// WriteFile implements Host.
func (r ReadOnlyHost) WriteFile(name string, _ []byte, _ fs.FileMode) error {
	return readOnly("write", name)
}

// WriteFiles implements Host.
func (r ReadOnlyHost) WriteFiles(writes []FileWrite) []error {
	errs := make([]error, len(writes))
	for i, w := range writes {
		errs[i] = readOnly("write", w.Name)
	}
	return errs
}

// AppendFile implements Host.
func (r ReadOnlyHost) AppendFile(name string, _ []byte, _ fs.FileMode) error {
	return readOnly("append", name)
}

// Symlink implements Host.
func (r ReadOnlyHost) Symlink(_, name string) error { return readOnly("symlink", name) }

// Chmod implements Host.
func (r ReadOnlyHost) Chmod(name string, _ fs.FileMode) error { return readOnly("chmod", name) }

// Remove implements Host.
func (r ReadOnlyHost) Remove(name string) error { return readOnly("remove", name) }

// RemoveAll implements Host.
func (r ReadOnlyHost) RemoveAll(name string) error { return readOnly("removeall", name) }

// MkdirAll implements Host.
func (r ReadOnlyHost) MkdirAll(name string, _ fs.FileMode) error { return readOnly("mkdir", name) }
