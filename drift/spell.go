package drift

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MinSecretLine is the shortest line of a multi-line secret that is masked
// on its own: a diff or a YAML block shows such a secret one line at a time,
// but a line shorter than this ("}", "--", a blank) is ordinary text, and
// masking it everywhere would mask the output rather than the secret. Such
// short lines are shown; the lines around them are not.
const MinSecretLine = 4

// Spellings returns every form value can take in what reconcile prints or
// writes, longest first, so that a masking table built from them replaces
// a value whole: the value itself; XML as encoding/xml and howett.net/plist
// write it (&#34; &#39; &#x9; &#xA;), with named quotes (&quot; &apos;), and
// with only &<> escaped as other plist writers do; the inside of a YAML
// string as gopkg.in/yaml.v3 writes it double-quoted (\n, \t, \", \U0001F511)
// and single-quoted (a ' doubled); the inside of a JSON string with and without HTML
// escaping (\u0026, \u003c); the inside of Go's %q and %+q; URL query and
// path escaping; base64 (standard and URL, padded and raw) and hex (lower
// and upper case) of the whole value; and each of those spellings once more
// inside a JSON string or %q (a plist diff in a JSON report, a manifest line
// in an error). A multi-line value adds each line of at least MinSecretLine
// bytes, in each textual spelling.
//
// base64 and hex cover the value encoded on its own; a value encoded as part
// of a longer text shifts with its offset and is not found.
func Spellings(value string) []string {
	if value == "" {
		return nil
	}
	set := map[string]bool{}
	add := func(s string) {
		if s != "" {
			set[s] = true
		}
	}
	textual := func(v string) {
		for _, s := range textSpellings(v) {
			add(s)
			add(jsonInner(s, true))
			add(jsonInner(s, false))
			add(goInner(s))
		}
	}
	textual(value)
	b := []byte(value)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		add(enc.EncodeToString(b))
	}
	add(hex.EncodeToString(b))
	add(strings.ToUpper(hex.EncodeToString(b)))
	if strings.ContainsAny(value, "\r\n") {
		for _, line := range strings.FieldsFunc(value, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if len(line) >= MinSecretLine {
				textual(line)
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sortLongestFirst(out)
	return out
}

// textSpellings are the escapings of v that keep its text readable, each
// the same inside a longer string as on its own.
func textSpellings(v string) []string {
	var x bytes.Buffer
	_ = xml.EscapeText(&x, []byte(v))
	goXML := x.String()
	named := strings.NewReplacer("&#34;", "&quot;", "&#39;", "&apos;").Replace(goXML)
	minimal := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(v)
	return []string{
		v, goXML, named, minimal,
		strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(v),
		yamlInner(v, yaml.DoubleQuotedStyle), yamlInner(v, yaml.SingleQuotedStyle),
		jsonInner(v, true), jsonInner(v, false),
		goInner(v), strings.Trim(strconv.QuoteToASCII(v), `"`),
		url.QueryEscape(v), strings.ReplaceAll(url.QueryEscape(v), "+", "%20"), url.PathEscape(v),
	}
}

// yamlInner is v as yaml.v3 writes it in the given quoted style, without
// the quotes; "" when yaml.v3 would not write it so.
func yamlInner(v string, style yaml.Style) string {
	out, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: style})
	if err != nil {
		return ""
	}
	s := strings.TrimSuffix(string(out), "\n")
	if len(s) < 2 || s[0] != s[len(s)-1] || (s[0] != '"' && s[0] != '\'') || strings.Contains(s, "\n") {
		return "" // folded over lines: the lines are spelled on their own
	}
	return s[1 : len(s)-1]
}

// jsonInner is the inside of v as a JSON string.
func jsonInner(v string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	s := strings.TrimSuffix(b.String(), "\n")
	return s[1 : len(s)-1]
}

// goInner is the inside of v as Go's %q writes it.
func goInner(v string) string {
	s := strconv.Quote(v)
	return s[1 : len(s)-1]
}

func sortLongestFirst(vs []string) {
	sort.Slice(vs, func(i, j int) bool {
		if len(vs[i]) != len(vs[j]) {
			return len(vs[i]) > len(vs[j])
		}
		return vs[i] < vs[j]
	})
}

// AllSpellings is Spellings of every value, longest first, without
// duplicates.
func AllSpellings(values []string) []string {
	set := map[string]bool{}
	for _, v := range values {
		for _, s := range Spellings(v) {
			set[s] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sortLongestFirst(out)
	return out
}

// Secret values shorter than MinScannedSecret (a PIN, a short word) turn
// up in prose by chance, so a file that travels is searched for them only
// as whole words (IndexWord), and for none shorter than MinWordSecret.
const (
	MinScannedSecret = 8
	MinWordSecret    = 3
)

// IndexSecret returns where secret spelling s first occurs in b, or -1: a
// substring when s is at least MinScannedSecret bytes long, a whole word
// (neither side a letter, digit or underscore) when it is shorter, and
// never when it is shorter than MinWordSecret.
func IndexSecret(b, s []byte) int {
	switch {
	case len(s) < MinWordSecret:
		return -1
	case len(s) >= MinScannedSecret:
		return bytes.Index(b, s)
	}
	for off := 0; off+len(s) <= len(b); {
		k := bytes.Index(b[off:], s)
		if k < 0 {
			return -1
		}
		at := off + k
		if !wordByteBefore(b, at) && !wordByteAt(b, at+len(s)) {
			return at
		}
		off = at + 1
	}
	return -1
}

func wordByteBefore(b []byte, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRune(b[:i])
	return isWordRune(r)
}

func wordByteAt(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	r, _ := utf8.DecodeRune(b[i:])
	return isWordRune(r)
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
