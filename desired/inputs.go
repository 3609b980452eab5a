package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/sanctum-haus/reconcile/observed"
)

// Input is one thing a load read: a catalog file (by its sha256, or its
// absence) or a listed directory (by the digest of its listing), with the
// stat data it had before it was read. A file whose stat data is unchanged
// since, and was not changed racily close to when they were kept, still
// holds what was read; otherwise its digest says.
type Input struct {
	Name   string
	Dir    bool
	Digest string // sha256 hex of the content or listing; Absent when missing
	Key    observed.StatKey
	HasKey bool
}

// Absent is the digest of an input that was not there.
const Absent = "absent"

// inputs is what a load read, in the order it read it.
type inputs struct {
	list []Input
	seen map[string]bool
}

func newInputs() *inputs { return &inputs{seen: map[string]bool{}} }

// statBefore takes a file's stat data before it is read: if the file
// changes after this, its stat changes too, so a key never vouches for
// bytes it did not see.
func statBefore(fsys fs.FS, name string) (observed.StatKey, bool) {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return observed.StatKey{}, false
	}
	return observed.KeyOf(info)
}

func (in *inputs) add(i Input) {
	key := i.Name
	if i.Dir {
		key += "/"
	}
	if in.seen[key] {
		return
	}
	in.seen[key] = true
	in.list = append(in.list, i)
}

func fileDigest(data []byte, err error) string {
	switch {
	case err == nil:
		sum := sha256.Sum256(data)
		return hex.EncodeToString(sum[:])
	case errors.Is(err, fs.ErrNotExist):
		return Absent
	}
	return "error: " + err.Error() // never matches a later read
}

func listingDigest(entries []fs.DirEntry) string {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), e.Type())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (in *inputs) file(name string, key observed.StatKey, hasKey bool, data []byte, err error) {
	in.add(Input{Name: name, Digest: fileDigest(data, err), Key: key, HasKey: hasKey && err == nil})
}

func (in *inputs) dir(name string, key observed.StatKey, hasKey bool, entries []fs.DirEntry) {
	in.add(Input{Name: name, Dir: true, Digest: listingDigest(entries), Key: key, HasKey: hasKey})
}

// Inputs is every catalog file and directory the load read, sorted by
// name; nil for a catalog that did not come from Load.
func (c *Catalog) Inputs() []Input {
	if c.inputs == nil {
		return nil
	}
	out := append([]Input(nil), c.inputs.list...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name || out[i].Name == out[j].Name && !out[i].Dir })
	return out
}

// SecretInput is a secret the load resolved: the file it came from under
// HOME with the stat data it had before it was read, or FromKeychain.
type SecretInput struct {
	Name         string // HOME-relative: .sanctum/secrets/<name>
	Key          observed.StatKey
	HasKey       bool
	FromKeychain bool
}

// SecretInputs lists where every resolved secret came from, in the order
// the load resolved them (the order of SecretValues).
func (c *Catalog) SecretInputs() []SecretInput { return append([]SecretInput(nil), c.secretInputs...) }

// Unchanged reports whether a catalog still holds exactly what a load
// read: an input whose stat data is the kept one and that trust accepts
// (taken long enough after it last changed) is taken as unchanged; any
// other is read again and compared by digest.
func Unchanged(fsys fs.FS, in []Input, trust func(observed.StatKey) bool) bool {
	for _, i := range in {
		name := path.Clean(i.Name)
		if i.HasKey {
			if key, ok := statBefore(fsys, name); ok && key == i.Key && trust(key) {
				continue
			}
		}
		var got string
		if i.Dir {
			entries, err := fs.ReadDir(fsys, name)
			if err != nil {
				return false
			}
			got = listingDigest(entries)
		} else {
			data, err := fs.ReadFile(fsys, name)
			got = fileDigest(data, err)
		}
		if got != i.Digest {
			return false
		}
	}
	return true
}

// SecretsUnchanged reports whether every secret file still holds what a
// load resolved: by stat data (kept, and accepted by trust), else by the
// digest of every value, which the caller kept (SecretsDigest).
func SecretsUnchanged(home string, in []SecretInput, digest string, trust func(observed.StatKey) bool) bool {
	stale := false
	for _, s := range in {
		if s.FromKeychain || !s.HasKey {
			return false // the keychain is asked anew by a load
		}
		info, err := os.Stat(home + "/" + s.Name)
		if err != nil {
			return false
		}
		key, ok := observed.KeyOf(info)
		if !ok || key != s.Key || !trust(key) {
			stale = true
		}
	}
	if !stale {
		return true
	}
	values := make([]string, 0, len(in))
	for _, s := range in {
		v, err := readSecretFile(home+"/"+s.Name, 0)
		if err != nil {
			return false
		}
		values = append(values, v)
	}
	return SecretsDigest(values) == digest
}

// SecretsDigest is one digest of every resolved value, in order: what an
// index keeps to know the secrets unchanged without keeping any of them.
func SecretsDigest(values []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "reconcile secrets v1\x00%d\x00", len(values))
	for _, v := range values {
		sum := sha256.Sum256([]byte(v))
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
