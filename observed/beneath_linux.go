package observed

import (
	"os"
	"path/filepath"
	"sync/atomic"

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
