package observed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// ProbeResult is one health probe's answer.
type ProbeResult struct {
	OK       bool
	Detail   string
	Duration time.Duration
	// Skipped: the probe was not run (LocalProber); Detail says why.
	Skipped bool
}

// Prober runs health probes against this host.
type Prober interface {
	// Probe runs one probe; host is where port probes connect (127.0.0.1
	// for a Mac service, the VM's address for a VM service).
	Probe(ctx context.Context, p *v1.Probe, host string) ProbeResult
}

// DefaultProbeTimeout bounds a probe that declares no timeout.
const DefaultProbeTimeout = 5 * time.Second

// NetProber is the real Prober: TCP, HTTP, a shell command, the process
// table, the network interfaces.
type NetProber struct{}

var _ Prober = NetProber{}

// Probe implements Prober.
func (NetProber) Probe(ctx context.Context, p *v1.Probe, host string) ProbeResult {
	timeout := DefaultProbeTimeout
	if p.Timeout > 0 {
		timeout = time.Duration(p.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	ok, detail := runProbe(ctx, p, host, timeout)
	if !ok && ctx.Err() == context.DeadlineExceeded {
		detail = fmt.Sprintf("no answer within %s (%s)", timeout, detail)
	}
	return ProbeResult{OK: ok, Detail: detail, Duration: time.Since(start)}
}

func runProbe(ctx context.Context, p *v1.Probe, host string, timeout time.Duration) (bool, string) {
	switch p.Type {
	case v1.ProbePort:
		addr := net.JoinHostPort(host, strconv.Itoa(p.Port))
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, fmt.Sprintf("port %s: %v", addr, unwrapNet(err))
		}
		c.Close()
		return true, "port " + addr + " open"
	case v1.ProbeHTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
		if err != nil {
			return false, err.Error()
		}
		for k, v := range p.Headers {
			req.Header.Set(k, v)
		}
		client := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return false, "GET " + p.URL + ": " + unwrapNet(err).Error()
		}
		resp.Body.Close()
		want := p.ExpectStatus
		good := resp.StatusCode == want || (want == 0 && resp.StatusCode >= 200 && resp.StatusCode < 400)
		if !good {
			exp := "2xx or 3xx"
			if want != 0 {
				exp = strconv.Itoa(want)
			}
			return false, fmt.Sprintf("GET %s: status %d, want %s", p.URL, resp.StatusCode, exp)
		}
		return true, fmt.Sprintf("GET %s: status %d", p.URL, resp.StatusCode)
	case v1.ProbeCommand:
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", p.Command)
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			msg := strings.TrimSpace(string(out))
			if len(msg) > 200 {
				msg = msg[:200]
			}
			return false, fmt.Sprintf("command %q: %v %s", p.Command, err, msg)
		}
		return true, "command exited 0"
	case v1.ProbeProcess:
		cmd := exec.CommandContext(ctx, "pgrep", "-f", "--", p.Process)
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return true, "process " + p.Process + " running"
		case errors.As(err, &ee) && ee.ExitCode() == 1:
			return false, "no process matches " + p.Process
		}
		return false, "pgrep: " + err.Error()
	case v1.ProbeInterface:
		iface, err := net.InterfaceByName(p.Interface)
		if err != nil {
			return false, "interface " + p.Interface + ": " + err.Error()
		}
		if iface.Flags&net.FlagUp == 0 {
			return false, "interface " + p.Interface + " is down"
		}
		return true, "interface " + p.Interface + " up"
	}
	return false, "unknown probe type " + p.Type
}

func unwrapNet(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// LocalProber is a Prober for --local: probes that would reach past this
// host (a command that runs ssh, an http or port probe of a host other
// than this one, any probe of a VM service) are not run; their result is
// Skipped, and they read as unprobed, not down.
type LocalProber struct{ Prober }

// Probe implements Prober.
func (l LocalProber) Probe(ctx context.Context, p *v1.Probe, host string) ProbeResult {
	if why := reachesOut(p, host); why != "" {
		return ProbeResult{Skipped: true, Detail: "--local: not probed (" + why + ")"}
	}
	return l.Prober.Probe(ctx, p, host)
}

// reachesOut says why a probe would leave this host, or "".
func reachesOut(p *v1.Probe, host string) string {
	if host != "" && host != "127.0.0.1" && host != "localhost" && host != "::1" {
		return "it connects to " + host
	}
	if p.Type == v1.ProbeCommand {
		if f := strings.Fields(p.Command); len(f) > 0 && (f[0] == "ssh" || strings.HasSuffix(f[0], "/ssh")) {
			return "its command runs ssh"
		}
	}
	if p.Type == v1.ProbeHTTP {
		if u := p.URL; u != "" && !strings.Contains(u, "://127.0.0.1") && !strings.Contains(u, "://localhost") && !strings.Contains(u, "://[::1]") {
			return "its URL is not on this host"
		}
	}
	return ""
}
