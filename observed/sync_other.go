//go:build !linux

package observed

// haveSyncAll: each file needs its own fsync here.
const haveSyncAll = false

// syncAll does nothing where there is no syncfs(2): each file's own fsync,
// in the rename that replaces it, makes it durable.
func (h *FileHost) syncAll() error { return nil }
