package observed

import (
	"context"
	"testing"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

type countingProber struct{ n int }

func (c *countingProber) Probe(context.Context, *v1.Probe, string) ProbeResult {
	c.n++
	return ProbeResult{OK: true}
}

// TestLocalProber: --local runs only the probes that stay on this host.
func TestLocalProber(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    v1.Probe
		host string
		skip bool
	}{
		{"port here", v1.Probe{Type: v1.ProbePort, Port: 80}, "127.0.0.1", false},
		{"port on the VM", v1.Probe{Type: v1.ProbePort, Port: 80}, "192.168.64.2", true},
		{"ssh command", v1.Probe{Type: v1.ProbeCommand, Command: "ssh openclaw nc -z 127.0.0.1 8000"}, "127.0.0.1", true},
		{"ssh by path", v1.Probe{Type: v1.ProbeCommand, Command: "/usr/bin/ssh vm true"}, "127.0.0.1", true},
		{"local command", v1.Probe{Type: v1.ProbeCommand, Command: "/usr/bin/true"}, "127.0.0.1", false},
		{"http here", v1.Probe{Type: v1.ProbeHTTP, URL: "http://127.0.0.1:1138/health"}, "127.0.0.1", false},
		{"http elsewhere", v1.Probe{Type: v1.ProbeHTTP, URL: "http://192.168.64.2:18789/health"}, "127.0.0.1", true},
	} {
		c := &countingProber{}
		r := LocalProber{Prober: c}.Probe(context.Background(), &tc.p, tc.host)
		if r.Skipped != tc.skip || (c.n == 0) != tc.skip {
			t.Errorf("%s: skipped %v (ran %d), want skipped %v", tc.name, r.Skipped, c.n, tc.skip)
		}
	}
}
