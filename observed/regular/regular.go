// Package regular opens only regular files, and reads them only within a
// size limit. Every open is non-blocking, so a FIFO at a path reconcile
// reads cannot stop the open (nor, then, the pass and the lock it holds);
// the open file is then refused unless it is a regular file, and a file
// over its limit is refused from its stat, before a byte is read, so that a
// sparse 64 GiB file costs one fstat rather than all of memory.
package regular

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
)

// Errors callers decide on.
var (
	// ErrNotRegular: a FIFO, socket, device or directory where a file's
	// content was to be read.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: a file over the limit of what it is.
	ErrTooLarge = errors.New("file too large")
)

// OpenFlags are the flags of every open for reading: O_NONBLOCK makes the
// open of a FIFO with no writer return at once (a regular file ignores the
// flag), O_NOCTTY keeps a terminal device from becoming ours.
const OpenFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// Size formats a limit for messages: "16 MiB", "64 KiB", "100 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Check refuses what is not a regular file within limit bytes (limit <= 0:
// no limit), from the open file's own stat. Errors are *fs.PathError naming
// name and wrapping ErrNotRegular or ErrTooLarge.
func Check(f *os.File, name string, limit int64) (fs.FileInfo, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if err := CheckInfo(info, name, limit); err != nil {
		return info, err
	}
	return info, nil
}

// CheckInfo is Check on a FileInfo already taken from an open file.
func CheckInfo(info fs.FileInfo, name string, limit int64) error {
	if !info.Mode().IsRegular() {
		return &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(info.Mode()))}
	}
	if limit > 0 && info.Size() > limit {
		return &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: %d bytes, the limit is %s", ErrTooLarge, info.Size(), Size(limit))}
	}
	return nil
}

// kind names a file type for an error.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "mode " + m.String()
}

// Read checks an open file and reads it whole: at most the size its stat
// gave (a file that grew since is read as it was, and read again next
// time), never more than limit.
func Read(f *os.File, name string, limit int64) ([]byte, fs.FileInfo, error) {
	info, err := Check(f, name, limit)
	if err != nil {
		return nil, info, err
	}
	return ReadChecked(f, name, info)
}

// ReadChecked reads an open file that Check passed, given the FileInfo
// Check returned.
func ReadChecked(f *os.File, name string, info fs.FileInfo) ([]byte, fs.FileInfo, error) {
	data := make([]byte, info.Size())
	n, err := io.ReadFull(f, data)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data[:n], info, nil
}

// ReadFile opens a path (following symlinks, as os.Open does) and reads it
// as Read does: for files reconcile is told to read by path, such as a saved
// plan.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, OpenFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, _, err := Read(f, path, limit)
	return data, err
}

// ReadFileIn reads name under root as Read does; symlinks are followed only
// while they stay inside the root.
func ReadFileIn(root *os.Root, name string, limit int64) ([]byte, fs.FileInfo, error) {
	f, err := root.OpenFile(name, OpenFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return Read(f, name, limit)
}

// Escapes reports whether an error of an os.Root says that the path, or a
// symlink on it, leads out of the root.
func Escapes(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// FS is an fs.FS on an os.Root whose files open as this package opens
// them: non-blocking, regular files only (directories open for listing),
// none over limit. A path or symlink leading out of the root is refused
// with an error wrapping outside.
type FS struct {
	Root    *os.Root
	Limit   int64
	Outside error
}

var (
	_ fs.ReadFileFS = FS{}
	_ fs.StatFS     = FS{}
	_ fs.ReadDirFS  = FS{}
)

func (f FS) rooted(op, name string, err error) error {
	if Escapes(err) {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("a symlink on the path %w", f.Outside)}
	}
	return err
}

func (f FS) open(op, name string) (*os.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	file, err := f.Root.OpenFile(name, OpenFlags, 0)
	if err != nil {
		return nil, f.rooted(op, name, err)
	}
	return file, nil
}

// Open implements fs.FS: a directory opens (to be listed), a regular file
// within the limit opens, anything else is an error.
func (f FS) Open(name string) (fs.File, error) {
	file, err := f.open("open", name)
	if err != nil {
		return nil, err
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, err
	}
	if info.IsDir() {
		return file, nil
	}
	if err := CheckInfo(info, name, f.Limit); err != nil {
		file.Close()
		return nil, err
	}
	return file, nil
}

// ReadFile implements fs.ReadFileFS.
func (f FS) ReadFile(name string) ([]byte, error) {
	file, err := f.open("open", name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, _, err := Read(file, name, f.Limit)
	return data, err
}

// Stat implements fs.StatFS.
func (f FS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	info, err := f.Root.Stat(name)
	return info, f.rooted("stat", name, err)
}

// ReadDir implements fs.ReadDirFS, sorted by name.
func (f FS) ReadDir(name string) ([]fs.DirEntry, error) {
	file, err := f.open("readdir", name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	entries, err := file.ReadDir(-1)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	sortEntries(entries)
	return entries, nil
}

func sortEntries(es []fs.DirEntry) {
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}
