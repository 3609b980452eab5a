package controllers

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/sanctum-haus/reconcile/observed"
)

// RenderCacheFile remembers what the last apply rendered: for each rendered
// target (service manifests, plists) the sha256 of its bytes and whether it
// holds a secret, never the bytes themselves. It is valid only for the key
// it was written under, which covers everything a render reads: the catalog
// digest, the resolved secrets, the home and the reconcile binary. With a
// valid cache a pass renders only the targets whose file on the host does
// not already hold the cached digest; --full ignores it.
const RenderCacheFile = StateDir + "/rendercache"

const renderCacheHeader = "reconcile rendercache v1"

// CatalogCacheFile is the catalog cache (see desired.LoadCached): the
// compiled catalog of the last apply, sealed, with what it was compiled
// from. An apply writes it; every pass but --full tries it.
const CatalogCacheFile = StateDir + "/catalogcache"

type renderEntry struct {
	sha    string
	secret bool
}

// RenderCache is a loaded render cache whose key matched.
type RenderCache struct {
	key     string
	entries map[string]renderEntry
}

// RenderKey is the key a render cache is valid for.
func RenderKey(catalogDigest string, secrets []string, home, binary string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00", renderCacheHeader, catalogDigest, home, binary, len(secrets))
	for _, s := range secrets {
		sum := sha256.Sum256([]byte(s))
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ReadRenderCache reads and parses the cache before its key is known (a
// pass reads it while the catalog loads); For then keeps it only under the
// right key. A missing or damaged cache is nil: every target is rendered.
func ReadRenderCache(h observed.Host) *RenderCache {
	data, _, err := h.ReadFile(RenderCacheFile)
	if err != nil {
		return nil
	}
	head, rest, _ := bytes.Cut(data, []byte{'\n'})
	key, ok := strings.CutPrefix(string(head), renderCacheHeader+" ")
	if !ok {
		return nil
	}
	c := &RenderCache{key: key, entries: map[string]renderEntry{}}
	sc := bufio.NewScanner(bytes.NewReader(rest))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || len(f[1]) != 64 || (f[2] != "-" && f[2] != "secret") {
			return nil
		}
		c.entries[f[0]] = renderEntry{sha: f[1], secret: f[2] == "secret"}
	}
	return c
}

// For returns the cache if it was written under key, else an empty cache
// under key (which an apply fills and writes).
func (c *RenderCache) For(key string) *RenderCache {
	if c == nil || c.key != key {
		return &RenderCache{key: key, entries: map[string]renderEntry{}}
	}
	return c
}

// lookup returns what the last apply rendered for a path.
func (c *RenderCache) lookup(path string) (renderEntry, bool) {
	if c == nil {
		return renderEntry{}, false
	}
	e, ok := c.entries[path]
	return e, ok
}

// recordRender remembers a rendered target's digest (apply only).
func (fe *FileEngine) recordRender(path, sha string, secret bool) {
	if fe.Renders == nil {
		return
	}
	fe.mu.Lock()
	fe.rendered[path] = renderEntry{sha: sha, secret: secret}
	fe.mu.Unlock()
}

// saveRenderCache writes the renders of this pass under the pass's key.
func (fe *FileEngine) saveRenderCache() error {
	if fe.Renders == nil {
		return nil
	}
	paths := make([]string, 0, len(fe.rendered))
	for k := range fe.rendered {
		if !strings.ContainsAny(k, "\t\n") {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	var b bytes.Buffer
	b.Grow(len(paths) * 112)
	fmt.Fprintf(&b, "%s %s\n", renderCacheHeader, fe.Renders.key)
	for _, path := range paths {
		e := fe.rendered[path]
		flag := "-"
		if e.secret {
			flag = "secret"
		}
		b.WriteString(path)
		b.WriteByte('\t')
		b.WriteString(e.sha)
		b.WriteByte('\t')
		b.WriteString(flag)
		b.WriteByte('\n')
	}
	return fe.Host.WriteFile(RenderCacheFile, b.Bytes(), 0o600)
}
