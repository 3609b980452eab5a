package controllers

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sanctum-haus/reconcile/observed"
)

// StatCacheFile is the stat cache, as git's index keeps one: for each file
// the last apply found or wrote right, its size, mtime, ctime, inode and mode
// with the sha256 of its content. A check trusts an entry only while the
// file's stat is unchanged and not racily close to when the cache was
// written; --full ignores the cache.
const StatCacheFile = StateDir + "/statcache"

// racyWindow: a file changed within this long before the cache was written
// could change again without its mtime moving on a coarse clock.
const racyWindow = 2 * time.Second

const statCacheHeader = "reconcile statcache v1"

type statEntry struct {
	key observed.StatKey
	sha string
}

// StatCache is a loaded stat cache.
type StatCache struct {
	written int64 // unix ns
	entries map[string]statEntry
}

// LoadStatCache reads the cache; a missing or damaged one is an empty
// cache: it only ever saves reads, it never decides anything.
func LoadStatCache(h observed.Host) *StatCache {
	c := &StatCache{entries: map[string]statEntry{}}
	data, _, err := h.ReadFile(StatCacheFile)
	if err != nil {
		return c
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	if !sc.Scan() {
		return c
	}
	head := strings.Fields(sc.Text())
	if len(head) != 4 || strings.Join(head[:3], " ") != statCacheHeader {
		return c
	}
	c.written, _ = strconv.ParseInt(head[3], 10, 64)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 7 || len(f[6]) != 64 {
			return &StatCache{entries: map[string]statEntry{}}
		}
		var k observed.StatKey
		var mode uint64
		var err1, err2, err3, err4, err5 error
		k.Size, err1 = strconv.ParseInt(f[1], 10, 64)
		k.MtimeNs, err2 = strconv.ParseInt(f[2], 10, 64)
		k.CtimeNs, err3 = strconv.ParseInt(f[3], 10, 64)
		k.Ino, err4 = strconv.ParseUint(f[4], 10, 64)
		mode, err5 = strconv.ParseUint(f[5], 8, 32)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
			return &StatCache{entries: map[string]statEntry{}}
		}
		k.Mode = fs.FileMode(mode)
		c.entries[f[0]] = statEntry{key: k, sha: f[6]}
	}
	return c
}

// fresh reports whether a file can be taken to hold content of sha without
// reading it.
func (c *StatCache) fresh(path string, key observed.StatKey, sha string) bool {
	e, ok := c.entries[path]
	if !ok || e.key != key || e.sha != sha {
		return false
	}
	limit := c.written - int64(racyWindow)
	return key.MtimeNs < limit && key.CtimeNs < limit
}

// recordStat remembers a file this pass found or left right.
func (fe *FileEngine) recordStat(path string, info fs.FileInfo, sha string) {
	if fe.plans {
		return // only a pass that wrote saves the cache
	}
	key, ok := observed.KeyOf(info)
	if !ok {
		return
	}
	fe.mu.Lock()
	fe.stats[path] = statEntry{key: key, sha: sha}
	fe.mu.Unlock()
}

// saveStatCache writes the cache of this pass (apply only).
func (fe *FileEngine) saveStatCache(now time.Time) error {
	paths := make([]string, 0, len(fe.stats))
	for k := range fe.stats {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d\n", statCacheHeader, now.UnixNano())
	for _, path := range paths {
		if strings.ContainsAny(path, "\t\n") {
			continue
		}
		e := fe.stats[path]
		fmt.Fprintf(&b, "%s\t%d\t%d\t%d\t%d\t%o\t%s\n", path, e.key.Size, e.key.MtimeNs, e.key.CtimeNs, e.key.Ino, uint32(e.key.Mode), e.sha)
	}
	return fe.Host.WriteFile(StatCacheFile, b.Bytes(), 0o600)
}

// CacheStats says how many managed files the pass took from the stat cache,
// how many it read, and how many targets it rendered.
func (fe *FileEngine) CacheStats() (hits, reads, rendered int64) {
	return fe.cacheHits.Load(), fe.fileReads.Load(), fe.renders.Load()
}
