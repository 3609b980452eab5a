package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// TestLedgerHostMasks: reconcile's own records are masked on their way to
// disk, in every spelling, identity fields kept; managed files are not.
func TestLedgerHostMasks(t *testing.T) {
	home := t.TempDir()
	real, err := observed.NewFileHost(home)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	a := &app{redactor: drift.NewRedactor([]string{`s3"cr<t`})}
	h := a.maskLedgers(real)
	record := []byte(`{"path": ".sanctum/x", "reason": "want /opt/s3\"cr<t and s3\u0022cr\u003ct"}` + "\n")
	tests := []struct {
		name, want string
		write      func(name string) error
	}{
		{".sanctum/state/reconcile.json", `{"path": ".sanctum/x", "reason": "want /opt/*** and ***"}` + "\n",
			func(n string) error { return h.WriteFile(n, record, 0o600) }},
		{".sanctum/state/agent-markdown-sync.json", `{"path": ".sanctum/x", "reason": "want /opt/*** and ***"}` + "\n",
			func(n string) error { return h.WriteFile(n, record, 0o600) }},
		{".sanctum/state/backups/r1/index.json", `{"path": ".sanctum/x", "reason": "want /opt/*** and ***"}` + "\n",
			func(n string) error { return h.WriteFile(n, record, 0o600) }},
		{".sanctum/state/history.jsonl", `{"path": ".sanctum/x", "reason": "want /opt/*** and ***"}` + "\n",
			func(n string) error { return h.AppendFile(n, record, 0o600) }},
		{".sanctum/services/x.yaml", string(record),
			func(n string) error { return h.WriteFile(n, record, 0o600) }},
		{".sanctum/state/backups/r1/.sanctum/state/history.jsonl", string(record),
			func(n string) error { return h.WriteFile(n, record, 0o600) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(tt.name); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(home, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if (&app{}).maskLedgers(nil) != nil {
		t.Errorf("maskLedgers(nil) is not nil")
	}
	if observed.Plans(h) || !observed.Plans(a.maskLedgers(observed.NewDryRunHost(real))) {
		t.Errorf("a masked host does not plan as the host it wraps")
	}
}
