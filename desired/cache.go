package desired

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/fxamacker/cbor/v2"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// The catalog cache keeps a compiled catalog, so that a pass over an
// unchanged catalog skips reading YAML, templating and validating it, as a
// build tool keeps what it compiled. It is valid only while every input of
// the load is what it was: each catalog file read (by its sha256, or its
// absence), each directory listed, every secret the templates resolved,
// the home, the catalog's name and the reconcile binary. Secret values are
// never kept in the clear: the compiled catalog holds them (a templated
// token), so it is sealed with AES-GCM under a key derived from those same
// values, which a pass resolves anyway; with a secret changed it no longer
// opens and the catalog is loaded afresh.

// CatalogCacheHeader starts a catalog cache file.
const CatalogCacheHeader = "reconcile catalogcache v1\n"

// inputs is what a load read.
type inputs struct {
	Files map[string]string // path -> sha256 hex, or "absent"
	Dirs  map[string]string // path -> sha256 of the listing
}

func newInputs() *inputs { return &inputs{Files: map[string]string{}, Dirs: map[string]string{}} }

const absent = "absent"

func (in *inputs) file(name string, data []byte, err error) {
	switch {
	case err == nil:
		sum := sha256.Sum256(data)
		in.Files[name] = hex.EncodeToString(sum[:])
	case errors.Is(err, fs.ErrNotExist):
		in.Files[name] = absent
	default:
		in.Files[name] = "error: " + err.Error() // never matches a later read
	}
}

func listingDigest(entries []fs.DirEntry) string {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), e.Type())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (in *inputs) dir(name string, entries []fs.DirEntry) { in.Dirs[name] = listingDigest(entries) }

// same reports whether the catalog still holds exactly what a load read.
func (in *inputs) same(fsys fs.FS) bool {
	for name, want := range in.Dirs {
		entries, err := fs.ReadDir(fsys, name)
		if err != nil || listingDigest(entries) != want {
			return false
		}
	}
	names := make([]string, 0, len(in.Files))
	for name := range in.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, path.Clean(name))
		got := newInputs()
		got.file(name, data, err)
		if got.Files[name] != in.Files[name] {
			return false
		}
	}
	return true
}

// cacheKey is what a cache is valid for, besides its inputs.
type cacheKey struct {
	Binary  string // the reconcile build (the caller's identity of it)
	Name    string // how errors name the catalog
	Home    string // whose secrets
	Mode    SecretMode
	Account string   // the keychain account secrets came from
	Secrets []string // names, in the order the load resolved them
}

// cacheFile is the file after its header line.
type cacheFile struct {
	Key    cacheKey
	Inputs *inputs
	Nonce  []byte
	Sealed []byte // AES-GCM of the CBOR of the Catalog
}

// sealKey derives the AES-256 key from the secret values.
func sealKey(key cacheKey, values []string) ([]byte, error) {
	var ikm bytes.Buffer
	for _, v := range values {
		_ = binary.Write(&ikm, binary.BigEndian, uint32(len(v)))
		ikm.WriteString(v)
	}
	return hkdf.Key(sha256.New, ikm.Bytes(), []byte(CatalogCacheHeader), key.Binary+"\x00"+key.Home+"\x00"+key.Name, 32)
}

func aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// EncodeCache seals a freshly loaded catalog for the catalog cache. A
// catalog that came from the cache, or that carries a source it could not
// read, is not cached.
func EncodeCache(cat *Catalog, opts Options, binaryID string) ([]byte, error) {
	if cat.inputs == nil || cat.FromCache {
		return nil, errors.New("not a fresh load")
	}
	for _, s := range cat.Services {
		for _, h := range s.Spec.Helpers {
			if h.Loaded != nil && h.Loaded.Err != nil {
				return nil, fmt.Errorf("service %s: helper source unreadable", s.Name)
			}
		}
	}
	for _, pf := range cat.Personas {
		for _, src := range pf.Spec.Loaded {
			if src.Err != nil {
				return nil, fmt.Errorf("persona %s: source unreadable", pf.Name)
			}
		}
	}
	key := cacheKey{Binary: binaryID, Name: cat.Name, Home: opts.Home, Mode: opts.Secrets, Account: cat.account, Secrets: cat.secretNames}
	plain, err := encodeCatalog(cat)
	if err != nil {
		return nil, err
	}
	k, err := sealKey(key, cat.SecretValues)
	if err != nil {
		return nil, err
	}
	g, err := aead(k)
	if err != nil {
		return nil, err
	}
	f := cacheFile{Key: key, Inputs: cat.inputs, Nonce: make([]byte, g.NonceSize())}
	if _, err := rand.Read(f.Nonce); err != nil {
		return nil, err
	}
	f.Sealed = g.Seal(nil, f.Nonce, plain, []byte(CatalogCacheHeader))
	body, err := cbor.Marshal(&f)
	if err != nil {
		return nil, err
	}
	return append([]byte(CatalogCacheHeader), body...), nil
}

// LoadCached is Load through the catalog cache: when data is a cache whose
// key and inputs still hold, the catalog comes from it (FromCache set);
// otherwise, a cache that is missing, stale, damaged or sealed under other
// secrets alike, the catalog is loaded afresh.
func LoadCached(ctx context.Context, opts Options, data []byte, binaryID string) (*Catalog, error) {
	if cat := fromCache(ctx, opts, data, binaryID); cat != nil {
		return cat, nil
	}
	return Load(ctx, opts)
}

func fromCache(ctx context.Context, opts Options, data []byte, binaryID string) *Catalog {
	if opts.Name == "" {
		opts.Name = "."
	}
	body, ok := bytes.CutPrefix(data, []byte(CatalogCacheHeader))
	if !ok {
		return nil
	}
	var f cacheFile
	if err := cbor.Unmarshal(body, &f); err != nil || f.Inputs == nil {
		return nil
	}
	k := f.Key
	if k.Binary != binaryID || k.Name != opts.Name || k.Home != opts.Home || k.Mode != opts.Secrets || !f.Inputs.same(opts.FS) {
		return nil
	}
	r := &secretResolver{ctx: ctx, mode: opts.Secrets, home: opts.Home, account: k.Account,
		keychain: opts.Secrets == ResolveSecrets && keychainAvailable()}
	for _, name := range k.Secrets {
		if _, err := r.lookup(name); err != nil {
			return nil
		}
	}
	sk, err := sealKey(k, r.values)
	if err != nil {
		return nil
	}
	g, err := aead(sk)
	if err != nil || len(f.Nonce) != g.NonceSize() {
		return nil
	}
	plain, err := g.Open(f.Sealed[:0], f.Nonce, f.Sealed, []byte(CatalogCacheHeader)) // in place
	if err != nil {
		return nil // another secret: sealed under another key
	}
	cat, err := decodeCatalog(plain)
	if err != nil {
		return nil
	}
	cat.FS, cat.SecretValues, cat.FromCache = opts.FS, r.values, true
	cat.inputs, cat.secretNames, cat.account = f.Inputs, k.Secrets, k.Account
	return cat
}

// sealedCatalog is what the seal holds: the catalog without its long
// lists, and those lists in chunks that decode on every core.
type sealedCatalog struct {
	Catalog  *Catalog
	Services [][]byte // CBOR of []*v1.Service, chunk by chunk
	Agents   [][]byte
	Personas [][]byte
}

// trusted decodes what the seal opened: authenticated bytes this program
// wrote, so their strings need no second UTF-8 check.
var trusted = func() cbor.DecMode {
	m, err := cbor.DecOptions{UTF8: cbor.UTF8DecodeInvalid}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// cacheChunk is how many objects one chunk holds.
const cacheChunk = 256

func chunked[T any](objs []T) ([][]byte, error) {
	var out [][]byte
	for lo := 0; lo < len(objs); lo += cacheChunk {
		b, err := cbor.Marshal(objs[lo:min(lo+cacheChunk, len(objs))])
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func encodeCatalog(cat *Catalog) ([]byte, error) {
	base := *cat
	base.Services, base.Agents, base.Personas = nil, nil, nil
	s := sealedCatalog{Catalog: &base}
	var err error
	if s.Services, err = chunked(cat.Services); err != nil {
		return nil, err
	}
	if s.Agents, err = chunked(cat.Agents); err != nil {
		return nil, err
	}
	if s.Personas, err = chunked(cat.Personas); err != nil {
		return nil, err
	}
	return cbor.Marshal(&s)
}

func decodeCatalog(plain []byte) (*Catalog, error) {
	var s sealedCatalog
	if err := trusted.Unmarshal(plain, &s); err != nil {
		return nil, err
	}
	if s.Catalog == nil {
		return nil, errors.New("no catalog")
	}
	services := make([][]*v1.Service, len(s.Services))
	agents := make([][]*v1.LaunchAgent, len(s.Agents))
	personas := make([][]*v1.PersonaFile, len(s.Personas))
	var jobs []func() error
	for i, b := range s.Services {
		jobs = append(jobs, func() error { return trusted.Unmarshal(b, &services[i]) })
	}
	for i, b := range s.Agents {
		jobs = append(jobs, func() error { return trusted.Unmarshal(b, &agents[i]) })
	}
	for i, b := range s.Personas {
		jobs = append(jobs, func() error { return trusted.Unmarshal(b, &personas[i]) })
	}
	if err := runDecodeJobs(jobs); err != nil {
		return nil, err
	}
	cat := s.Catalog
	cat.Services, cat.Agents, cat.Personas = slices.Concat(services...), slices.Concat(agents...), slices.Concat(personas...)
	return cat, nil
}

// runDecodeJobs runs the chunks' decodes on every core. A panic of the
// decoder on a worker goroutine would end the process past the CLI's
// recover; it becomes that chunk's error instead, and the catalog is
// loaded afresh as from any damaged cache.
func runDecodeJobs(jobs []func() error) error {
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = decodeJob(i, jobs[i])
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

func decodeJob(i int, job func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("catalog cache: chunk %d: the decoder failed (panic: %v)", i, r)
		}
	}()
	return job()
}
