package testscripts

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"gopkg.in/yaml.v3"
	"howett.net/plist"
)

// redTeamShapes are the secret shapes of issue 12's red team, by secret
// name: each is used in a launch agent's environment, an http probe's
// header, a command probe and a probe URL of its own service.
var redTeamShapes = []struct{ name, value string }{
	{"rt-short", "k9Q"},
	{"rt-spaces", "open sesame now"},
	{"rt-quotes", `it's "quoted"`},
	{"rt-backslash", `back\slash\\n\t`},
	{"rt-xml", `p&ss<w>rd&amp;`},
	{"rt-tab", "tab\there"},
	{"rt-multiline", "first-line\nsecond-line\nthird"},
	{"rt-nonbmp", "key\U0001F511unicode"},
	{"rt-regex", `^a.b*c+(d)?[e]{2}$|\1`},
	{"rt-word", "Gateway"}, // also in displayName "OpenClaw Gateway" of the shipped catalog
	{"rt-base64", "c2VjcmV0LXRva2VuLXZhbHVl=="},
	{"rt-several", "alpha-one two"},
}

// TestSecretsRedTeam runs redteam/*.txtar: the shipped catalog plus one
// service per secret shape, through every command, with every output and
// every file under HOME scanned for every spelling of every value.
func TestSecretsRedTeam(t *testing.T) {
	p := params(t, "redteam")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(env.WorkDir, "redteam.yaml"), []byte(redTeamCatalog()), 0o644)
	}
	p.Cmds = maps.Clone(p.Cmds)
	p.Cmds["putsecrets"] = cmdPutSecrets
	p.Cmds["secretscan"] = cmdSecretScan
	testscript.Run(t, p)
}

// redTeamCatalog is one service per shape.
func redTeamCatalog() string {
	var b strings.Builder
	for i, s := range redTeamShapes {
		ref := fmt.Sprintf(`{{ secret %q }}`, s.name)
		cmd := fmt.Sprintf(`/usr/bin/false --token %s`, ref)
		if s.name == "rt-several" { // several secrets in one probe command
			cmd = fmt.Sprintf(`/usr/bin/false --a %s --b {{ secret "rt-quotes" }} --c {{ secret "rt-tab" }}`, ref)
		}
		fmt.Fprintf(&b, `---
apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: %[1]s
spec:
  displayName: Red team %[1]s
  host: mac
  port: %[2]d
  launchAgent:
    programArguments: ["/opt/redteam/bin/%[1]s"]
    environment: {RT_TOKEN: '%[3]s'}
    runAtLoad: true
    keepAlive: true
  health:
    readiness: {type: http, url: 'http://127.0.0.1:%[2]d/health?token={{ secret %[4]q | urlquery }}', headers: {X-Token: '%[3]s'}, timeout: 1}
    liveness: {type: command, command: '%[5]s', timeout: 1}
`, s.name, 47100+i, ref, s.name, cmd)
	}
	return b.String()
}

// cmdPutSecrets writes every shape's secret under $HOME/.sanctum/secrets;
// with -rotate it first keeps the current values under $WORK/rotated (the
// scan still looks for them) and writes new ones.
//
//	putsecrets [-rotate]
func cmdPutSecrets(ts *testscript.TestScript, neg bool, args []string) {
	rotate := len(args) == 1 && args[0] == "-rotate"
	if neg || len(args) > 1 || (len(args) == 1 && !rotate) {
		ts.Fatalf("usage: putsecrets [-rotate]")
	}
	dir := filepath.Join(ts.Getenv("HOME"), ".sanctum", "secrets")
	ts.Check(os.MkdirAll(dir, 0o700))
	old := filepath.Join(ts.Getenv("WORK"), "rotated")
	for _, s := range redTeamShapes {
		v := s.value
		if rotate {
			ts.Check(os.MkdirAll(old, 0o700))
			ts.Check(os.WriteFile(filepath.Join(old, s.name), []byte(v+"\n"), 0o600))
			v = "R2" + v
		}
		ts.Check(os.WriteFile(filepath.Join(dir, s.name), []byte(v+"\n"), 0o600))
	}
}

// spelling is one form of a secret value that may be found in output.
type spelling struct{ secret, how, text string }

// scanSpellings are the forms of v the scan looks for, made by the
// encoders themselves (not by reconcile's masking table, which the scan
// checks): as written, as howett.net/plist writes it, inside a yaml.v3
// double-quoted string, a JSON string (with and without HTML escaping),
// Go's %q and %+q, URL query and path escaping, base64 and hex of the whole,
// and each line of at least 4 bytes of a multi-line value, as written and
// inside a JSON string.
func scanSpellings(name, v string) []spelling {
	var out []spelling
	add := func(how, s string) {
		if s != "" {
			out = append(out, spelling{name, how, s})
		}
	}
	add("as written", v)
	if p, err := plist.Marshal(v, plist.XMLFormat); err == nil {
		if _, rest, ok := strings.Cut(string(p), "<string>"); ok {
			s, _, _ := strings.Cut(rest, "</string>")
			add("plist", s)
		}
	}
	if y, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle}); err == nil {
		add("yaml double-quoted", strings.Trim(strings.TrimSpace(string(y)), `"`))
	}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		_ = enc.Encode(v)
		add("json", strings.Trim(strings.TrimSpace(b.String()), `"`))
	}
	add("%q", strings.Trim(strconv.Quote(v), `"`))
	add("%+q", strings.Trim(strconv.QuoteToASCII(v), `"`))
	add("url query", url.QueryEscape(v))
	add("url path", url.PathEscape(v))
	add("base64", base64.StdEncoding.EncodeToString([]byte(v)))
	add("base64url", base64.URLEncoding.EncodeToString([]byte(v)))
	add("hex", hex.EncodeToString([]byte(v)))
	if strings.Contains(v, "\n") {
		for _, line := range strings.Split(v, "\n") {
			if len(line) >= 4 {
				add("line", line)
				j, _ := json.Marshal(line)
				add("line in json", strings.Trim(string(j), `"`))
			}
		}
	}
	return out
}

// cmdSecretScan looks for every spelling of every secret value (those in
// $HOME/.sanctum/secrets and those rotated out under $WORK/rotated) in the
// files and directories given. Under HOME it skips what may hold a secret:
// the secrets themselves, the backups (0600; their index is scanned) and
// any 0600 file outside ~/.sanctum/state (a
// secret-bearing target); every other file, ledgers included, is scanned.
// A file under HOME outside ~/.sanctum/state that is not 0600 is one
// whose render took no secret (issue 12 item 1: the render decides, not a
// search of its bytes): there a spelling that the catalog's own files
// ($WORK/sanctum) hold verbatim is the catalog's text, not a secret's
// (rt-word's "Gateway" in "VM Gateway"), and is counted apart; the same
// text in a ledger or an output is a hit.
// It prints each hit as file:line: secret (how spelt) and fails when there
// is one; negated, it fails when there is none.
//
//	secretscan path...
func cmdSecretScan(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: secretscan path...")
	}
	home := ts.Getenv("HOME")
	var spellings []spelling
	for _, dir := range []string{filepath.Join(home, ".sanctum", "secrets"), filepath.Join(ts.Getenv("WORK"), "rotated")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			ts.Check(err)
			spellings = append(spellings, scanSpellings(e.Name(), strings.TrimRight(string(data), "\r\n"))...)
		}
	}
	var catalogText []byte
	_ = filepath.Walk(filepath.Join(ts.Getenv("WORK"), "sanctum"), func(p string, info fs.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			ts.Check(err)
			catalogText = append(append(catalogText, data...), 0)
		}
		return nil
	})
	renderedFile := func(p string) bool {
		rel, err := filepath.Rel(home, p)
		return err == nil && !strings.HasPrefix(rel, "..") && !strings.HasPrefix(filepath.ToSlash(rel), ".sanctum/state/")
	}
	skip := func(p string, info fs.FileInfo) bool {
		rel, err := filepath.Rel(home, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			return false
		}
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(rel, ".sanctum/secrets/"):
			return true
		case strings.HasPrefix(rel, ".sanctum/state/backups/"):
			return filepath.Base(rel) != "index.json"
		case strings.HasPrefix(rel, ".sanctum/state/"):
			return false
		}
		return info.Mode().Perm() == 0o600
	}
	var hits []string
	files, catalogWords := 0, 0
	for _, a := range args {
		root := ts.MkAbs(a)
		ts.Check(filepath.Walk(root, func(p string, info fs.FileInfo, err error) error {
			if err != nil || !info.Mode().IsRegular() || skip(p, info) {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			for _, s := range spellings {
				if renderedFile(p) && bytes.Contains(catalogText, []byte(s.text)) {
					catalogWords += bytes.Count(data, []byte(s.text))
					continue
				}
				for off := 0; ; {
					k := bytes.Index(data[off:], []byte(s.text))
					if k < 0 {
						break
					}
					line := bytes.Count(data[:off+k], []byte("\n")) + 1
					hits = append(hits, fmt.Sprintf("%s:%d: %s (%s): %s", p, line, s.secret, s.how, lineAt(data, off+k)))
					off += k + len(s.text)
				}
			}
			return nil
		}))
	}
	sort.Strings(hits)
	hits = compactStrings(hits)
	for _, h := range hits {
		fmt.Fprintln(ts.Stdout(), h)
	}
	ts.Logf("secretscan: %d spellings of secrets, %d files, %d hits (%d occurrences of the catalog's own text in files that took no secret)",
		len(spellings), files, len(hits), catalogWords)
	if (len(hits) > 0) != neg {
		ts.Fatalf("secretscan: %d hits", len(hits))
	}
}

func lineAt(data []byte, k int) string {
	start := bytes.LastIndexByte(data[:k], '\n') + 1
	sc := bufio.NewScanner(bytes.NewReader(data[start:]))
	sc.Buffer(nil, 1<<20)
	sc.Scan()
	s := sc.Text()
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return strconv.Quote(s)
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
