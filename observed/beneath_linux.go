package observed

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// noOpenat2 is set once the kernel says it has no openat2(2).
var noOpenat2 atomic.Bool

// openBeneathDir opens HOME for openBeneath; nil leaves every open to the
// root.
func openBeneathDir(home string) (*os.File, int) {
	d, err := os.Open(home)
	if err != nil {
		return nil, -1
	}
	return d, int(d.Fd())
}

// openBeneath opens name (clean, relative) for reading with openat2 and
// RESOLVE_BENEATH: symlinks are followed only while they stay under HOME,
// as the root follows them. It returns nil for anything but a plain
// success (a missing file, an absolute symlink, no openat2), and the
// caller asks the root, whose answer and error are the reference.
func (h *FileHost) openBeneath(name string) *os.File {
	if h.beneath == nil || noOpenat2.Load() {
		return nil
	}
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	for range 3 {
		fd, err := unix.Openat2(h.beneathFD, name, &how)
		switch err {
		case nil:
			return os.NewFile(uintptr(fd), filepath.Join(h.home, name))
		case unix.EINTR, unix.EAGAIN: // a rename raced the lookup
			continue
		case unix.ENOSYS, unix.EPERM:
			noOpenat2.Store(true)
		}
		return nil
	}
	return nil
}

// statBeneath opens name (clean, relative) beneath HOME as openBeneath does
// and fstats it with plain system calls: no *os.File, so no poller
// registration and no finalizer, which are most of the cost of a stat
// through RESOLVE_BENEATH when the answer is "as recorded". It returns the
// open descriptor (the caller closes it or hands it to os.NewFile), or -1
// when the root must answer.
func (h *FileHost) statBeneath(name string) (int, fs.FileInfo) {
	if h.beneath == nil || noOpenat2.Load() {
		return -1, nil
	}
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(h.beneathFD, name, &how)
	if err != nil {
		if err == unix.ENOSYS || err == unix.EPERM {
			noOpenat2.Store(true)
		}
		return -1, nil
	}
	info := &rawInfo{name: path.Base(name)}
	if err := syscall.Fstat(fd, &info.st); err != nil {
		unix.Close(fd)
		return -1, nil
	}
	return fd, info
}

func closeFD(fd int) { unix.Close(fd) }

// rawInfo is an fs.FileInfo from a stat, converted as os converts one
// (os/stat_linux.go), so that a StatKey from it equals one from os.Stat.
type rawInfo struct {
	name string
	st   syscall.Stat_t
}

func (r *rawInfo) Name() string       { return r.name }
func (r *rawInfo) Size() int64        { return r.st.Size }
func (r *rawInfo) ModTime() time.Time { return time.Unix(r.st.Mtim.Unix()) }
func (r *rawInfo) IsDir() bool        { return r.Mode().IsDir() }
func (r *rawInfo) Sys() any           { return &r.st }
func (r *rawInfo) Mode() fs.FileMode {
	m := fs.FileMode(r.st.Mode & 0o777)
	switch r.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if r.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if r.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if r.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
