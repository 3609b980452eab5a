package cli

import (
	"strings"
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

// TestAdoptUnitHomeAs: a path under the unit's home, and %h, are written
// as the entry says the home is: {{ .home }} here, {{ .users.vm.home }} for
// a node whose home the instance names, the path itself otherwise.
func TestAdoptUnitHomeAs(t *testing.T) {
	frag := []byte("[Service]\nExecStart=/home/openclaw/bin/run --data %h/data\nWorkingDirectory=/home/openclaw/srv\n")
	for _, tt := range []struct{ homeAs, want string }{
		{"{{ .home }}", "{{ .home }}/srv"},
		{"{{ .users.vm.home }}", "{{ .users.vm.home }}/srv"},
		{"", "/home/openclaw/srv"},
	} {
		out, err := adoptUnitEntry(unitFound{unit: "run.service", fragmentPath: "/home/openclaw/.config/systemd/user/run.service",
			fragment: frag, unitFileState: "enabled", homeAs: tt.homeAs}, adoptMask{}, "/home/openclaw", map[string]bool{})
		if err != nil {
			t.Fatal(err)
		}
		got := string(out)
		if !strings.Contains(got, "workingDirectory: '"+tt.want+"'") && !strings.Contains(got, "workingDirectory: "+tt.want+"\n") {
			t.Errorf("homeAs %q: no workingDirectory %q in\n%s", tt.homeAs, tt.want, got)
		}
		wantArg := strings.TrimSuffix(tt.want, "/srv") + "/data"
		if !strings.Contains(got, wantArg) {
			t.Errorf("homeAs %q: %%h not written as %q in\n%s", tt.homeAs, wantArg, got)
		}
	}
}
