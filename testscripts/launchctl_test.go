package testscripts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
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
//   - enable / disable <domain>/<label>.
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
		var p struct {
			Label            string
			ProgramArguments []string
			RunAtLoad        bool
			KeepAlive        bool
			StartInterval    int
		}
		if _, err := plist.Unmarshal(data, &p); err != nil || p.Label == "" {
			fmt.Fprintf(os.Stderr, "%s: Invalid property list\nBootstrap failed: 5: Input/output error\n", args[2])
			return 5
		}
		target := args[1] + "/" + p.Label
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
		s := &launchdService{Path: args[2], Arguments: p.ProgramArguments}
		if len(p.ProgramArguments) > 0 {
			s.Program = p.ProgramArguments[0]
		}
		if p.RunAtLoad {
			s.Props = append(s.Props, "runatload")
		}
		if p.KeepAlive {
			s.Props = append(s.Props, "keepalive")
		}
		if p.RunAtLoad || p.KeepAlive {
			st.NextPID++
			s.PID, s.Running = st.NextPID, true
		}
		st.Services[target] = s
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
	fmt.Printf("\tenvironment = {\n\t\tXPC_SERVICE_NAME => %s\n\t}\n\n", label)
	fmt.Printf("\tdomain = %s [100005]\n", domain)
	fmt.Printf("\truns = 1\n")
	if s.PID > 0 {
		fmt.Printf("\tpid = %d\n", s.PID)
	}
	fmt.Printf("\tlast exit code = (never exited)\n")
	fmt.Printf("\tproperties = %s\n", strings.Join(s.Props, " | "))
	fmt.Printf("}\n")
}

// cmdMockLaunchctl puts the launchctl double on PATH for the rest of the
// script, with its state and call log under $WORK.
//
//	mocklaunchctl
func cmdMockLaunchctl(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: mocklaunchctl")
	}
	work := ts.Getenv("WORK")
	bin := filepath.Join(work, "bin")
	ts.Check(os.MkdirAll(bin, 0o755))
	ts.Check(os.WriteFile(filepath.Join(bin, "launchctl"), []byte("#!/bin/sh\nexec launchctl-double \"$@\"\n"), 0o755))
	ts.Setenv("LAUNCHCTL_STATE", filepath.Join(work, "launchd-state.json"))
	ts.Setenv("LAUNCHCTL_LOG", filepath.Join(work, "launchctl.log"))
}

// cmdPlistCheck parses every *.plist in a directory with howett.net/plist
// and checks each has a Label.
//
//	plistcheck dir
func cmdPlistCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: plistcheck dir")
	}
	files, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), "*.plist"))
	ts.Check(err)
	if len(files) == 0 {
		ts.Fatalf("no plists in %s", args[0])
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		ts.Check(err)
		var p struct{ Label string }
		if _, err := plist.Unmarshal(data, &p); err != nil {
			ts.Fatalf("%s: %v", f, err)
		}
		if p.Label == "" {
			ts.Fatalf("%s: no Label", f)
		}
	}
	fmt.Fprintf(ts.Stdout(), "%d plists parse\n", len(files))
}
