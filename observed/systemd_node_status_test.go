package observed

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNodeStatus(t *testing.T) {
	units := []string{"a.service", "b.service"}
	ok := "Id=a.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nActiveEnterTimestamp=@1764650000\n\n" +
		"Id=b.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\n"
	got, err := parseNodeStatus([]byte(ok+"\nUNITSEXIT\t0\t\n"), units)
	if err != nil {
		t.Fatal(err)
	}
	if got["a.service"].ActiveState != "active" || got["b.service"].LoadState != "not-found" {
		t.Errorf("got %+v %+v", got["a.service"], got["b.service"])
	}
	for _, tt := range []struct {
		name, out string
		want      func(error) bool
	}{
		{"no systemctl", "\nUNITSEXIT\tnone\t\n", func(err error) bool { return errors.Is(err, ErrNoSystemd) }},
		{"show failed", "\nUNITSEXIT\t1\tFailed to connect to bus: No medium found\n", func(err error) bool {
			var se *SystemctlError
			return errors.As(err, &se) && se.Code == 1 && strings.Contains(err.Error(), "Failed to connect to bus")
		}},
		{"cut short", ok, func(err error) bool { return errors.Is(err, ErrRemote) }},
		{"a unit missing", "Id=a.service\nLoadState=loaded\n\nUNITSEXIT\t0\t\n", func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "no answer for b.service")
		}},
		{"garbage exit", "\nUNITSEXIT\tx\t\n", func(err error) bool { return errors.Is(err, ErrRemote) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseNodeStatus([]byte(tt.out), units)
			if !tt.want(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
