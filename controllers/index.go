package controllers

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// IndexFile is the index, as git keeps one: what the last apply left, so
// that a later pass knows without reading them which targets still hold
// what it wrote. For every managed target: its path, kind and name, the
// stat data of the bytes reconcile wrote or found right (size, mtime,
// ctime, inode, mode) and their sha256, and whether they hold a secret;
// keyed by everything the targets' bytes are a function of (the catalog
// files with their own stat data, the secrets' digest, the home and the
// binary) and by everything else the pass looked at. Compact binary with
// a version and a checksum, 0600, never a secret byte. A damaged, foreign
// or stale index is no index (a full pass), never a wrong answer.
const IndexFile = StateDir + "/index"

const (
	indexMagic   = "reconcile index\x00"
	indexVersion = 2
)

// racyGrain is how long after a stat a change of the same file may still
// leave its stat data as it was: file systems stamp times from a coarse
// clock (a jiffy, at most 10 ms on Linux). Stat data taken less than this
// after the file's own times vouches for nothing. A file system with whole
// seconds (no sub-second part in any time) gets racyGrainCoarse.
const (
	racyGrain       = 20 * time.Millisecond
	racyGrainCoarse = 2 * time.Second
)

// trusted reports whether stat data taken at `at` vouches for the file's
// content: its times are older than at by more than the clock's grain.
func trusted(key observed.StatKey, at time.Time) bool {
	grain := racyGrain
	if key.MtimeNs%1e9 == 0 && key.CtimeNs%1e9 == 0 {
		grain = racyGrainCoarse
	}
	limit := at.Add(-grain).UnixNano()
	return key.MtimeNs < limit && key.CtimeNs < limit
}

// IndexEntry is one managed target in the index.
type IndexEntry struct {
	Path, Kind, Name string
	SHA256           string // hex, of the bytes (a symlink: linkDigest)
	Key              observed.StatKey
	// HasKey: Key is the stat of exactly the bytes of SHA256; Trusted: it
	// was taken long enough after the file last changed to vouch for them.
	HasKey, Trusted bool
	Secret          bool        // the bytes hold a secret: the file is 0600
	Perm            fs.FileMode // the declared mode, if any
	Link            bool        // a symlink, not a file
	Rendered        bool        // produced by a render (not a copy)
	// Canon, for a file left as it is because it says what the render
	// says in other bytes (a plist in another layout), is the render's
	// digest; "" when the file holds the render.
	Canon string
}

// IndexLine is one entry of the report a check of the converged host
// gives: a target's (Entry, 1-based) or another change as it was.
type IndexLine struct {
	Entry  int
	Change drift.Change
}

// Index is a loaded index.
type Index struct {
	Written time.Time
	// Key names what the targets' bytes are a function of, besides the
	// catalog and the secrets: the binary, the home, the flags of the pass.
	Key           string
	CatalogDigest string
	// LoadedAt is when the catalog load began: its inputs' stat data was
	// taken then. SeenAt is when Seen was taken.
	LoadedAt, SeenAt time.Time
	Catalog          []desired.Input
	Secrets          []desired.SecretInput
	SecretsDigest    string
	// Seen is everything else the pass looked at, as it was at its end.
	Seen    []observed.Seen
	Entries []IndexEntry
	// Replay says why the converged report cannot be replayed, or "" when
	// Report is it (see Fast).
	Replay string
	Report []IndexLine
	Nodes  []byte // the node records of the report, JSON
	// CatalogNodes names the catalog's nodes (the report's header).
	CatalogNodes []string

	byPath map[string]int
}

// Lookup returns a target's entry.
func (x *Index) Lookup(path string) (IndexEntry, bool) {
	if x == nil {
		return IndexEntry{}, false
	}
	i, ok := x.byPath[path]
	if !ok {
		return IndexEntry{}, false
	}
	return x.Entries[i], true
}

func (x *Index) build() {
	x.byPath = make(map[string]int, len(x.Entries))
	for i, e := range x.Entries {
		x.byPath[e.Path] = i
	}
}

// --- encoding ---

type enc struct{ b []byte }

func (e *enc) u(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) s(v string)  { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bs(v []byte) { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *enc) key(k observed.StatKey) {
	e.i(k.Size)
	e.i(k.MtimeNs)
	e.i(k.CtimeNs)
	e.u(k.Ino)
	e.u(uint64(k.Mode))
}

type dec struct {
	b   []byte
	err error
}

var errIndexDamaged = errors.New("damaged")

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errIndexDamaged
		return 0
	}
	d.b = d.b[n:]
	return v
}

// i reads what binary.PutVarint wrote: a zig-zag encoded uvarint.
func (d *dec) i() int64 {
	u := d.u()
	return int64(u>>1) ^ -int64(u&1)
}
func (d *dec) raw(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errIndexDamaged
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) s() string  { return string(d.raw(d.u())) }
func (d *dec) bs() []byte { return bytes.Clone(d.raw(d.u())) }
func (d *dec) count() int {
	n := d.u()
	if n > uint64(len(d.b)) { // every item takes at least a byte
		d.err = errIndexDamaged
		return 0
	}
	return int(n)
}
func (d *dec) key() observed.StatKey {
	return observed.StatKey{Size: d.i(), MtimeNs: d.i(), CtimeNs: d.i(), Ino: d.u(), Mode: fs.FileMode(d.u())}
}
func (d *dec) bool() bool {
	v := d.raw(1)
	return v != nil && v[0] == 1
}

const (
	entrySecret = 1 << iota
	entryLink
	entryRendered
	entryHasKey
	entryTrusted
	entryCanon
)

// Marshal encodes the index: magic, version, the body, and the sha256 of
// everything before it.
func (x *Index) Marshal() []byte {
	e := &enc{b: make([]byte, 0, 64+len(x.Entries)*160)}
	e.b = append(e.b, indexMagic...)
	e.u(indexVersion)
	e.i(x.Written.UnixNano())
	e.s(x.Key)
	e.s(x.CatalogDigest)
	e.i(x.LoadedAt.UnixNano())
	e.i(x.SeenAt.UnixNano())
	e.u(uint64(len(x.Catalog)))
	for _, in := range x.Catalog {
		e.s(in.Name)
		e.flag(in.Dir)
		e.s(in.Digest)
		e.flag(in.HasKey)
		e.key(in.Key)
	}
	e.s(x.SecretsDigest)
	e.u(uint64(len(x.Secrets)))
	for _, s := range x.Secrets {
		e.s(s.Name)
		e.flag(s.FromKeychain)
		e.flag(s.HasKey)
		e.key(s.Key)
	}
	e.u(uint64(len(x.Seen)))
	for _, s := range x.Seen {
		e.u(uint64(s.Look))
		e.s(s.Name)
		e.s(s.Digest)
		e.flag(s.HasKey)
		e.key(s.Key)
		e.u(uint64(len(s.Names)))
		for _, n := range s.Names {
			e.s(n)
		}
	}
	e.u(uint64(len(x.Entries)))
	for _, en := range x.Entries {
		e.s(en.Path)
		e.s(en.Kind)
		e.s(en.Name)
		var f uint64
		for bit, on := range map[uint64]bool{entrySecret: en.Secret, entryLink: en.Link, entryRendered: en.Rendered, entryHasKey: en.HasKey, entryTrusted: en.Trusted, entryCanon: en.Canon != ""} {
			if on {
				f |= bit
			}
		}
		e.u(f)
		e.u(uint64(en.Perm))
		if en.HasKey {
			e.key(en.Key)
		}
		for i, h := range []string{en.SHA256, en.Canon} {
			if i == 1 && h == "" {
				break
			}
			sum, _ := hex.DecodeString(h)
			if len(sum) != sha256.Size {
				sum = make([]byte, sha256.Size)
			}
			e.b = append(e.b, sum...)
		}
	}
	e.s(x.Replay)
	e.u(uint64(len(x.Report)))
	for _, l := range x.Report {
		e.u(uint64(l.Entry))
		if l.Entry == 0 {
			c := l.Change
			for _, s := range []string{c.Kind, c.Name, string(c.Action), c.Path, c.Node, c.Target, c.Reason} {
				e.s(s)
			}
		}
	}
	e.bs(x.Nodes)
	e.u(uint64(len(x.CatalogNodes)))
	for _, n := range x.CatalogNodes {
		e.s(n)
	}
	sum := sha256.Sum256(e.b)
	return append(e.b, sum[:]...)
}

// UnmarshalIndex decodes an index; any damage, a foreign file or another
// version is an error (and the caller runs a full pass).
func UnmarshalIndex(data []byte) (*Index, error) {
	if len(data) < len(indexMagic)+sha256.Size || string(data[:len(indexMagic)]) != indexMagic {
		return nil, errors.New("not an index")
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("checksum mismatch")
	}
	d := &dec{b: body[len(indexMagic):]}
	if v := d.u(); v != indexVersion {
		return nil, fmt.Errorf("version %d, want %d", v, indexVersion)
	}
	x := &Index{}
	x.Written = time.Unix(0, d.i())
	x.Key = d.s()
	x.CatalogDigest = d.s()
	x.LoadedAt = time.Unix(0, d.i())
	x.SeenAt = time.Unix(0, d.i())
	x.Catalog = make([]desired.Input, d.count())
	for i := range x.Catalog {
		x.Catalog[i] = desired.Input{Name: d.s(), Dir: d.bool(), Digest: d.s(), HasKey: d.bool(), Key: d.key()}
	}
	x.SecretsDigest = d.s()
	x.Secrets = make([]desired.SecretInput, d.count())
	for i := range x.Secrets {
		x.Secrets[i] = desired.SecretInput{Name: d.s(), FromKeychain: d.bool(), HasKey: d.bool(), Key: d.key()}
	}
	x.Seen = make([]observed.Seen, d.count())
	for i := range x.Seen {
		s := observed.Seen{Look: observed.Look(d.u()), Name: d.s(), Digest: d.s(), HasKey: d.bool(), Key: d.key()}
		if n := d.count(); n > 0 {
			s.Names = make([]string, n)
			for j := range s.Names {
				s.Names[j] = d.s()
			}
		}
		x.Seen[i] = s
	}
	x.Entries = make([]IndexEntry, d.count())
	for i := range x.Entries {
		en := IndexEntry{Path: d.s(), Kind: d.s(), Name: d.s()}
		f := d.u()
		en.Secret, en.Link, en.Rendered = f&entrySecret != 0, f&entryLink != 0, f&entryRendered != 0
		en.HasKey, en.Trusted = f&entryHasKey != 0, f&entryTrusted != 0
		en.Perm = fs.FileMode(d.u())
		if en.HasKey {
			en.Key = d.key()
		}
		en.SHA256 = hex.EncodeToString(d.raw(sha256.Size))
		if f&entryCanon != 0 {
			en.Canon = hex.EncodeToString(d.raw(sha256.Size))
		}
		x.Entries[i] = en
	}
	x.Replay = d.s()
	x.Report = make([]IndexLine, d.count())
	for i := range x.Report {
		l := IndexLine{Entry: int(d.u())}
		if l.Entry > len(x.Entries) {
			d.err = errIndexDamaged
		}
		if l.Entry == 0 {
			l.Change = drift.Change{Kind: d.s(), Name: d.s(), Action: drift.Action(d.s()), Path: d.s(), Node: d.s(), Target: d.s(), Reason: d.s()}
		}
		x.Report[i] = l
	}
	x.Nodes = d.bs()
	x.CatalogNodes = make([]string, d.count())
	for i := range x.CatalogNodes {
		x.CatalogNodes[i] = d.s()
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errIndexDamaged
	}
	x.build()
	return x, nil
}

// ReadIndex reads the index of a home; nil (and why) when there is none
// that can be used.
func ReadIndex(h observed.Host) (*Index, error) {
	data, _, err := h.ReadFile(IndexFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no index")
		}
		return nil, err
	}
	return UnmarshalIndex(data)
}
