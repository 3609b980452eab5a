package observed

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseShow reads systemctl show of two units as systemd 252 prints
// them (properties in systemd's order, not the order asked), one known and
// one it has no file for.
func TestParseShow(t *testing.T) {
	out := `MainPID=6063
ExecMainStartTimestamp=Wed 2026-12-02 02:48:35 UTC
Result=success
Id=sdt-a.service
LoadState=loaded
ActiveState=active
SubState=running
FragmentPath=/home/u/.config/systemd/user/sdt-a.service
UnitFileState=enabled
NeedDaemonReload=yes

MainPID=0
ExecMainStartTimestamp=
Result=success
Id=sdt-none.service
LoadState=not-found
ActiveState=inactive
SubState=dead
FragmentPath=
UnitFileState=
NeedDaemonReload=no
`
	got, err := ParseShow(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*UnitInfo{
		"sdt-a.service": {Unit: "sdt-a.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
			UnitFileState: "enabled", NeedDaemonReload: true, FragmentPath: "/home/u/.config/systemd/user/sdt-a.service",
			MainPID: 6063, ExecMainStartTimestamp: "Wed 2026-12-02 02:48:35 UTC", Result: "success"},
		"sdt-none.service": {Unit: "sdt-none.service", LoadState: "not-found", ActiveState: "inactive", SubState: "dead",
			Result: "success"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseShow (-want +got):\n%s", diff)
	}
	for name, bad := range map[string]string{
		"no Id":       "LoadState=loaded\n",
		"not a pair":  "Id=x.service\ngarbage\n",
		"second noId": "Id=x.service\n\nLoadState=loaded\n",
	} {
		if _, err := ParseShow(bad); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

// FuzzParseShow: systemctl show's answer, however mangled, is parsed or
// refused, never a panic; every unit parsed is named by its Id.
func FuzzParseShow(f *testing.F) {
	f.Add("Id=a.service\nLoadState=loaded\nActiveState=active\nMainPID=42\nNeedDaemonReload=yes\n\nId=b.service\nLoadState=not-found\n")
	f.Add("MainPID=x\nId=\n")
	f.Add("\n\n=\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, out string) {
		infos, err := ParseShow(out)
		if err != nil {
			return
		}
		for id, info := range infos {
			if id == "" || info.Unit != id {
				t.Fatalf("unit %q keyed %q", info.Unit, id)
			}
		}
	})
}

// TestSystemctlErrorSays: a failed show names the verb and how many units,
// not the whole command line; a manager that does not answer says where
// systemctl looked for it.
func TestSystemctlErrorSays(t *testing.T) {
	e := &SystemctlError{Args: []string{"show", "--property=Id", "--", "a.service", "b.service"}, Code: 1,
		Stderr: "Failed to connect to bus: No medium found\n"}
	want := "systemctl --user show (2 units): exit 1: Failed to connect to bus: No medium found (does the user's systemd run? systemctl --user reaches it through XDG_RUNTIME_DIR)"
	if got := e.Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	e = &SystemctlError{Args: []string{"start", "--", "a.service"}, Code: 5, Stderr: "Failed to start a.service: Unit a.service not found.\n"}
	if got, want := e.Error(), "systemctl --user start -- a.service: exit 5: Failed to start a.service: Unit a.service not found."; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
