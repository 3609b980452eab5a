package drift

import (
	"io/fs"
	"testing"
)

// The one mode rule: a secret is 0600, a declared mode is kept, any other
// file keeps its own, a new one is 0644; why only when a file breaks it.
func TestWantMode(t *testing.T) {
	for _, tt := range []struct {
		have           fs.FileMode
		exists, secret bool
		declared, want fs.FileMode
		why            string
	}{
		{0, false, false, 0, 0o644, ""},
		{0, false, true, 0, 0o600, ""},
		{0, false, false, 0o755, 0o755, ""},
		{0o640, true, false, 0, 0o640, ""},
		{0o644, true, true, 0, 0o600, "holds a secret"},
		{0o600, true, true, 0o755, 0o600, ""},
		{0o644, true, false, 0o755, 0o755, "declared"},
		{0o755 | fs.ModeSetuid, true, false, 0o755, 0o755, ""},
	} {
		want, why := WantMode(tt.have, tt.exists, tt.secret, tt.declared)
		if want != tt.want || why != tt.why {
			t.Errorf("WantMode(%#o, %v, %v, %#o) = %#o %q, want %#o %q", tt.have, tt.exists, tt.secret, tt.declared, want, why, tt.want, tt.why)
		}
	}
}
