package observed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
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

// ServiceInfo is what `launchctl print <domain>/<label>` says of a service:
// its run state and the definition launchd loaded, which is what runs
// whatever the plist on disk says now.
type ServiceInfo struct {
	Target       string // gui/501/com.sanctum.x
	Path         string // the plist it was loaded from
	State        string // running, not running, ...
	PID          int
	Runs         int    // how often launchd started it since it was loaded
	LastExitCode string // "0", "78: EX_CONFIG", "(never exited)"; "" when print shows none
	// LastSignal is "last terminating signal" (e.g. "Terminated: 15"):
	// the last run was killed rather than exited.
	LastSignal string
	Program    string
	Arguments  []string

	// The loaded definition, key by key as print shows it.
	Environment      map[string]string // the "environment" block (not the inherited or default ones)
	WorkingDirectory string
	StdoutPath       string
	StderrPath       string
	Properties       []string // "keepalive", "runatload", "inferred program", ...
	RunInterval      int      // StartInterval, from "run interval = N seconds"
	// CalendarIntervals are the descriptors of the calendar-interval event
	// triggers (StartCalendarInterval), each as {"Hour": 7, "Minute": 30}.
	CalendarIntervals []map[string]int
	SpawnType         string // ProcessType: "interactive" of "interactive (4)"
	MinimumRuntime    int    // ThrottleInterval
	// Semaphores are the KeepAlive conditions launchd keeps as semaphores,
	// by print's name: "successful exit" => "0" (SuccessfulExit false),
	// "after crash" => "1" (Crashed true).
	Semaphores map[string]string
	// WatchPaths, QueueDirectories and PathState are the descriptors of
	// the file-system event triggers (stream com.apple.fsevents.matching)
	// launchd made of those keys.
	WatchPaths       []string
	QueueDirectories []string
	PathState        map[string]bool
	Nice             int // "nice = N", shown by older launchd only
	// SoftLimits and HardLimits are the "resource limits" block, by print's
	// names of the limits (maxfiles, core, ...): a number or "(infinity)".
	SoftLimits map[string]string
	HardLimits map[string]string
	// Shown holds every top-level key and block print showed ("program",
	// "environment", "properties", ...); a key it does not show is either
	// unset (working directory, stdout path, run interval) or not exposed
	// by this launchd, and only Definition says which.
	Shown map[string]bool
	// Definition: parsed from a full print, where an absent key means
	// the loaded definition does not set it.
	Definition bool
}

// HasProperty reports whether print listed the property (keepalive,
// runatload, ...).
func (i *ServiceInfo) HasProperty(name string) bool {
	for _, p := range i.Properties {
		if p == name {
			return true
		}
	}
	return false
}

// LastExit reads LastExitCode: the code of the last run and whether
// there was one ("(never exited)" and an empty line are none). A run
// ended by a signal reads as exited with code -1.
func (i *ServiceInfo) LastExit() (code int, exited bool) {
	v := strings.TrimSpace(i.LastExitCode)
	if v == "" || strings.HasPrefix(v, "(") {
		if i.LastSignal != "" {
			return -1, true
		}
		return 0, false
	}
	num, _, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil {
		return -1, true
	}
	return n, true
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
	return runTool(ctx, 30*time.Second, l.path, args, func(code int, out string) error {
		return &LaunchctlError{Args: args, Code: code, Stderr: out}
	})
}

// runTool runs a service manager's command line tool (launchctl,
// systemctl) within timeout: its stdout, and on a non-zero exit also the
// error onExit makes of the exit code and all it printed (stderr first).
func runTool(ctx context.Context, timeout time.Duration, path string, args []string, onExit func(code int, out string) error) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), onExit(ee.ExitCode(), stderr.String()+stdout.String())
	}
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", filepath.Base(path), strings.Join(args, " "), err)
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

// printBlock is one "name = {" (or "name => {") block of launchctl print:
// its lines in order (indentation removed) and its nested blocks.
type printBlock struct {
	name     string
	list     bool // a "name => [" list of "0 = value" lines
	lines    []string
	children []*printBlock
}

func (b *printBlock) child(name string) *printBlock {
	for _, c := range b.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// ParsePrint reads `launchctl print <domain>/<label>`: a block of
// "key = value" lines, "name = {" blocks nested in it (arguments one per
// line, environments of "KEY => value" lines, event triggers whose
// descriptor holds a calendar interval as "\"Hour\" => 7"), and lines of
// neither shape, which are skipped. The real launchctl and the test
// double print this format and this is the one parser of both.
func ParsePrint(out string) (*ServiceInfo, error) {
	root, err := parsePrintBlocks(out)
	if err != nil {
		return nil, err
	}
	info := &ServiceInfo{Shown: map[string]bool{}, Definition: true}
	for _, line := range root.lines {
		key, value, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		info.Shown[key] = true
		switch key {
		case "path":
			info.Path = value
		case "state":
			info.State = value
		case "program":
			info.Program = value
		case "pid":
			info.PID, _ = strconv.Atoi(value)
		case "runs":
			info.Runs, _ = strconv.Atoi(value)
		case "last exit code":
			info.LastExitCode = value
		case "last terminating signal":
			info.LastSignal = value
		case "working directory":
			info.WorkingDirectory = value
		case "stdout path":
			info.StdoutPath = value
		case "stderr path":
			info.StderrPath = value
		case "run interval":
			info.RunInterval, _ = strconv.Atoi(strings.TrimSuffix(value, " seconds"))
		case "minimum runtime":
			info.MinimumRuntime, _ = strconv.Atoi(value)
		case "nice":
			info.Nice, _ = strconv.Atoi(value)
		case "spawn type":
			info.SpawnType, _, _ = strings.Cut(value, " (")
		case "properties":
			for _, p := range strings.Split(value, "|") {
				if p = strings.TrimSpace(p); p != "" {
					info.Properties = append(info.Properties, p)
				}
			}
		}
	}
	for _, b := range root.children {
		info.Shown[b.name] = true
		switch b.name {
		case "arguments":
			info.Arguments = append([]string{}, b.lines...)
		case "environment":
			info.Environment = arrowMap(b.lines)
		case "semaphores":
			info.Semaphores = arrowMap(b.lines)
		case "properties":
			// Older launchd prints the properties as a block of flags,
			// "keepalive = 0", "runatload = 1".
			for _, l := range b.lines {
				if k, v, ok := strings.Cut(l, " = "); ok && v == "1" {
					info.Properties = append(info.Properties, k)
				}
			}
		case "resource limits":
			for k, v := range arrowMap(b.lines) {
				name, kind, _ := strings.Cut(k, " (")
				switch kind {
				case "soft)":
					info.SoftLimits = setString(info.SoftLimits, name, v)
				case "hard)":
					info.HardLimits = setString(info.HardLimits, name, v)
				}
			}
		case "event triggers":
			for _, t := range b.children {
				d := t.child("descriptor")
				if scalar(t.lines, "stream") == "com.apple.fsevents.matching" && d != nil {
					// WatchPaths, QueueDirectories and a KeepAlive
					// PathState: "WatchPaths" => [ 0 = "/p" ... ].
					if l := d.child("WatchPaths"); l != nil {
						info.WatchPaths = append(info.WatchPaths, listValues(l.lines)...)
					}
					if l := d.child("QueueDirectories"); l != nil {
						info.QueueDirectories = append(info.QueueDirectories, listValues(l.lines)...)
					}
					if ps := d.child("PathState"); ps != nil {
						for k, v := range arrowMap(ps.lines) {
							if info.PathState == nil {
								info.PathState = map[string]bool{}
							}
							info.PathState[strings.Trim(k, `"`)] = v == "true" || v == "1"
						}
					}
					continue
				}
				if scalar(t.lines, "stream") != "com.apple.launchd.calendarinterval" {
					continue
				}
				cal := map[string]int{}
				if d := t.child("descriptor"); d != nil {
					for k, v := range arrowMap(d.lines) {
						if n, err := strconv.Atoi(v); err == nil {
							cal[strings.Trim(k, `"`)] = n
						}
					}
				}
				info.CalendarIntervals = append(info.CalendarIntervals, cal)
			}
		}
	}
	return info, nil
}

// parsePrintBlocks builds the block tree of print's output. Inside an
// arguments block every line is an argument, an empty one included.
func parsePrintBlocks(out string) (*printBlock, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var stack []*printBlock
	var root *printBlock
	for sc.Scan() {
		raw := strings.TrimRight(sc.Text(), "\r")
		line := strings.TrimSpace(raw)
		if root == nil {
			if line == "" {
				continue
			}
			if !strings.HasSuffix(line, "= {") {
				return nil, fmt.Errorf("unexpected first line %q", line)
			}
			root = &printBlock{}
			stack = []*printBlock{root}
			continue
		}
		if len(stack) == 0 {
			continue // after the closing brace
		}
		top := stack[len(stack)-1]
		switch {
		case line == "}":
			stack = stack[:len(stack)-1]
		case top.name == "arguments":
			top.lines = append(top.lines, strings.TrimLeft(raw, "\t"))
		case line == "":
		case top.list && line == "]":
			stack = stack[:len(stack)-1]
		case strings.HasSuffix(line, " => [") || strings.HasSuffix(line, " = ["):
			name, ok := strings.CutSuffix(line, " => [")
			if !ok {
				name = strings.TrimSuffix(line, " = [")
			}
			b := &printBlock{name: strings.Trim(name, `"`), list: true}
			top.children = append(top.children, b)
			stack = append(stack, b)
		case strings.HasSuffix(line, " = {") || strings.HasSuffix(line, " => {"):
			name, ok := strings.CutSuffix(line, " = {")
			if !ok {
				name = strings.TrimSuffix(line, " => {")
			}
			b := &printBlock{name: strings.Trim(name, `"`)}
			top.children = append(top.children, b)
			stack = append(stack, b)
		default:
			top.lines = append(top.lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if root == nil {
		return nil, errors.New("empty output")
	}
	return root, nil
}

// arrowMap reads "KEY => value" lines.
func arrowMap(lines []string) map[string]string {
	m := make(map[string]string, len(lines))
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, " => "); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// listValues reads the "0 = \"value\"" lines of a list, in order.
func listValues(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if _, v, ok := strings.Cut(l, " = "); ok {
			out = append(out, strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	return out
}

func setString(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// scalar is the value of "key = value" among lines, or "".
func scalar(lines []string, key string) string {
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, " = "); ok && k == key {
			return v
		}
	}
	return ""
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
