package drift

import (
	"sort"
	"strings"
)

// Mask replaces a secret value wherever it would be shown.
const Mask = "***"

// Redactor replaces every known secret value with Mask.
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor masks the given values; longer values are replaced first so
// that a secret containing another is masked whole.
func NewRedactor(values []string) *Redactor {
	vs := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return &Redactor{}
	}
	sort.Slice(vs, func(i, j int) bool { return len(vs[i]) > len(vs[j]) })
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
