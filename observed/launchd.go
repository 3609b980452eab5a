package observed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors callers decide on.
var (
	// ErrNotLoaded: launchd has no such service in that domain.
	ErrNotLoaded = errors.New("not loaded")
	// ErrNoLaunchd: this host has no launchctl (Linux): launchd's state is
	// unknown, which is neither drift nor an error.
	ErrNoLaunchd = errors.New("launchctl not found on this host")
)

// ServiceInfo is what `launchctl print <domain>/<label>` says of a service.
type ServiceInfo struct {
	Target       string // gui/501/com.sanctum.x
	Path         string // the plist it was loaded from
	State        string // running, not running, ...
	PID          int
	LastExitCode string
	Program      string
	Arguments    []string
}

// LaunchctlError is a launchctl invocation that failed.
type LaunchctlError struct {
	Args   []string
	Code   int
	Stderr string
}

func (e *LaunchctlError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Sprintf("launchctl %s: exit %d: %s", strings.Join(e.Args, " "), e.Code, msg)
}

// Launchd is the door to launchd. Targets are <domain>/<label>, domains
// gui/<uid> or user/<uid>.
type Launchd interface {
	// Available reports ErrNoLaunchd when launchctl cannot be asked.
	Available() error
	Print(ctx context.Context, target string) (*ServiceInfo, error)
	// Disabled lists the labels print-disabled reports as disabled.
	Disabled(ctx context.Context, domain string) (map[string]bool, error)
	Bootstrap(ctx context.Context, domain, plistPath string) error
	Bootout(ctx context.Context, target string) error
	Enable(ctx context.Context, target string) error
}

// Launchctl runs the launchctl found on PATH.
type Launchctl struct {
	path string
	err  error
}

var _ Launchd = (*Launchctl)(nil)

// NewLaunchctl looks launchctl up once.
func NewLaunchctl() *Launchctl {
	p, err := exec.LookPath("launchctl")
	if err != nil {
		return &Launchctl{err: ErrNoLaunchd}
	}
	return &Launchctl{path: p}
}

// Available implements Launchd.
func (l *Launchctl) Available() error { return l.err }

func (l *Launchctl) run(ctx context.Context, args ...string) (string, error) {
	if l.err != nil {
		return "", l.err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, l.path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), &LaunchctlError{Args: args, Code: ee.ExitCode(), Stderr: stderr.String() + stdout.String()}
	}
	if err != nil {
		return "", fmt.Errorf("launchctl %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

// Print implements Launchd.
func (l *Launchctl) Print(ctx context.Context, target string) (*ServiceInfo, error) {
	out, err := l.run(ctx, "print", target)
	var le *LaunchctlError
	if errors.As(err, &le) && (le.Code == 113 || strings.Contains(le.Stderr, "Could not find service")) {
		return nil, ErrNotLoaded
	}
	if err != nil {
		return nil, err
	}
	info, err := ParsePrint(out)
	if err != nil {
		return nil, fmt.Errorf("launchctl print %s: %w", target, err)
	}
	info.Target = target
	return info, nil
}

// Disabled implements Launchd.
func (l *Launchctl) Disabled(ctx context.Context, domain string) (map[string]bool, error) {
	out, err := l.run(ctx, "print-disabled", domain)
	if err != nil {
		return nil, err
	}
	return ParsePrintDisabled(out), nil
}

// Bootstrap implements Launchd.
func (l *Launchctl) Bootstrap(ctx context.Context, domain, plistPath string) error {
	_, err := l.run(ctx, "bootstrap", domain, plistPath)
	return err
}

// Bootout implements Launchd.
func (l *Launchctl) Bootout(ctx context.Context, target string) error {
	_, err := l.run(ctx, "bootout", target)
	return err
}

// Enable implements Launchd.
func (l *Launchctl) Enable(ctx context.Context, target string) error {
	_, err := l.run(ctx, "enable", target)
	return err
}

// ParsePrint reads the service block of `launchctl print`: "key = value"
// lines, with "arguments = {" blocks of one argument per line.
func ParsePrint(out string) (*ServiceInfo, error) {
	info := &ServiceInfo{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	depth := 0
	inArgs := false
	sawHeader := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case !sawHeader:
			if !strings.HasSuffix(line, "= {") {
				return nil, fmt.Errorf("unexpected first line %q", line)
			}
			sawHeader = true
			depth = 1
			continue
		case line == "}":
			depth--
			inArgs = false
			continue
		case strings.HasSuffix(line, "= {"):
			depth++
			inArgs = depth == 2 && strings.TrimSpace(strings.TrimSuffix(line, "= {")) == "arguments"
			continue
		}
		if inArgs {
			info.Arguments = append(info.Arguments, line)
			continue
		}
		if depth != 1 {
			continue
		}
		key, value, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		switch key {
		case "path":
			info.Path = value
		case "state":
			info.State = value
		case "program":
			info.Program = value
		case "pid":
			if n, err := strconv.Atoi(value); err == nil {
				info.PID = n
			}
		case "last exit code":
			info.LastExitCode = value
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !sawHeader {
		return nil, errors.New("empty output")
	}
	return info, nil
}

// ParsePrintDisabled reads `launchctl print-disabled <domain>`: lines such as
// "com.x" => disabled (or => true on newer systems) inside a block.
func ParsePrintDisabled(out string) map[string]bool {
	disabled := make(map[string]bool)
	for _, line := range strings.Split(out, "\n") {
		label, state, ok := strings.Cut(strings.TrimSpace(line), "=>")
		if !ok {
			continue
		}
		label = strings.Trim(strings.TrimSpace(label), `"`)
		switch strings.TrimSpace(state) {
		case "disabled", "true":
			disabled[label] = true
		}
	}
	return disabled
}

// ReloadPolicy bounds the waits of a reload: bootout finishes
// asynchronously, and a bootstrap right after it can fail with
// "5: Input/output error" until it has.
type ReloadPolicy struct {
	PollInterval  time.Duration
	PollTries     int
	RetryInterval time.Duration
	RetryTries    int
}

// DefaultReloadPolicy waits at most about 5 s for a bootout and retries a
// bootstrap for about 2 s.
var DefaultReloadPolicy = ReloadPolicy{PollInterval: 100 * time.Millisecond, PollTries: 50,
	RetryInterval: 250 * time.Millisecond, RetryTries: 8}

// BootoutAndWait boots a service out and polls until launchd no longer
// has it, within the policy's bound.
func BootoutAndWait(ctx context.Context, l Launchd, target string, p ReloadPolicy) error {
	if err := l.Bootout(ctx, target); err != nil {
		return err
	}
	for i := 0; i < p.PollTries; i++ {
		_, err := l.Print(ctx, target)
		if errors.Is(err, ErrNotLoaded) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := sleep(ctx, p.PollInterval); err != nil {
			return err
		}
	}
	return fmt.Errorf("bootout %s: still loaded after %d checks, %s apart", target, p.PollTries, p.PollInterval)
}

// Unload boots a service out, if launchd has it, and waits until it is
// gone: what a prune, a retire and a reload do first.
func Unload(ctx context.Context, l Launchd, target string, p ReloadPolicy) (wasLoaded bool, err error) {
	_, err = l.Print(ctx, target)
	switch {
	case errors.Is(err, ErrNotLoaded):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, BootoutAndWait(ctx, l, target, p)
}

// Reload is the one sequence that makes launchd run a plist anew: boot
// the target out when it is loaded (as the caller's print just said) and
// wait until it is gone, then bootstrap the plist (retrying while the
// label is on its way out). tries counts the bootstraps.
func Reload(ctx context.Context, l Launchd, target, domain, plistPath string, loaded bool, p ReloadPolicy) (tries int, err error) {
	if loaded {
		if err := BootoutAndWait(ctx, l, target, p); err != nil {
			return 0, err
		}
	}
	return BootstrapWithRetry(ctx, l, domain, plistPath, p)
}

// BootstrapWithRetry bootstraps, retrying only on launchd's
// "5: Input/output error" (the label is still on its way out).
func BootstrapWithRetry(ctx context.Context, l Launchd, domain, plistPath string, p ReloadPolicy) (tries int, err error) {
	for tries = 1; ; tries++ {
		err = l.Bootstrap(ctx, domain, plistPath)
		var le *LaunchctlError
		if err == nil || !errors.As(err, &le) || le.Code != 5 || tries >= p.RetryTries {
			return tries, err
		}
		if err := sleep(ctx, p.RetryInterval); err != nil {
			return tries, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DryRunLaunchd passes queries through and records every state change
// instead of making it, answering later queries as if it had been made.
type DryRunLaunchd struct {
	Launchd
	mu      sync.Mutex
	ops     []Op
	bootout map[string]bool
}

var _ Launchd = (*DryRunLaunchd)(nil)

// NewDryRunLaunchd decorates l.
func NewDryRunLaunchd(l Launchd) *DryRunLaunchd {
	return &DryRunLaunchd{Launchd: l, bootout: make(map[string]bool)}
}

// Ops returns the recorded state changes.
func (d *DryRunLaunchd) Ops() []Op {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Op(nil), d.ops...)
}

func (d *DryRunLaunchd) record(verb, target string) {
	d.mu.Lock()
	d.ops = append(d.ops, Op{Verb: verb, Path: target})
	d.mu.Unlock()
}

// Print implements Launchd.
func (d *DryRunLaunchd) Print(ctx context.Context, target string) (*ServiceInfo, error) {
	d.mu.Lock()
	gone := d.bootout[target]
	d.mu.Unlock()
	if gone {
		return nil, ErrNotLoaded
	}
	return d.Launchd.Print(ctx, target)
}

// Plans implements planner.
func (d *DryRunLaunchd) Plans() bool { return true }

// Bootstrap implements Launchd.
func (d *DryRunLaunchd) Bootstrap(_ context.Context, domain, plistPath string) error {
	d.record("bootstrap "+domain, plistPath)
	return nil
}

// Bootout implements Launchd.
func (d *DryRunLaunchd) Bootout(_ context.Context, target string) error {
	d.record("bootout", target)
	d.mu.Lock()
	d.bootout[target] = true
	d.mu.Unlock()
	return nil
}

// Enable implements Launchd.
func (d *DryRunLaunchd) Enable(_ context.Context, target string) error {
	d.record("enable", target)
	return nil
}

// ReadOnlyLaunchd refuses every state change.
type ReadOnlyLaunchd struct{ Launchd }

var _ Launchd = ReadOnlyLaunchd{}

// Bootstrap implements Launchd.
func (r ReadOnlyLaunchd) Bootstrap(_ context.Context, domain, _ string) error {
	return readOnly("bootstrap", domain)
}

// Bootout implements Launchd.
func (r ReadOnlyLaunchd) Bootout(_ context.Context, target string) error {
	return readOnly("bootout", target)
}

// Enable implements Launchd.
func (r ReadOnlyLaunchd) Enable(_ context.Context, target string) error {
	return readOnly("enable", target)
}

// NoLaunchd is the launchd of a host that has none (and of a pass that was
// given none): every question answers ErrNoLaunchd.
type NoLaunchd struct{}

var _ Launchd = NoLaunchd{}

// Available implements Launchd.
func (NoLaunchd) Available() error { return ErrNoLaunchd }

// Print implements Launchd.
func (NoLaunchd) Print(context.Context, string) (*ServiceInfo, error) { return nil, ErrNoLaunchd }

// Disabled implements Launchd.
func (NoLaunchd) Disabled(context.Context, string) (map[string]bool, error) { return nil, ErrNoLaunchd }

// Bootstrap implements Launchd.
func (NoLaunchd) Bootstrap(context.Context, string, string) error { return ErrNoLaunchd }

// Bootout implements Launchd.
func (NoLaunchd) Bootout(context.Context, string) error { return ErrNoLaunchd }

// Enable implements Launchd.
func (NoLaunchd) Enable(context.Context, string) error { return ErrNoLaunchd }
