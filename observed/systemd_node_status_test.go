package observed

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNodeSystemctl(t *testing.T) {
	args := []string{"show", "--", "a.service", "b.service"}
	ok := "Id=a.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nActiveEnterTimestamp=@1764650000\n\n" +
		"Id=b.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\n"
	out, home, err := parseNodeSystemctl([]byte(ok+"\nUNITSEXIT\t0\t\nHOME\t/home/openclaw\n"), args)
	if err != nil {
		t.Fatal(err)
	}
	if home != "/home/openclaw" {
		t.Errorf("home = %q", home)
	}
	blocks, err := showBlocksOf(out, []string{"a.service", "b.service"}, "on the node")
	if err != nil {
		t.Fatal(err)
	}
	st, err := UnitStatusOf(blocks["a.service"])
	if err != nil || st.ActiveState != "active" || st.Since().IsZero() {
		t.Errorf("a.service: %+v, %v", st, err)
	}
	if _, err := showBlocksOf("Id=a.service\nLoadState=loaded\n", []string{"a.service", "b.service"}, "on the node"); err == nil ||
		!strings.Contains(err.Error(), "systemctl show on the node: no answer for b.service") {
		t.Errorf("a unit missing: err = %v", err)
	}
	for _, tt := range []struct {
		name, out string
		want      func(error) bool
	}{
		{"no systemctl", "\nUNITSEXIT\tnone\t\nHOME\t/h\n", func(err error) bool { return errors.Is(err, ErrNoSystemd) }},
		{"show failed", "\nUNITSEXIT\t1\tFailed to connect to bus: No medium found\nHOME\t/h\n", func(err error) bool {
			var se *SystemctlError
			return errors.As(err, &se) && se.Code == 1 && strings.Contains(err.Error(), "Failed to connect to bus")
		}},
		{"cut short", ok, func(err error) bool { return errors.Is(err, ErrRemote) }},
		{"no home line", ok + "\nUNITSEXIT\t0\t\n", func(err error) bool { return errors.Is(err, ErrRemote) }},
		{"garbage exit", "\nUNITSEXIT\tx\t\nHOME\t/h\n", func(err error) bool { return errors.Is(err, ErrRemote) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseNodeSystemctl([]byte(tt.out), args)
			if !tt.want(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
