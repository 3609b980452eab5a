package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUnitFragment: the unit's own file out of `systemctl cat`, without
// its drop-ins.
func TestUnitFragment(t *testing.T) {
	out := "# /home/u/.config/systemd/user/a.service\n[Service]\nExecStart=/bin/true\n\n# /home/u/.config/systemd/user/a.service.d/x.conf\n[Service]\nNice=5\n"
	got, err := unitFragment(out, "/home/u/.config/systemd/user/a.service", []string{"/home/u/.config/systemd/user/a.service.d/x.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("[Service]\nExecStart=/bin/true\n", string(got)); diff != "" {
		t.Errorf("fragment mismatch (-want +got):\n%s", diff)
	}
	// A comment of the unit's own that looks like a path stays in it.
	out = "# /u/a.service\n[Service]\n\n# /not/a/file\nExecStart=/bin/true\n"
	got, err = unitFragment(out, "/u/a.service", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("[Service]\n\n# /not/a/file\nExecStart=/bin/true\n", string(got)); diff != "" {
		t.Errorf("fragment mismatch (-want +got):\n%s", diff)
	}
	if _, err := unitFragment("# /other\n", "/u/a.service", nil); err == nil {
		t.Error("no error for a cat without the fragment")
	}
}
