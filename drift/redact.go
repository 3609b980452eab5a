package drift

import (
	"strings"
)

// Mask replaces a secret value wherever it would be shown.
const Mask = "***"

// Redactor replaces every known secret value, in every spelling of it that
// can occur in output (see Spellings), with Mask: the one masking table of
// reports, status, errors, history, ledgers and logs.
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor masks the given values in all their spellings; longer
// spellings are replaced first so that a secret containing another is
// masked whole.
func NewRedactor(values []string) *Redactor {
	vs := AllSpellings(values)
	if len(vs) == 0 {
		return &Redactor{}
	}
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		pairs = append(pairs, v, Mask)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String masks s.
func (r *Redactor) String(s string) string {
	if r == nil || r.r == nil || s == "" {
		return s
	}
	return r.r.Replace(s)
}

// ChangeSet masks every text field of every entry in place.
func (r *Redactor) ChangeSet(cs *ChangeSet) {
	for i := range cs.Changes {
		c := &cs.Changes[i]
		c.Reason = r.String(c.Reason)
		c.Diff = r.String(c.Diff)
		c.Error = r.String(c.Error)
	}
}

// Bytes masks b.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || r.r == nil || len(b) == 0 {
		return b
	}
	return []byte(r.r.Replace(string(b)))
}
