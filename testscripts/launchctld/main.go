// Command launchctld is the launchctl double of the testscripts: this Linux
// machine has no launchd. It is built once by the suites' TestMain, a small
// program of its own, so that the dozens of launchctl calls of each pass
// cost a small process each rather than a start of the test binary.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"howett.net/plist"
)

// The launchctl double. This Linux machine has no launchd, so scripts that
// need one run `mocklaunchctl`, which puts a `launchctl` on PATH that runs
// launchctlDouble. It keeps launchd's state in a JSON file between calls and
// behaves like launchctl for the verbs reconcile uses, failure modes
// included:
//
//   - print <domain>/<label>: the service block in launchctl's format, or
//     `Could not find service "<label>" in domain for ...` and exit 113;
//   - print-disabled <domain>: the "disabled services = { ... }" block;
//   - bootstrap <domain> <plist>: loads it; `Bootstrap failed: 5:
//     Input/output error` when the label is loaded or still on its way out,
//     `2: No such file or directory` for a missing plist, `119: Service is
//     disabled` for a disabled label;
//   - bootout <domain>/<label>: asynchronous, as launchd's is: the label
//     lingers (still printed, still blocking a bootstrap) for
//     $LAUNCHCTL_LINGER further calls that touch it (default 2);
//     `Boot-out failed: 3: No such process` when it is not loaded;
//   - enable / disable <domain>/<label>;
//   - kickstart [-k] <domain>/<label>: one run of a job launchd does not
//     keep alive, exiting with $LAUNCHCTL_EXIT_CODE (default 0), as does
//     the run at load of a RunAtLoad job that is not kept alive.
//
// print shows the definition the plist held at bootstrap (program,
// arguments, environment, working directory, stdout/stderr paths,
// properties keepalive and runatload, run interval, calendar event
// triggers, spawn type, minimum runtime; a KeepAlive dictionary's
// SuccessfulExit and Crashed as semaphores, its PathState, WatchPaths and
// QueueDirectories as file-system event triggers, resource limits), runs
// and the last exit code, in launchctl's layout; reconcile reads it with
// observed.ParsePrint, the parser of the real output. Nice is not printed:
// the print of current macOS shows no nice line. A plist whose
// LimitLoadToSessionType leaves out the domain's session (gui: Aqua, user:
// Background) fails to bootstrap with 5: Input/output error, as launchd's
// does.
//
// Every call is appended to $LAUNCHCTL_LOG as one line of its arguments.

type launchdState struct {
	Services map[string]*launchdService `json:"services"` // by domain/label
	Disabled map[string]bool            `json:"disabled"` // domain/label
	// Settling counts, per label just gone, the bootstraps that still fail
	// with "5: Input/output error" ($LAUNCHCTL_BOOTSTRAP_EIO, default 0):
	// launchd may say a label is gone before it takes it again.
	Settling map[string]int `json:"settling"`
	NextPID  int            `json:"nextPid"`
}

type launchdService struct {
	Path      string   `json:"path"`
	Program   string   `json:"program"`
	Arguments []string `json:"arguments"`
	PID       int      `json:"pid"`
	Running   bool     `json:"running"`
	BootedOut bool     `json:"bootedOut"` // on its way out
	Lingering int      `json:"lingering"` // calls that still see it
	Props     []string `json:"props"`
	// KeptRunning: launchd restarts it after a clean exit (KeepAlive true,
	// or a dictionary that does).
	KeptRunning bool `json:"keptRunning,omitempty"`
	// The loaded definition: what the plist said when it was bootstrapped.
	Environment      map[string]string `json:"environment,omitempty"`
	WorkingDirectory string            `json:"workingDirectory,omitempty"`
	StdoutPath       string            `json:"stdoutPath,omitempty"`
	StderrPath       string            `json:"stderrPath,omitempty"`
	RunInterval      int               `json:"runInterval,omitempty"`
	Calendar         []map[string]int  `json:"calendar,omitempty"`
	SpawnType        string            `json:"spawnType,omitempty"`
	MinimumRuntime   int               `json:"minimumRuntime,omitempty"`
	// A KeepAlive dictionary's SuccessfulExit and Crashed, as print's
	// semaphores ("successful exit", "after crash") with 0 or 1.
	Semaphores map[string]int `json:"semaphores,omitempty"`
	// The file-system event triggers: WatchPaths, QueueDirectories and a
	// KeepAlive dictionary's PathState.
	WatchPaths       []string        `json:"watchPaths,omitempty"`
	QueueDirectories []string        `json:"queueDirectories,omitempty"`
	PathState        map[string]bool `json:"pathState,omitempty"`
	// Resource limits by print's names (maxfiles, core, ...).
	SoftLimits map[string]int64 `json:"softLimits,omitempty"`
	HardLimits map[string]int64 `json:"hardLimits,omitempty"`
	// Runs and the last one's exit code (nil: never exited).
	Runs     int  `json:"runs"`
	LastExit *int `json:"lastExit,omitempty"`
}

// loadedPlist is what the double reads of a plist at bootstrap: the keys
// launchctl print shows.
type loadedPlist struct {
	Label                  string
	Program                string
	ProgramArguments       []string
	EnvironmentVariables   map[string]string
	WorkingDirectory       string
	StandardOutPath        string
	StandardErrorPath      string
	RunAtLoad              bool
	KeepAlive              any // a boolean or a dictionary of conditions
	StartInterval          int
	StartCalendarInterval  any // a dictionary or an array of them
	ProcessType            string
	ThrottleInterval       *int
	LowPriorityIO          bool
	WatchPaths             []string
	QueueDirectories       []string
	LimitLoadToSessionType any // a string or an array of them
	SoftResourceLimits     map[string]int64
	HardResourceLimits     map[string]int64
}

// keepAliveProperty: KeepAlive true, which print lists as the keepalive
// property. A dictionary of conditions is not that property: launchd
// keeps its SuccessfulExit and Crashed as semaphores and its PathState as
// an event trigger (print of a job with KeepAlive {SuccessfulExit: false}:
// "semaphores = { successful exit => 0 }", properties without keepalive).
func (p *loadedPlist) keepAliveProperty() bool {
	k, ok := p.KeepAlive.(bool)
	return ok && k
}

// conditions is a KeepAlive dictionary, or nil.
func (p *loadedPlist) conditions() map[string]any {
	m, _ := p.KeepAlive.(map[string]any)
	return m
}

// keptRunning: launchd keeps a process of it running after a clean
// exit (KeepAlive true, SuccessfulExit true, Crashed false, a PathState or
// an OtherJobEnabled); any other job runs and exits.
func (p *loadedPlist) keptRunning() bool {
	if p.keepAliveProperty() {
		return true
	}
	c := p.conditions()
	if se, ok := c["SuccessfulExit"].(bool); ok && se {
		return true
	}
	if cr, ok := c["Crashed"].(bool); ok && !cr {
		return true
	}
	return c["PathState"] != nil || c["OtherJobEnabled"] != nil || c["NetworkState"] != nil
}

// runsAtLoad: RunAtLoad, or a SuccessfulExit or Crashed condition, which
// launchd.plist(5) says implies it (a job must run before it can exit).
func (p *loadedPlist) runsAtLoad() bool {
	c := p.conditions()
	return p.RunAtLoad || c["SuccessfulExit"] != nil || c["Crashed"] != nil
}

// sessionTypes is LimitLoadToSessionType as a list (nil: any).
func (p *loadedPlist) sessionTypes() []string {
	switch t := p.LimitLoadToSessionType.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// limitNames are print's (and launchctl limit's) names of the resource
// limits.
var limitNames = map[string]string{"CPU": "cpu", "Core": "core", "Data": "data", "FileSize": "filesize",
	"MemoryLock": "memlock", "NumberOfFiles": "maxfiles", "NumberOfProcesses": "maxproc",
	"ResidentSetSize": "rss", "Stack": "stack"}

func printLimits(in map[string]int64) map[string]int64 {
	var out map[string]int64
	for k, v := range in {
		if name, ok := limitNames[k]; ok {
			if out == nil {
				out = map[string]int64{}
			}
			out[name] = v
		}
	}
	return out
}

// calendar is StartCalendarInterval as a list of descriptors.
func (p *loadedPlist) calendar() []map[string]int {
	var entries []any
	switch c := p.StartCalendarInterval.(type) {
	case map[string]any:
		entries = []any{c}
	case []any:
		entries = c
	}
	var out []map[string]int
	for _, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		d := map[string]int{}
		for k, v := range m {
			switch n := v.(type) {
			case uint64:
				d[k] = int(n)
			case int64:
				d[k] = int(n)
			}
		}
		out = append(out, d)
	}
	return out
}

// spawnTypes are print's names of the ProcessTypes.
var spawnTypes = map[string]string{"": "daemon (3)", "Standard": "daemon (3)", "Background": "background (5)",
	"Interactive": "interactive (4)", "Adaptive": "adaptive (6)"}

// exitCode is the code a run started by the double ends with:
// $LAUNCHCTL_EXIT_CODE, default 0.
func exitCode() int {
	n, _ := strconv.Atoi(os.Getenv("LAUNCHCTL_EXIT_CODE"))
	return n
}

func launchctlDouble() int {
	args := os.Args[1:]
	statePath := os.Getenv("LAUNCHCTL_STATE")
	if statePath == "" {
		fmt.Fprintln(os.Stderr, "launchctl double: LAUNCHCTL_STATE not set")
		return 70
	}
	if logPath := os.Getenv("LAUNCHCTL_LOG"); logPath != "" {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	// One call at a time, as launchd answers them: reconcile asks in
	// parallel (status probes), and the state file is read and rewritten
	// whole.
	lock, err := os.OpenFile(statePath+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "launchctl double:", err)
		return 70
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		fmt.Fprintln(os.Stderr, "launchctl double: lock:", err)
		return 70
	}
	st := &launchdState{Services: map[string]*launchdService{}, Disabled: map[string]bool{}, Settling: map[string]int{}, NextPID: 4000}
	if data, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(data, st); err != nil {
			fmt.Fprintln(os.Stderr, "launchctl double: state:", err)
			return 70
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "launchctl double:", err)
		return 70
	}
	if st.Settling == nil {
		st.Settling = map[string]int{}
	}
	code := st.run(args)
	data, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(statePath, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "launchctl double:", err)
		return 70
	}
	return code
}

func linger() int {
	if n, err := strconv.Atoi(os.Getenv("LAUNCHCTL_LINGER")); err == nil {
		return n
	}
	return 2
}

// touch advances a lingering bootout by one call; it reports whether the
// service is still there.
func (st *launchdState) touch(target string) (*launchdService, bool) {
	s, ok := st.Services[target]
	if !ok {
		return nil, false
	}
	if s.BootedOut {
		if s.Lingering == 0 {
			delete(st.Services, target)
			if n, err := strconv.Atoi(os.Getenv("LAUNCHCTL_BOOTSTRAP_EIO")); err == nil && n > 0 {
				st.Settling[target] = n
			}
			return nil, false
		}
		s.Lingering--
	}
	return s, true
}

func notFound(target string) int {
	domain, label := splitTarget(target)
	fmt.Fprintf(os.Stderr, "Could not find service %q in domain for user %s\n", label, strings.Replace(domain, "/", ": ", 1))
	return 113
}

func splitTarget(target string) (domain, label string) {
	i := strings.LastIndexByte(target, '/')
	if i < 0 {
		return target, ""
	}
	return target[:i], target[i+1:]
}

func (st *launchdState) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "Usage: launchctl <subcommand> ... | help [subcommand]")
		return 64
	}
	switch verb := args[0]; verb {
	case "print":
		if len(args) != 2 {
			return usage(verb)
		}
		s, ok := st.touch(args[1])
		if !ok {
			return notFound(args[1])
		}
		printService(args[1], s)
		return 0
	case "print-disabled":
		if len(args) != 2 {
			return usage(verb)
		}
		var labels []string
		for t := range st.Disabled {
			if d, l := splitTarget(t); d == args[1] {
				labels = append(labels, l)
			}
		}
		sort.Strings(labels)
		fmt.Println("disabled services = {")
		for _, l := range labels {
			fmt.Printf("\t%q => disabled\n", l)
		}
		fmt.Println("}")
		return 0
	case "bootstrap":
		if len(args) != 3 {
			return usage(verb)
		}
		data, err := os.ReadFile(args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "Bootstrap failed: 2: No such file or directory")
			return 2
		}
		var p loadedPlist
		if _, err := plist.Unmarshal(data, &p); err != nil || p.Label == "" {
			fmt.Fprintf(os.Stderr, "%s: Invalid property list\nBootstrap failed: 5: Input/output error\n", args[2])
			return 5
		}
		target := args[1] + "/" + p.Label
		// gui/<uid> is the Aqua session, user/<uid> the Background one:
		// a plist limited to other session types does not load there.
		session := map[string]string{"gui": "Aqua", "user": "Background"}[strings.SplitN(args[1], "/", 2)[0]]
		if types := p.sessionTypes(); types != nil && !slices.Contains(types, session) {
			fmt.Fprintln(os.Stderr, "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.")
			return 5
		}
		if st.Disabled[target] {
			fmt.Fprintln(os.Stderr, "Bootstrap failed: 119: Service is disabled")
			return 119
		}
		if st.Settling[target] > 0 {
			st.Settling[target]--
			fmt.Fprintln(os.Stderr, "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.")
			return 5
		}
		if _, loaded := st.touch(target); loaded {
			fmt.Fprintln(os.Stderr, "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.")
			return 5
		}
		s := &launchdService{Path: args[2], Program: p.Program, Arguments: p.ProgramArguments,
			Environment: p.EnvironmentVariables, WorkingDirectory: p.WorkingDirectory,
			StdoutPath: p.StandardOutPath, StderrPath: p.StandardErrorPath, RunInterval: p.StartInterval,
			Calendar: p.calendar(), SpawnType: spawnTypes[p.ProcessType], MinimumRuntime: 10}
		if s.SpawnType == "" {
			s.SpawnType = "daemon (3)"
		}
		if p.ThrottleInterval != nil {
			s.MinimumRuntime = *p.ThrottleInterval
		}
		if s.Program == "" && len(p.ProgramArguments) > 0 {
			s.Program = p.ProgramArguments[0]
		}
		s.WatchPaths, s.QueueDirectories = p.WatchPaths, p.QueueDirectories
		s.SoftLimits, s.HardLimits = printLimits(p.SoftResourceLimits), printLimits(p.HardResourceLimits)
		if c := p.conditions(); c != nil {
			for key, name := range map[string]string{"SuccessfulExit": "successful exit", "Crashed": "after crash"} {
				if b, ok := c[key].(bool); ok {
					if s.Semaphores == nil {
						s.Semaphores = map[string]int{}
					}
					s.Semaphores[name] = map[bool]int{true: 1, false: 0}[b]
				}
			}
			if ps, ok := c["PathState"].(map[string]any); ok {
				s.PathState = map[string]bool{}
				for path, v := range ps {
					b, _ := v.(bool)
					s.PathState[path] = b
				}
			}
		}
		if p.keepAliveProperty() {
			s.Props = append(s.Props, "keepalive")
		}
		s.KeptRunning = p.keptRunning()
		if p.RunAtLoad {
			s.Props = append(s.Props, "runatload")
		}
		if p.LowPriorityIO {
			s.Props = append(s.Props, "low priority i/o")
		}
		if p.Program == "" {
			s.Props = append(s.Props, "inferred program")
		}
		switch {
		case p.keptRunning() && p.runsAtLoad() || p.keepAliveProperty():
			// launchd keeps it running.
			st.NextPID++
			s.PID, s.Running, s.Runs = st.NextPID, true, 1
		case p.runsAtLoad():
			// A job launchd does not keep alive runs once at load and
			// exits.
			code := exitCode()
			s.Runs, s.LastExit = 1, &code
		}
		st.Services[target] = s
		return 0
	case "kickstart":
		// kickstart [-k] <target>: one run of a job launchd does not keep
		// alive, ending with $LAUNCHCTL_EXIT_CODE; a kept-alive one is
		// restarted (-k) or left running.
		target := args[len(args)-1]
		if len(args) < 2 || len(args) > 3 {
			return usage(verb)
		}
		s, ok := st.touch(target)
		if !ok || s.BootedOut {
			return notFound(target)
		}
		s.Runs++
		if s.KeptRunning || slices.Contains(s.Props, "keepalive") {
			st.NextPID++
			s.PID, s.Running = st.NextPID, true
			return 0
		}
		code := exitCode()
		s.LastExit, s.Running, s.PID = &code, false, 0
		return 0
	case "bootout":
		if len(args) != 2 {
			return usage(verb)
		}
		s, ok := st.Services[args[1]]
		if !ok {
			fmt.Fprintln(os.Stderr, "Boot-out failed: 3: No such process")
			return 3
		}
		if s.BootedOut {
			st.touch(args[1])
			fmt.Fprintln(os.Stderr, "Boot-out failed: 36: Operation now in progress")
			return 36
		}
		s.Running, s.PID, s.BootedOut = false, 0, true
		if s.Lingering = linger(); s.Lingering == 0 {
			delete(st.Services, args[1])
		}
		return 0
	case "enable", "disable":
		if len(args) != 2 {
			return usage(verb)
		}
		if verb == "disable" {
			st.Disabled[args[1]] = true
		} else {
			delete(st.Disabled, args[1])
		}
		return 0
	default:
		fmt.Fprintf(os.Stderr, "Unrecognized subcommand: %s\n", verb)
		return 64
	}
}

func usage(verb string) int {
	fmt.Fprintf(os.Stderr, "Usage: launchctl %s <service-target>\n", verb)
	return 64
}

// printService prints a service as launchctl print does on macOS 14 and
// 15: the blocks and keys of the definition it loaded, in launchd's order
// and tab indentation, with the lines reconcile does not read (domain,
// coalitions, jetsam) kept so that its parser meets them.
func printService(target string, s *launchdService) {
	domain, label := splitTarget(target)
	state := "not running"
	if s.Running {
		state = "running"
	}
	fmt.Printf("%s = {\n", target)
	fmt.Printf("\tactive count = %d\n", map[bool]int{true: 1, false: 0}[s.Running])
	fmt.Printf("\tpath = %s\n", s.Path)
	fmt.Printf("\ttype = LaunchAgent\n")
	fmt.Printf("\tstate = %s\n\n", state)
	fmt.Printf("\tprogram = %s\n", s.Program)
	fmt.Printf("\targuments = {\n")
	for _, a := range s.Arguments {
		fmt.Printf("\t\t%s\n", a)
	}
	fmt.Printf("\t}\n\n")
	if s.WorkingDirectory != "" {
		fmt.Printf("\tworking directory = %s\n\n", s.WorkingDirectory)
	}
	if s.StdoutPath != "" {
		fmt.Printf("\tstdout path = %s\n", s.StdoutPath)
	}
	if s.StderrPath != "" {
		fmt.Printf("\tstderr path = %s\n", s.StderrPath)
	}
	fmt.Printf("\tinherited environment = {\n\t\tSSH_AUTH_SOCK => /private/tmp/com.apple.launchd.double/Listeners\n\t}\n\n")
	fmt.Printf("\tdefault environment = {\n\t\tPATH => /usr/bin:/bin:/usr/sbin:/sbin\n\t}\n\n")
	fmt.Printf("\tenvironment = {\n\t\tOSLogRateLimit => 64\n")
	keys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("\t\t%s => %s\n", k, s.Environment[k])
	}
	fmt.Printf("\t\tXPC_SERVICE_NAME => %s\n\t}\n\n", label)
	fmt.Printf("\tdomain = %s [100005]\n", domain)
	fmt.Printf("\tasid = 100005\n")
	fmt.Printf("\tminimum runtime = %d\n", s.MinimumRuntime)
	fmt.Printf("\texit timeout = 5\n")
	fmt.Printf("\truns = %d\n", s.Runs)
	if s.PID > 0 {
		fmt.Printf("\tpid = %d\n", s.PID)
		fmt.Printf("\timmediate reason = speculative\n")
	}
	switch {
	case s.LastExit == nil:
		fmt.Printf("\tlast exit code = (never exited)\n\n")
	case *s.LastExit == 0:
		fmt.Printf("\tlast exit code = 0\n\n")
	default:
		fmt.Printf("\tlast exit code = %d: %s\n\n", *s.LastExit, exitName(*s.LastExit))
	}
	if len(s.Semaphores) > 0 {
		fmt.Printf("\tsemaphores = {\n")
		for _, name := range slices.Sorted(maps.Keys(s.Semaphores)) {
			fmt.Printf("\t\t%s => %d\n", name, s.Semaphores[name])
		}
		fmt.Printf("\t}\n\n")
	}
	fsTriggers := len(s.WatchPaths) > 0 || len(s.QueueDirectories) > 0 || len(s.PathState) > 0
	if len(s.Calendar) > 0 || fsTriggers {
		fmt.Printf("\tevent triggers = {\n")
		// File-system triggers as launchd prints WatchPaths:
		// com.apple.launchd.WatchPaths => { ... stream =
		// com.apple.fsevents.matching ... descriptor = { "WatchPaths" => [
		// 0 = "/path" ] } }.
		for _, f := range []struct {
			key   string
			paths []string
		}{{"WatchPaths", s.WatchPaths}, {"QueueDirectories", s.QueueDirectories}} {
			if len(f.paths) == 0 {
				continue
			}
			fmt.Printf("\t\tcom.apple.launchd.%s => {\n", f.key)
			fmt.Printf("\t\t\tkeepalive = 0\n\t\t\tservice = %s\n", label)
			fmt.Printf("\t\t\tstream = com.apple.fsevents.matching\n\t\t\tmonitor = com.apple.UserEventAgent-Aqua\n")
			fmt.Printf("\t\t\tdescriptor = {\n\t\t\t\t%q => [\n", f.key)
			for i, path := range f.paths {
				fmt.Printf("\t\t\t\t\t%d = \"%s\"\n", i, path)
			}
			fmt.Printf("\t\t\t\t]\n\t\t\t}\n\t\t}\n")
		}
		if len(s.PathState) > 0 {
			fmt.Printf("\t\tcom.apple.launchd.PathState => {\n")
			fmt.Printf("\t\t\tkeepalive = 1\n\t\t\tservice = %s\n", label)
			fmt.Printf("\t\t\tstream = com.apple.fsevents.matching\n\t\t\tmonitor = com.apple.UserEventAgent-Aqua\n")
			fmt.Printf("\t\t\tdescriptor = {\n\t\t\t\t\"PathState\" => {\n")
			for _, path := range slices.Sorted(maps.Keys(s.PathState)) {
				fmt.Printf("\t\t\t\t\t\"%s\" => %t\n", path, s.PathState[path])
			}
			fmt.Printf("\t\t\t\t}\n\t\t\t}\n\t\t}\n")
		}
		for i, c := range s.Calendar {
			fmt.Printf("\t\t%s.%d => {\n", label, 268435470+i)
			fmt.Printf("\t\t\tkeepalive = 0\n\t\t\tservice = %s\n", label)
			fmt.Printf("\t\t\tstream = com.apple.launchd.calendarinterval\n\t\t\tmonitor = com.apple.UserEventAgent-Aqua\n")
			fmt.Printf("\t\t\tdescriptor = {\n")
			ks := make([]string, 0, len(c))
			for k := range c {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				fmt.Printf("\t\t\t\t%q => %d\n", k, c[k])
			}
			fmt.Printf("\t\t\t}\n\t\t}\n")
		}
		fmt.Printf("\t}\n\n")
		if fsTriggers {
			fmt.Printf("\tevent channels = {\n\t\t\"com.apple.fsevents.matching\" = {\n\t\t\tport = 0x3521b\n\t\t\tactive = 0\n")
			fmt.Printf("\t\t\tmanaged = 1\n\t\t\treset = 0\n\t\t\thide = 0\n\t\t\twatching = 1\n\t\t}\n\t}\n\n")
		}
	}
	if s.Running {
		fmt.Printf("\tresource coalition = {\n\t\tID = 9196\n\t\ttype = resource\n\t\tstate = active\n\t\tactive count = 1\n\t\tname = %s\n\t}\n\n", label)
	}
	fmt.Printf("\tspawn type = %s\n", s.SpawnType)
	fmt.Printf("\tjetsam priority = 40\n")
	fmt.Printf("\tjetsam memory limit (active) = (unlimited)\n")
	fmt.Printf("\tjetsamproperties category = daemon\n")
	fmt.Printf("\tsubmitted job. ignore execute allowed\n")
	fmt.Printf("\tcpumon = default\n")
	if len(s.SoftLimits) > 0 || len(s.HardLimits) > 0 {
		fmt.Printf("\tresource limits = {\n")
		names := map[string]bool{}
		for n := range s.SoftLimits {
			names[n] = true
		}
		for n := range s.HardLimits {
			names[n] = true
		}
		for _, n := range slices.Sorted(maps.Keys(names)) {
			if v, ok := s.SoftLimits[n]; ok {
				fmt.Printf("\t\t%s (soft) => %s\n", n, limitValue(v))
			}
			if v, ok := s.HardLimits[n]; ok {
				fmt.Printf("\t\t%s (hard) => %s\n", n, limitValue(v))
			}
		}
		fmt.Printf("\t}\n\n")
	}
	if s.RunInterval > 0 {
		fmt.Printf("\trun interval = %d seconds\n", s.RunInterval)
	}
	fmt.Printf("\n\tproperties = %s\n", strings.Join(s.Props, " | "))
	fmt.Printf("}\n")
}

// limitValue is a limit as print spells it: RLIM_INFINITY as (infinity).
func limitValue(v int64) string {
	if v == 1<<63-1 {
		return "(infinity)"
	}
	return strconv.FormatInt(v, 10)
}

// exitName is the sysexits name launchctl prints after a code.
func exitName(code int) string {
	switch code {
	case 1:
		return "Operation not permitted"
	case 64:
		return "EX_USAGE"
	case 78:
		return "EX_CONFIG"
	}
	return "Unknown error: " + strconv.Itoa(code)
}

func main() { os.Exit(launchctlDouble()) }
