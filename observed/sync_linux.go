package observed

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncAll: one syncfs makes a whole batch durable.
const haveSyncAll = true

// syncAll flushes the file system HOME is on: syncfs(2), one call for a
// whole batch of writes.
func (h *FileHost) syncAll() error {
	d, err := os.Open(h.home)
	if err != nil {
		return err
	}
	defer d.Close()
	return os.NewSyscallError("syncfs", unix.Syncfs(int(d.Fd())))
}
