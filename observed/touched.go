package observed

import (
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// Look is how a pass looked at a path.
type Look uint8

// The ways a pass looks at a path.
const (
	LookRead Look = iota + 1
	LookStat
	LookLstat
	LookReadlink
	LookReadDir
)

// TouchLog remembers which paths a pass looked at and how, and nothing
// else: cheap enough for every apply. An index keeps what they held when
// the pass ended (Observe), so that a later check knows, by looking again,
// whether everything the pass's decisions rested on is still so.
type TouchLog struct {
	mu sync.Mutex
	m  map[string]map[Look]bool
}

// NewTouchLog makes an empty log.
func NewTouchLog() *TouchLog { return &TouchLog{m: map[string]map[Look]bool{}} }

func (l *TouchLog) touch(op Look, name string) {
	name = path.Clean(name)
	l.mu.Lock()
	ops := l.m[name]
	if ops == nil {
		ops = map[Look]bool{}
		l.m[name] = ops
	}
	ops[op] = true
	l.mu.Unlock()
}

// Touch is one path looked at one way.
type Touch struct {
	Look Look
	Name string
}

// Touched lists what the pass looked at, sorted.
func (l *TouchLog) Touched() []Touch {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Touch
	for name, ops := range l.m {
		for op := range ops {
			out = append(out, Touch{Look: op, Name: name})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Look < out[j].Look
	})
	return out
}

// TouchingHost logs every path it is asked to look at.
type TouchingHost struct {
	Host
	Log *TouchLog
}

var _ Host = TouchingHost{}

// Plans implements planner: as the host it logs.
func (t TouchingHost) Plans() bool { return Plans(t.Host) }

// ReadFile implements Host.
func (t TouchingHost) ReadFile(name string) ([]byte, fs.FileInfo, error) {
	t.Log.touch(LookRead, name)
	return t.Host.ReadFile(name)
}

// ReadFileUnless implements Host.
func (t TouchingHost) ReadFileUnless(name string, known func(fs.FileInfo) bool) ([]byte, fs.FileInfo, bool, error) {
	t.Log.touch(LookRead, name)
	return t.Host.ReadFileUnless(name, known)
}

// Stat implements Host.
func (t TouchingHost) Stat(name string) (fs.FileInfo, error) {
	t.Log.touch(LookStat, name)
	return t.Host.Stat(name)
}

// Lstat implements Host.
func (t TouchingHost) Lstat(name string) (fs.FileInfo, error) {
	t.Log.touch(LookLstat, name)
	return t.Host.Lstat(name)
}

// Readlink implements Host.
func (t TouchingHost) Readlink(name string) (string, error) {
	t.Log.touch(LookReadlink, name)
	return t.Host.Readlink(name)
}

// ReadDir implements Host.
func (t TouchingHost) ReadDir(name string) ([]fs.DirEntry, error) {
	t.Log.touch(LookReadDir, name)
	return t.Host.ReadDir(name)
}

// Seen is what one touched path held when a pass ended: the digest of
// looking at it the same way (content and mode, type and mode, link
// target, listing), the stat data that vouches for it, and for a listed
// directory its names.
type Seen struct {
	Look   Look
	Name   string
	Digest string
	Key    StatKey
	HasKey bool
	Names  []string // LookReadDir: the names listed, sorted
}

// Observe looks at a path as op does and says what it holds now.
func Observe(h Host, op Look, name string) Seen {
	s := Seen{Look: op, Name: name}
	switch op {
	case LookRead:
		// Stat data before the read: a change after it moves the key.
		if info, err := h.Stat(name); err == nil {
			s.Key, s.HasKey = KeyOf(info)
		}
		data, info, err := h.ReadFile(name)
		s.Digest = FileDigest(data, info, err)
	case LookStat:
		info, err := h.Stat(name)
		s.Digest = statDigest(info, err)
	case LookLstat:
		info, err := h.Lstat(name)
		s.Digest = statDigest(info, err)
	case LookReadlink:
		t, err := h.Readlink(name)
		s.Digest = linkDigest(t, err)
	case LookReadDir:
		if info, err := h.Stat(name); err == nil {
			s.Key, s.HasKey = KeyOf(info)
		}
		entries, err := h.ReadDir(name)
		s.Digest = dirDigest(entries, err)
		for _, e := range entries {
			s.Names = append(s.Names, e.Name()+"\x00"+typeName(e.Type()))
		}
		sort.Strings(s.Names)
	}
	return s
}

// Holds reports whether a path still holds what was seen. Stat data that
// is unchanged and that trust accepts (taken long enough after the path
// last changed) vouches for a file or a listing without reading it. A listing that only lost names, each of them
// one that gone(name) accepts (a target the caller checks itself), holds.
func (s Seen) Holds(h Host, trust func(StatKey) bool, gone func(name string) bool) bool {
	if s.HasKey && (s.Look == LookRead || s.Look == LookReadDir) {
		if info, err := h.Stat(s.Name); err == nil {
			if key, ok := KeyOf(info); ok && key == s.Key && trust(key) {
				return true
			}
		}
	}
	now := Observe(h, s.Look, s.Name)
	if now.Digest == s.Digest {
		return true
	}
	if s.Look != LookReadDir || gone == nil || !strings.HasPrefix(now.Digest, "sha256:") {
		return false
	}
	// Every name listed now was listed then; every name gone is accepted.
	i := 0
	for _, n := range s.Names {
		if i < len(now.Names) && now.Names[i] == n {
			i++
			continue
		}
		name, _, _ := strings.Cut(n, "\x00")
		if !gone(path.Join(s.Name, name)) {
			return false
		}
	}
	return i == len(now.Names)
}
