package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
)

// TestSplitUnitWordsRoundTrip: what RenderUnit writes of an argument,
// systemd's reading (SplitUnitWords) gives back; $ and % stay escaped,
// as systemd resolves them later.
func TestSplitUnitWordsRoundTrip(t *testing.T) {
	args := []string{"/bin/x", "plain", "two words", `a "quoted" word`, `back\slash`, "it's", "tab\there", ";", "ünïcode"}
	var line []string
	for _, a := range args {
		line = append(line, quoteExecArg(a))
	}
	got, err := SplitUnitWords(strings.Join(line, " "))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(args, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{`/bin/sh -c "exec sleep 1" 'a "b"'`, []string{"/bin/sh", "-c", "exec sleep 1", `a "b"`}},
		{`a\sb c\x41 "d\"e" f\101`, []string{"a b", "cA", `d"e`, "fA"}},
		{`x $$HOME %%h $PORT`, []string{"x", "$$HOME", "%%h", "$PORT"}},
		{`  lead   trail  `, []string{"lead", "trail"}},
		{`ab"cd ef"gh`, []string{"abcd efgh"}},
	} {
		got, err := SplitUnitWords(tt.in)
		if err != nil {
			t.Errorf("SplitUnitWords(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("SplitUnitWords(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{`"open`, `'open`, `end\`, `\q`, `\x4`} {
		if _, err := SplitUnitWords(bad); err == nil {
			t.Errorf("SplitUnitWords(%q): no error", bad)
		}
	}
}

// TestUnitCanon: a unit written by hand in another layout says what the
// render says; a difference systemd would act on is a difference.
func TestUnitCanon(t *testing.T) {
	u := &v1.SystemdUnit{TypeMeta: v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindSystemdUnit},
		ObjectMeta: v1.ObjectMeta{Name: "web"},
		Spec: v1.SystemdSpec{Description: "web 100%", ExecStart: []string{"/bin/sh", "-c", "exec sleep 1", `a "b"`},
			Environment: map[string]string{"A": "1", "B": "two words"}, WorkingDirectory: "/srv",
			Restart: "on-failure", After: []string{"network.target", "x.service"}}}
	cat := &desired.Catalog{Sources: map[string]string{"SystemdUnit/web": "units.yaml"}}
	render, err := RenderUnit(u, cat)
	if err != nil {
		t.Fatal(err)
	}
	want := UnitCanon(render)
	if want == "" || want == digest(render) {
		t.Fatalf("UnitCanon(render) = %q", want)
	}
	same := `; by hand
[Install]
WantedBy=default.target
[Service]
Type=simple
Restart=on-failure
WorkingDirectory=/srv
Environment=B="two words"
Environment=A=1
ExecStart=/bin/sh -c \
  "exec sleep 1" 'a "b"'
[Unit]
After=x.service
After=network.target
Description=web 100%%
`
	if got := UnitCanon([]byte(same)); got != want {
		t.Errorf("a hand layout of the same unit: canon differs")
	}
	for name, other := range map[string]string{
		"another argument":   strings.ReplaceAll(same, `'a "b"'`, `'a "c"'`),
		"a variable":         strings.ReplaceAll(same, `"exec sleep 1"`, `"exec sleep $X"`),
		"another env value":  strings.ReplaceAll(same, "A=1", "A=2"),
		"an added key":       same + "[Service]\nNice=5\n",
		"another restart":    strings.ReplaceAll(same, "Restart=on-failure", "Restart=always"),
		"an ordering gone":   strings.ReplaceAll(same, "After=x.service\n", ""),
		"not a unit file":    "Key=Value\n",
		"an unclosed quote":  strings.ReplaceAll(same, `'a "b"'`, `'a "b"`),
		"another specifier":  strings.ReplaceAll(same, "web 100%%", "web 100%h"),
		"the env reset":      strings.ReplaceAll(same, "Environment=A=1", "Environment=\nEnvironment=A=1"),
		"a second ExecStart": same + "[Service]\nExecStart=/bin/true\n",
	} {
		if got := UnitCanon([]byte(other)); got == want {
			t.Errorf("%s: canon equal, want a difference", name)
		}
	}
}
