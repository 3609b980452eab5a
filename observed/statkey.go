package observed

import (
	"io/fs"
	"syscall"
)

// StatKey is what the index compares: a file whose key is unchanged since
// its content was last read has, unless changed racily, the same content.
type StatKey struct {
	Size    int64
	MtimeNs int64
	CtimeNs int64
	Ino     uint64
	Mode    fs.FileMode
}

// KeyOf reads the key of a file's FileInfo; ok is false where the system
// says nothing of inode and change time.
func KeyOf(info fs.FileInfo) (StatKey, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return StatKey{}, false
	}
	return StatKey{Size: info.Size(), MtimeNs: info.ModTime().UnixNano(), CtimeNs: ctimeNs(st), Ino: uint64(st.Ino), Mode: info.Mode()}, true
}
