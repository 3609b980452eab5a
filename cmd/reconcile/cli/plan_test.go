package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sanctum-haus/reconcile/drift"
)

func TestSecretsDigest(t *testing.T) {
	values := []string{"tok-a-0123", "pw-b"}
	d, err := secretsDigest(values)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if strings.Contains(d, v) {
			t.Fatalf("digest %q holds a value", d)
		}
	}
	d2, _ := secretsDigest(values)
	if d == d2 {
		t.Errorf("two digests share a salt: %q", d)
	}
	for _, tc := range []struct {
		name   string
		digest string
		values []string
		want   bool
	}{
		{"same values", d, values, true},
		{"same values, other order", d, []string{"pw-b", "tok-a-0123"}, true},
		{"a rotated value", d, []string{"tok-a-0124", "pw-b"}, false},
		{"one more secret", d, append([]string{"x"}, values...), false},
		{"no secrets then, none now", "none", nil, true},
		{"no secrets then, one now", "none", []string{"x"}, false},
		{"secrets then, none now", d, nil, false},
		{"garbage", "pbkdf2-sha256:1:zz:00", values, false},
		{"an absurd iteration count", strings.Replace(d, ":100000:", ":999999999:", 1), values, false},
	} {
		if got := secretsMatch(tc.digest, tc.values); got != tc.want {
			t.Errorf("%s: secretsMatch = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// followed is the safety net behind the check of the reads: an apply that
// did other than the plan said fails loudly.
func TestFollowed(t *testing.T) {
	planned := []drift.Change{
		{Kind: "Service", Name: "a", Action: drift.Configured, Path: ".sanctum/services/a.yaml", Reason: "content differs", Diff: "-x\n+y\n"},
		{Kind: "LaunchAgent", Name: "a", Action: drift.Created, Target: "gui/501/com.sanctum.a", Reason: "not loaded: bootstrap"},
	}
	report, _ := json.Marshal(drift.Report{Changes: planned})
	h := &planHook{file: "p.json", saved: &savedPlan{Report: report}}

	// The same entries, in another order, with backups and without diffs:
	// followed.
	applied := &drift.ChangeSet{Changes: []drift.Change{
		{Kind: "LaunchAgent", Name: "a", Action: drift.Created, Target: "gui/501/com.sanctum.a"},
		{Kind: "Service", Name: "a", Action: drift.Configured, Path: ".sanctum/services/a.yaml", Backup: ".sanctum/state/backups/r/x"},
	}}
	if err := h.followed(applied); err != nil {
		t.Fatalf("followed: %v", err)
	}
	applied.Changes[1].Action = drift.Created
	err := h.followed(applied)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitError {
		t.Fatalf("a different action: %v; want exit 1", err)
	}
	if !strings.Contains(err.Error(), "did not do what the plan in p.json said") ||
		!strings.Contains(err.Error(), "\n  planned, not done: Service/a configured .sanctum/services/a.yaml\n  done, not planned: Service/a created .sanctum/services/a.yaml") {
		t.Errorf("error %q does not say what differs", err)
	}
}
