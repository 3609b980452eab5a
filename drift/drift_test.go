package drift

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{name: "equal", old: "a\nb\n", new: "a\nb\n", want: ""},
		{name: "both empty", old: "", new: "", want: ""},
		{name: "changed line", old: "a\nb\nc\n", new: "a\nB\nc\n",
			want: "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{name: "added trailing line", old: "a\n", new: "a\nb\n",
			want: "--- a/x.yaml\n+++ b/x.yaml\n@@ -1 +1,2 @@\n a\n+b\n"},
		{name: "removed trailing line", old: "a\nb\n", new: "a\n",
			want: "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,2 +1 @@\n a\n-b\n"},
		{name: "from nothing", old: "", new: "x\n",
			want: "--- a/x.yaml\n+++ b/x.yaml\n@@ -0,0 +1 @@\n+x\n"},
		{name: "to nothing", old: "x\n", new: "",
			want: "--- a/x.yaml\n+++ b/x.yaml\n@@ -1 +0,0 @@\n-x\n"},
		{name: "missing final newline", old: "a", new: "a\n",
			want: "--- a/x.yaml\n+++ b/x.yaml\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff("x.yaml", []byte(tt.old), []byte(tt.new))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff mismatch (-want +got):\n%s", diff)
			}
			if got != "" && !strings.HasSuffix(got, "\n") {
				t.Errorf("Diff does not end in a newline: %q", got)
			}
		})
	}
}

func TestDiffLabels(t *testing.T) {
	got := Diff(".sanctum/services/voice-agent.yaml", []byte("port: 1\n"), []byte("port: 2\n"))
	lines := strings.SplitN(got, "\n", 3)
	want := []string{"--- a/.sanctum/services/voice-agent.yaml", "+++ b/.sanctum/services/voice-agent.yaml"}
	if diff := cmp.Diff(want, lines[:2]); diff != "" {
		t.Errorf("Diff labels mismatch (-want +got):\n%s", diff)
	}
}

func TestRedactor(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{name: "no values", values: nil, in: "token tok-123", want: "token tok-123"},
		{name: "one value everywhere", values: []string{"tok-123"}, in: "a tok-123 b tok-123", want: "a *** b ***"},
		{name: "longer secret masked whole, shorter listed first", values: []string{"pass", "mypassword"},
			in: "token=mypassword other=pass", want: "token=*** other=***"},
		{name: "longer secret masked whole, longer listed first", values: []string{"mypassword", "pass"},
			in: "token=mypassword other=pass", want: "token=*** other=***"},
		{name: "secret is a suffix of another", values: []string{"word", "password"},
			in: "password word", want: "*** ***"},
		{name: "empty values ignored", values: []string{"", "tok"}, in: "a tok b", want: "a *** b"},
		{name: "only empty values", values: []string{"", ""}, in: "abc", want: "abc"},
		{name: "single-byte secret", values: []string{"x"}, in: "axb", want: "a***b"},
		{name: "empty input", values: []string{"tok"}, in: "", want: ""},
		{name: "no match", values: []string{"tok"}, in: "nothing here", want: "nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRedactor(tt.values).String(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("String(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRedactorNil(t *testing.T) {
	var r *Redactor
	if diff := cmp.Diff("tok-123", r.String("tok-123")); diff != "" {
		t.Errorf("nil Redactor String mismatch (-want +got):\n%s", diff)
	}
	cs := &ChangeSet{Changes: []Change{{Reason: "tok-123", Diff: "+tok-123\n", Error: "tok-123"}}}
	r.ChangeSet(cs)
	if diff := cmp.Diff([]Change{{Reason: "tok-123", Diff: "+tok-123\n", Error: "tok-123"}}, cs.Changes); diff != "" {
		t.Errorf("nil Redactor ChangeSet mismatch (-want +got):\n%s", diff)
	}
}

func TestRedactorChangeSet(t *testing.T) {
	cs := &ChangeSet{Changes: []Change{
		{Kind: "Service", Name: "a", Action: Configured, Path: ".sanctum/services/a.yaml",
			Reason: "tok-123 differs", Diff: "-tok-122\n+tok-123\n", Backup: ".sanctum/state/backups/r/a.yaml", Error: "saw tok-123"},
		{Kind: "Service", Name: "b", Action: Unchanged},
	}}
	NewRedactor([]string{"tok-123", "tok-122"}).ChangeSet(cs)
	want := []Change{
		{Kind: "Service", Name: "a", Action: Configured, Path: ".sanctum/services/a.yaml",
			Reason: "*** differs", Diff: "-***\n+***\n", Backup: ".sanctum/state/backups/r/a.yaml", Error: "saw ***"},
		{Kind: "Service", Name: "b", Action: Unchanged},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("ChangeSet masking mismatch (-want +got):\n%s", diff)
	}
}

func changesOf(actions ...Action) *ChangeSet {
	cs := &ChangeSet{}
	for i, a := range actions {
		cs.Add(Change{Kind: "Service", Name: string(rune('a' + i)), Action: a})
	}
	return cs
}

func TestSummaryAndHasDrift(t *testing.T) {
	tests := []struct {
		name      string
		actions   []Action
		want      Summary
		wantDrift bool
	}{
		{name: "empty", want: Summary{}, wantDrift: false},
		{name: "unchanged", actions: []Action{Unchanged, Unchanged}, want: Summary{Unchanged: 2}},
		{name: "skipped is not drift", actions: []Action{Skipped}, want: Summary{Skipped: 1}},
		{name: "unmanaged is not drift", actions: []Action{Unmanaged}, want: Summary{Unmanaged: 1}},
		{name: "failed is not drift", actions: []Action{Failed}, want: Summary{Failed: 1}},
		{name: "created is drift", actions: []Action{Unchanged, Created}, want: Summary{Created: 1, Unchanged: 1}, wantDrift: true},
		{name: "configured is drift", actions: []Action{Configured}, want: Summary{Configured: 1}, wantDrift: true},
		{name: "deleted is drift", actions: []Action{Skipped, Deleted}, want: Summary{Deleted: 1, Skipped: 1}, wantDrift: true},
		{name: "every action", actions: []Action{Created, Configured, Unchanged, Deleted, Skipped, Unmanaged, Failed, Created},
			want: Summary{Created: 2, Configured: 1, Unchanged: 1, Deleted: 1, Skipped: 1, Unmanaged: 1, Failed: 1}, wantDrift: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := changesOf(tt.actions...)
			if diff := cmp.Diff(tt.want, cs.Summary()); diff != "" {
				t.Errorf("Summary mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDrift, cs.HasDrift()); diff != "" {
				t.Errorf("HasDrift mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFailedAndSort(t *testing.T) {
	cs := &ChangeSet{Changes: []Change{
		{Kind: "Service", Name: "b", Action: Failed, Error: "x"},
		{Kind: "Other", Name: "a", Action: Created},
		{Kind: "CalibrationFile", Name: "z", Action: Unchanged},
		{Kind: "Service", Name: "a", Path: "2", Action: Created},
		{Kind: "Service", Name: "a", Path: "1", Action: Failed, Error: "y"},
	}}
	rank := func(kind string) int {
		switch kind {
		case "CalibrationFile":
			return 0
		case "Service":
			return 1
		}
		return 100
	}
	cs.Sort(rank)
	var got []string
	for _, c := range cs.Changes {
		got = append(got, c.ID()+" "+c.Path)
	}
	want := []string{"CalibrationFile/z ", "Service/a 1", "Service/a 2", "Service/b ", "Other/a "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sort order mismatch (-want +got):\n%s", diff)
	}
	var failed []string
	for _, c := range cs.Failed() {
		failed = append(failed, c.ID()+" "+c.Error)
	}
	if diff := cmp.Diff([]string{"Service/a y", "Service/b x"}, failed); diff != "" {
		t.Errorf("Failed mismatch (-want +got):\n%s", diff)
	}
}

// reportSet has one entry per action, a diff under the configured one.
func reportSet() *ChangeSet {
	return &ChangeSet{Changes: []Change{
		{Kind: "Service", Name: "a", Action: Created, Path: ".sanctum/services/a.yaml"},
		{Kind: "Service", Name: "b", Action: Configured, Path: ".sanctum/services/b.yaml", Reason: "content differs",
			Diff:   "--- a/.sanctum/services/b.yaml\n+++ b/.sanctum/services/b.yaml\n@@ -1 +1 @@\n-port: 1\n+port: 2\n",
			Backup: ".sanctum/state/backups/r1/.sanctum/services/b.yaml"},
		{Kind: "Service", Name: "c", Action: Unchanged, Path: ".sanctum/services/c.yaml"},
		{Kind: "Service", Name: "d", Action: Skipped, Reason: "disabled"},
		{Kind: "Service", Name: "e", Action: Unmanaged, Path: ".sanctum/services/e.yaml", Reason: "not ours"},
		{Kind: "Service", Name: "f", Action: Failed, Path: ".sanctum/services/f.yaml", Error: "boom"},
		{Kind: "Service", Name: "g", Action: Deleted, Path: ".sanctum/services/g.yaml", Reason: "no longer in the catalog",
			Backup: ".sanctum/state/backups/r1/.sanctum/services/g.yaml"},
	}}
}

func TestWriteText(t *testing.T) {
	const (
		lineA     = "Service/a created ~/.sanctum/services/a.yaml\n"
		lineB     = "Service/b configured ~/.sanctum/services/b.yaml (content differs; backup ~/.sanctum/state/backups/r1/.sanctum/services/b.yaml)\n"
		lineBTers = "Service/b configured ~/.sanctum/services/b.yaml (content differs)\n"
		diffB     = "--- a/.sanctum/services/b.yaml\n+++ b/.sanctum/services/b.yaml\n@@ -1 +1 @@\n-port: 1\n+port: 2\n"
		lineC     = "Service/c unchanged ~/.sanctum/services/c.yaml\n"
		lineD     = "Service/d skipped (disabled)\n"
		lineE     = "Service/e unmanaged ~/.sanctum/services/e.yaml (not ours)\n"
		lineF     = "Service/f failed ~/.sanctum/services/f.yaml (boom)\n"
		lineG     = "Service/g deleted ~/.sanctum/services/g.yaml (no longer in the catalog; backup ~/.sanctum/state/backups/r1/.sanctum/services/g.yaml)\n"
		lineGTers = "Service/g deleted ~/.sanctum/services/g.yaml (no longer in the catalog)\n"
		summary   = "1 created, 1 configured, 1 deleted, 1 unchanged, 1 skipped, 1 unmanaged, 1 failed"
	)
	tests := []struct {
		name string
		opts TextOptions
		want string
	}{
		{name: "full", opts: TextOptions{Label: "dry run"},
			want: lineA + lineB + diffB + lineC + lineD + lineE + lineF + lineG + summary + " (dry run)\n"},
		{name: "terse: no diff, no backup", opts: TextOptions{Terse: true, Label: "check"},
			want: lineA + lineBTers + lineC + lineD + lineE + lineF + lineGTers + summary + " (check)\n"},
		{name: "changes only: drift, unmanaged and failed; the summary counts all", opts: TextOptions{ChangesOnly: true, Label: "dry run"},
			want: lineA + lineB + diffB + lineE + lineF + lineG + summary + " (dry run)\n"},
		{name: "changes only and terse (check)", opts: TextOptions{ChangesOnly: true, Terse: true, Label: "check"},
			want: lineA + lineBTers + lineE + lineF + lineGTers + summary + " (check)\n"},
		{name: "header first", opts: TextOptions{Header: "reconcile --check: catalog c, home h, nodes: this host", ChangesOnly: true, Terse: true},
			want: "reconcile --check: catalog c, home h, nodes: this host\n" + lineA + lineBTers + lineE + lineF + lineGTers + summary + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, reportSet(), tt.opts); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("WriteText mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteTextAlignsIDs(t *testing.T) {
	cs := &ChangeSet{Changes: []Change{
		{Kind: "CalibrationFile", Name: "instance-json", Action: Unchanged},
		{Kind: "Service", Name: "a", Action: Created},
	}}
	var b bytes.Buffer
	if err := WriteText(&b, cs, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "CalibrationFile/instance-json unchanged\n" +
		"Service/a                     created\n" +
		"1 created, 0 configured, 0 deleted, 1 unchanged, 0 skipped, 0 unmanaged, 0 failed\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteText mismatch (-want +got):\n%s", diff)
	}
}

// Only the entries shown set the width: a long name that is unchanged
// does not push the changes-only lines to the right.
func TestWriteTextAlignsShownIDs(t *testing.T) {
	cs := &ChangeSet{Changes: []Change{
		{Kind: "CalibrationFile", Name: "instance-json", Action: Unchanged},
		{Kind: "Service", Name: "a", Action: Created},
		{Kind: "Service", Name: "bb", Action: Skipped},
		{Kind: "Service", Name: "ccc", Action: Unmanaged},
	}}
	var b bytes.Buffer
	if err := WriteText(&b, cs, TextOptions{ChangesOnly: true}); err != nil {
		t.Fatal(err)
	}
	want := "Service/a   created\n" +
		"Service/ccc unmanaged\n" +
		"1 created, 0 configured, 0 deleted, 1 unchanged, 1 skipped, 1 unmanaged, 0 failed\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteText mismatch (-want +got):\n%s", diff)
	}
}

// Quiet (apply) shows the diff of a changed file but not the content of a
// whole new or removed one.
func TestWriteTextQuietWholeFiles(t *testing.T) {
	cs := &ChangeSet{Changes: []Change{
		{Kind: "Service", Name: "a", Action: Created, Path: "a", Diff: CreatedDiff("a", []byte("new\n"))},
		{Kind: "Service", Name: "b", Action: Configured, Path: "b", Diff: Diff("b", []byte("x\n"), []byte("y\n"))},
		{Kind: "Service", Name: "c", Action: Deleted, Path: "c", Diff: DeletedDiff("c", []byte("old\n"))},
	}}
	var b bytes.Buffer
	if err := WriteText(&b, cs, TextOptions{Quiet: true, ChangesOnly: true}); err != nil {
		t.Fatal(err)
	}
	want := "Service/a created ~/a\n" +
		"Service/b configured ~/b\n" + Diff("b", []byte("x\n"), []byte("y\n")) +
		"Service/c deleted ~/c\n" +
		"1 created, 1 configured, 1 deleted, 0 unchanged, 0 skipped, 0 unmanaged, 0 failed\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteText mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteTextColor(t *testing.T) {
	tests := []struct {
		name     string
		color    bool
		contains []string
		absent   []string
	}{
		{name: "no color", color: false, absent: []string{"\x1b"}},
		{name: "color", color: true, contains: []string{
			green + "created" + reset,
			yellow + "configured" + reset,
			red + "deleted" + reset,
			red + "failed" + reset,
			magenta + "unmanaged" + reset,
			bold + "--- a/.sanctum/services/b.yaml" + reset + "\n",
			cyan + "@@ -1 +1 @@" + reset + "\n",
			red + "-port: 1" + reset + "\n",
			green + "+port: 2" + reset + "\n",
			"Service/c unchanged ", // no color for unchanged
			"Service/d skipped ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, reportSet(), TextOptions{Color: tt.color}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, s := range tt.contains {
				if !strings.Contains(out, s) {
					t.Errorf("output does not contain %q:\n%q", s, out)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(out, s) {
					t.Errorf("output contains %q:\n%q", s, out)
				}
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	r := &Report{SchemaVersion: SchemaVersion, Mode: "check", Time: time.Date(2026, 11, 25, 19, 36, 0, 0, time.UTC),
		Home: "/tmp/h", Catalog: "sanctum", CatalogDigest: "sha256:x", Summary: Summary{Unchanged: 1}}
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasSuffix(out, "}\n") {
		t.Errorf("JSON report does not end in a newline: %q", out)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"schemaVersion": float64(1), "mode": "check", "time": "2026-11-25T19:36:00Z", "home": "/tmp/h",
		"catalog": "sanctum", "catalogDigest": "sha256:x", "drift": false,
		"summary": map[string]any{"created": float64(0), "configured": float64(0), "unchanged": float64(1),
			"deleted": float64(0), "skipped": float64(0), "unmanaged": float64(0), "failed": float64(0)},
		// never null: empty lists
		"changes": []any{}, "errors": []any{}, "nodes": []any{}, "incomplete": []any{}, "index": "", "indexHits": float64(0), "filesRead": float64(0),
		"rendered": float64(0),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON report mismatch (-want +got):\n%s", diff)
	}
}

// The summary counts objects: a node's roll-up over its files is not one
// more change, and a required node that was not reached is its own count.
func TestSummaryCountsObjectsNotRollups(t *testing.T) {
	cs := &ChangeSet{Changes: []Change{
		{Kind: "RemoteNode", Name: "vm", Node: "vm", Action: Configured, Path: ".openclaw/w/SOUL.md"},
		{Kind: "RemoteNode", Name: "vm", Node: "vm", Action: Configured, Reason: "1 of 4 file(s) written", Rollup: true},
		{Kind: "RemoteNode", Name: "mbp", Node: "mbp", Action: Unreachable, Reason: "required: refused"},
	}}
	want := Summary{Configured: 1, Unreachable: 1}
	if diff := cmp.Diff(want, cs.Summary()); diff != "" {
		t.Errorf("Summary mismatch (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := WriteText(&b, cs, TextOptions{ChangesOnly: true, Terse: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "RemoteNode/mbp unreachable (required: refused)\n") ||
		!strings.HasSuffix(b.String(), "0 created, 1 configured, 0 deleted, 0 unchanged, 0 skipped, 0 unmanaged, 0 failed, 1 unreachable\n") {
		t.Errorf("text:\n%s", b.String())
	}
}
