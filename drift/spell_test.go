package drift

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
	"howett.net/plist"
)

// secretShapes are the shapes of secret values the masking table must
// catch in every spelling (issue 12's red-team list).
var redTeamShapes = map[string]string{
	"three characters": "k9Q",
	"spaces":           "open sesame now",
	"quotes":           `it's "quoted"`,
	"backslashes":      `back\slash\\n\t`,
	"xml specials":     `p&ss<w>rd&amp;`,
	"tab":              "tab\there",
	"multi-line":       "first-line\nsecond-line\r\nthird",
	"non-BMP unicode":  "key\U0001F511unicode",
	"regex":            `^a.b*c+(d)?[e]{2}$|\1`,
	"ordinary word":    "watchdog",
	"base64-looking":   "c2VjcmV0LXRva2VuLXZhbHVl==",
	"line separator":   "sep\u2028arated\u0085nel",
}

// encoding writes a text that holds s the way some part of reconcile (or a
// tool it reads) does, and reads it back.
type encoding struct {
	name   string
	encode func(s string) string
	decode func(s string) (string, error)
}

func encodings(t *testing.T) []encoding {
	fromJSON := func(s string) (string, error) {
		var v string
		err := json.Unmarshal([]byte(s), &v)
		return v, err
	}
	jsonWith := func(html bool) func(string) string {
		return func(s string) string {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
	}
	toPlist := func(s string) string {
		out, err := plist.MarshalIndent(map[string]string{"TOKEN": s}, plist.XMLFormat, "\t")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	fromPlist := func(s string) (string, error) {
		var v map[string]string
		_, err := plist.Unmarshal([]byte(s), &v)
		return v["TOKEN"], err
	}
	toYAML := func(s string) string {
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]any{"health": map[string]any{"command": []string{s}}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	fromYAML := func(s string) (string, error) {
		var v struct {
			Health struct{ Command []string }
		}
		if err := yaml.Unmarshal([]byte(s), &v); err != nil || len(v.Health.Command) != 1 {
			return "", fmt.Errorf("yaml: %v %v", err, v)
		}
		return v.Health.Command[0], nil
	}
	return []encoding{
		{"plain", func(s string) string { return s }, func(s string) (string, error) { return s, nil }},
		{"plist", toPlist, fromPlist},
		{"yaml.v3", toYAML, fromYAML},
		{"json", jsonWith(true), fromJSON},
		{"json no HTML escaping", jsonWith(false), fromJSON},
		{"%q", func(s string) string { return fmt.Sprintf("%q", s) }, strconv.Unquote},
		{"%+q", func(s string) string { return fmt.Sprintf("%+q", s) }, strconv.Unquote},
		{"url query", url.QueryEscape, url.QueryUnescape},
		{"url path", url.PathEscape, url.PathUnescape},
		{"plist in a JSON report", func(s string) string { return jsonWith(true)(toPlist(s)) },
			func(s string) (string, error) {
				p, err := fromJSON(s)
				if err != nil {
					return "", err
				}
				return fromPlist(p)
			}},
		{"yaml in %q", func(s string) string { return strconv.Quote(toYAML(s)) },
			func(s string) (string, error) {
				y, err := strconv.Unquote(s)
				if err != nil {
					return "", err
				}
				return fromYAML(y)
			}},
		{"xml with named quotes", func(s string) string {
			return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
		}, func(s string) (string, error) {
			return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'").Replace(s), nil
		}},
	}
}

// leaks lists what of value (the whole, or a line of at least
// MinSecretLine bytes) is still in text.
func leaks(text, value string) []string {
	var found []string
	if strings.Contains(text, value) {
		found = append(found, value)
	}
	for _, line := range strings.FieldsFunc(value, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if line != value && len(line) >= MinSecretLine && strings.Contains(text, line) {
			found = append(found, line)
		}
	}
	return found
}

// TestSpellingsMasked writes each shape inside a longer text through each
// encoding reconcile's output can take, masks the result, and reads it
// back: what is read holds the text around the secret and nothing of the
// secret. The decoding is independent of the table, so a spelling the
// table lacks shows as a leak, and a spelling masked in part as a text that
// no longer decodes.
func TestSpellingsMasked(t *testing.T) {
	for shape, value := range redTeamShapes {
		r := NewRedactor([]string{value})
		for _, e := range encodings(t) {
			t.Run(shape+"/"+e.name, func(t *testing.T) {
				in := "Bearer " + value + " --url http://x/?q=1"
				got, err := e.decode(r.String(e.encode(in)))
				if err != nil {
					t.Fatalf("masked %s does not decode: %v", e.name, err)
				}
				if diff := cmp.Diff([]string(nil), leaks(got, value)); diff != "" {
					t.Errorf("secret left in %q (-want +got):\n%s", got, diff)
				}
				if !strings.HasPrefix(got, "Bearer ") || !strings.HasSuffix(got, " --url http://x/?q=1") {
					t.Errorf("masking ate the text around the secret: %q", got)
				}
			})
		}
		t.Run(shape+"/binary", func(t *testing.T) {
			b := []byte(value)
			var got []string
			for _, enc := range []string{
				base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
				base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
				hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
			} {
				got = append(got, r.String("x "+enc+" y"))
			}
			want := []string{"x *** y", "x *** y", "x *** y", "x *** y", "x *** y", "x *** y"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("base64 and hex (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactorSpellings(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"plist escaping", []string{`p&ss"w<rd>'`},
			"<string>p&amp;ss&#34;w&lt;rd&gt;&#39;</string>", "<string>***</string>"},
		{"named entities", []string{`p&ss"w<rd>'`},
			"<string>p&amp;ss&quot;w&lt;rd&gt;&apos;</string>", "<string>***</string>"},
		{"yaml double-quoted non-BMP", []string{"key\U0001F511x"},
			`command: "curl -H 'X-Token: key\U0001F511x'"`, `command: "curl -H 'X-Token: ***'"`},
		{"yaml single-quoted", []string{"it's"},
			`url: 'http://h/?t=it''s'`, `url: 'http://h/?t=***'`},
		{"json with HTML escaping", []string{"a<b>&c"},
			`{"reason":"want a\u003cb\u003e\u0026c"}`, `{"reason":"want ***"}`},
		{"go %q", []string{"two\nlines"},
			`probe "echo two\nlines" failed`, `probe "echo ***" failed`},
		{"url query", []string{"a b&c"}, "GET /x?t=a+b%26c and /p/a%20b&c", "GET /x?t=*** and /p/***"},
		{"lines of a multi-line secret", []string{"BEGIN-KEY\nabc\nEND-KEY"},
			"-  BEGIN-KEY\n-  abc\n-  END-KEY\n", "-  ***\n-  abc\n-  ***\n"},
		{"longest spelling first", []string{"tok", "tok-long"}, "tok-long tok", "*** ***"},
		{"hex and base64", []string{"hunter2"}, "aHVudGVyMg== 68756e74657232", "*** ***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NewRedactor(tt.values).String(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactorJSON(t *testing.T) {
	r := NewRedactor([]string{"watchdog", `s3"cr<t`})
	in := `{
  "runId": "r1",
  "inventory": [
    {"kind": "Service", "name": "watchdog", "path": ".sanctum/services/watchdog.yaml", "sha256": "ab"}
  ],
  "agents": {"watchdog": {"plistPath": "Library/LaunchAgents/com.sanctum.watchdog.plist"}},
  "objects": [
    {"kind": "Service", "name": "watchdog", "reason": "points to /opt/s3\"cr\u003ct/bin, want /opt/x", "error": "watchdog failed"}
  ]
}
{"runId":"r2","reason":"plain"}
`
	want := `{
  "runId": "r1",
  "inventory": [
    {"kind": "Service", "name": "watchdog", "path": ".sanctum/services/watchdog.yaml", "sha256": "ab"}
  ],
  "agents": {"watchdog": {"plistPath": "Library/LaunchAgents/com.sanctum.watchdog.plist"}},
  "objects": [
    {"kind": "Service", "name": "watchdog", "reason": "points to /opt/***/bin, want /opt/x", "error": "*** failed"}
  ]
}
{"runId":"r2","reason":"plain"}
`
	if diff := cmp.Diff(want, string(r.JSON([]byte(in)))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var nilR *Redactor
	if diff := cmp.Diff(in, string(nilR.JSON([]byte(in)))); diff != "" {
		t.Errorf("nil Redactor (-want +got):\n%s", diff)
	}
}

// A long spelling is found anywhere; a short one only as a whole word; one
// shorter than MinWordSecret never.
func TestIndexSecret(t *testing.T) {
	for _, tt := range []struct {
		text, secret string
		want         int
	}{
		{"token: sk-0123456789 here", "sk-0123456789", 7},
		{"inside:xsk-0123456789x", "sk-0123456789", 8},
		{"the PIN is 7788.", "7788", 11},
		{"call 17788 now", "7788", -1},
		{"a k9Q_x and then k9Q", "k9Q", 17},
		{"Gatewayed, then (Gateway)", "Gateway", 17},
		{"über-Pin77-é", "Pin77", 6}, // bytes: ü is two
		{"éPin77", "Pin77", -1},
		{"ab ab", "ab", -1},
	} {
		if got := IndexSecret([]byte(tt.text), []byte(tt.secret)); got != tt.want {
			t.Errorf("IndexSecret(%q, %q) = %d, want %d", tt.text, tt.secret, got, tt.want)
		}
	}
}
