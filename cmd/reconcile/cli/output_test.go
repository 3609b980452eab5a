package cli

import "testing"

func TestColorWanted(t *testing.T) {
	for _, tc := range []struct {
		terminal bool
		env      map[string]string
		want     bool
	}{
		{true, nil, true},
		{false, nil, false},
		{true, map[string]string{"NO_COLOR": "1"}, false},
		{true, map[string]string{"TERM": "dumb"}, false},
		{true, map[string]string{"TERM": "xterm-256color"}, true},
	} {
		if got := colorWanted(tc.terminal, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("colorWanted(%v, %v) = %v, want %v", tc.terminal, tc.env, got, tc.want)
		}
	}
}
