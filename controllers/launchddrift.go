package controllers

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/observed"
)

// RuntimeKeys are the plist keys whose loaded value `launchctl print`
// shows and that a pass compares with the plist it wants (README:
// "launchd drift"). KeepAlive is compared as print shows it: true as the
// keepalive property, a dictionary's SuccessfulExit and Crashed as the
// semaphores "successful exit" and "after crash", its PathState as an
// event trigger. Nice is compared where print shows it (older macOS).
// A key print does not expose (LimitLoadToSessionType, a KeepAlive's
// NetworkState and OtherJobEnabled, extra:) is checked through the
// plist's digest only.
var RuntimeKeys = []string{"Program", "ProgramArguments", "EnvironmentVariables", "WorkingDirectory",
	"StandardOutPath", "StandardErrorPath", "KeepAlive", "RunAtLoad", "StartInterval",
	"StartCalendarInterval", "ProcessType", "ThrottleInterval", "WatchPaths", "QueueDirectories",
	"Nice", "SoftResourceLimits", "HardResourceLimits"}

// injectedEnvironment are the variables launchd adds to every service's
// environment block; they are drift only when the plist sets them itself.
var injectedEnvironment = []string{"XPC_SERVICE_NAME", "OSLogRateLimit"}

// spawnTypes maps ProcessType to print's "spawn type"; an agent without
// one is Standard, which print calls daemon.
var spawnTypes = map[string]string{"": "daemon", "Standard": "daemon", "Background": "background",
	"Interactive": "interactive", "Adaptive": "adaptive"}

// defaultThrottle is launchd's ThrottleInterval when a plist sets none.
const defaultThrottle = 10

// loadedDrift compares the definition launchd loaded (as print showed it)
// with the agent's spec, key by key, and says for each key that differs
// what launchd runs and what the plist says. Values of environment
// variables and arguments are never shown: they may hold a secret.
func loadedDrift(a *v1.LaunchAgent, info *observed.ServiceInfo) []string {
	s := a.Spec
	var out []string
	differ := func(key, loaded, want string) {
		out = append(out, fmt.Sprintf("loaded %s=%s, plist says %s", key, loaded, want))
	}
	program := ""
	if len(s.ProgramArguments) > 0 {
		program = s.ProgramArguments[0]
	}
	if info.Shown["program"] && info.Program != program {
		differ("Program", orUnset(info.Program), orUnset(program))
	}
	if info.Shown["arguments"] && !slices.Equal(info.Arguments, s.ProgramArguments) {
		out = append(out, fmt.Sprintf("loaded ProgramArguments (%d) differ from the plist's (%d)", len(info.Arguments), len(s.ProgramArguments)))
	}
	if info.Shown["environment"] {
		out = append(out, environmentDrift(info.Environment, s.Environment)...)
	}
	if info.Definition {
		for _, f := range []struct{ key, loaded, want string }{
			{"WorkingDirectory", info.WorkingDirectory, s.WorkingDirectory},
			{"StandardOutPath", info.StdoutPath, s.StandardOutPath},
			{"StandardErrorPath", info.StderrPath, s.StandardErrorPath},
		} {
			if f.loaded != f.want {
				differ(f.key, orUnset(f.loaded), orUnset(f.want))
			}
		}
		if info.RunInterval != s.StartInterval {
			differ("StartInterval", intOrUnset(info.RunInterval), intOrUnset(s.StartInterval))
		}
		if l, w := calendarString(info.CalendarIntervals), calendarString(plistCalendar(s.StartCalendarInterval)); l != w {
			differ("StartCalendarInterval", l, w)
		}
		for _, f := range []struct {
			key          string
			loaded, want []string
		}{{"WatchPaths", info.WatchPaths, s.WatchPaths}, {"QueueDirectories", info.QueueDirectories, s.QueueDirectories}} {
			if l, w := pathSet(f.loaded), pathSet(f.want); l != w {
				differ(f.key, l, w)
			}
		}
		for _, f := range []struct {
			key    string
			loaded map[string]string
			want   *v1.ResourceLimits
		}{{"SoftResourceLimits", info.SoftLimits, s.SoftResourceLimits}, {"HardResourceLimits", info.HardLimits, s.HardResourceLimits}} {
			if l, w := limitsString(f.loaded), limitsString(wantLimits(f.want)); l != w {
				differ(f.key, l, w)
			}
		}
	}
	if info.Shown["properties"] {
		if l, w := loadedKeepAlive(info), wantKeepAlive(s.KeepAlive); l != w {
			differ("KeepAlive", l, w)
		}
		if l, w := info.HasProperty("runatload"), s.RunAtLoad; l != w {
			differ("RunAtLoad", strconv.FormatBool(l), strconv.FormatBool(w))
		}
	}
	if want, known := spawnTypes[s.ProcessType]; info.Shown["spawn type"] && known && info.SpawnType != want {
		differ("ProcessType", processTypeOf(info.SpawnType), processTypeOr(s.ProcessType))
	}
	if info.Shown["minimum runtime"] {
		switch want := s.ThrottleInterval; {
		case want == nil && info.MinimumRuntime != defaultThrottle:
			differ("ThrottleInterval", strconv.Itoa(info.MinimumRuntime), "(unset: launchd's default "+strconv.Itoa(defaultThrottle)+")")
		case want != nil && info.MinimumRuntime != *want:
			differ("ThrottleInterval", strconv.Itoa(info.MinimumRuntime), strconv.Itoa(*want))
		}
	}
	if info.Shown["nice"] {
		want := 0
		if s.Nice != nil {
			want = *s.Nice
		}
		if info.Nice != want {
			differ("Nice", strconv.Itoa(info.Nice), strconv.Itoa(want))
		}
	}
	return out
}

// wantKeepAlive is the KeepAlive a spec sets as print would show it
// loaded: "true", "false" (unset or false: no keepalive property and no
// condition), or the dictionary's conditions print exposes.
func wantKeepAlive(k *v1.KeepAlive) string {
	switch {
	case k == nil:
		return "false"
	case k.Always != nil:
		return strconv.FormatBool(*k.Always)
	}
	shown := v1.KeepAlive{Conditions: v1.Conditions{SuccessfulExit: k.SuccessfulExit, Crashed: k.Crashed, PathState: k.PathState}}
	if shown.SuccessfulExit == nil && shown.Crashed == nil && len(shown.PathState) == 0 {
		return "false"
	}
	return shown.String()
}

// loadedKeepAlive is the KeepAlive of a loaded definition: true with the
// keepalive property; else the conditions of its semaphores ("successful
// exit" => 0 is SuccessfulExit false, "after crash" => 1 Crashed true)
// and path-state triggers; else false.
func loadedKeepAlive(info *observed.ServiceInfo) string {
	if info.HasProperty("keepalive") {
		return "true"
	}
	var k v1.KeepAlive
	for name, v := range info.Semaphores {
		b := v != "0"
		switch name {
		case "successful exit":
			k.SuccessfulExit = &b
		case "after crash":
			k.Crashed = &b
		}
	}
	if len(info.PathState) > 0 {
		k.PathState = info.PathState
	}
	if k.SuccessfulExit == nil && k.Crashed == nil && len(k.PathState) == 0 {
		return "false"
	}
	return k.String()
}

// pathSet is a canonical spelling of a list of paths, in no particular
// order: [/a /b], or (unset).
func pathSet(paths []string) string {
	if len(paths) == 0 {
		return "(unset)"
	}
	return "[" + strings.Join(slices.Sorted(slices.Values(paths)), " ") + "]"
}

// wantLimits is a spec's resource limits as print names and spells them
// (RLIM_INFINITY as "(infinity)").
func wantLimits(r *v1.ResourceLimits) map[string]string {
	m := map[string]string{}
	for _, l := range r.List() {
		v := strconv.FormatInt(l.Value, 10)
		if l.Value == math.MaxInt64 {
			v = "(infinity)"
		}
		m[l.PrintName] = v
	}
	return m
}

// limitsString is a canonical spelling of resource limits by print's
// names: {core=(infinity) maxfiles=1024}, or (unset).
func limitsString(m map[string]string) string {
	if len(m) == 0 {
		return "(unset)"
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+"="+m[k])
	}
	return "{" + strings.Join(kv, " ") + "}"
}

// environmentDrift names the variables whose loaded value differs from
// the plist's, never the values.
func environmentDrift(loaded, want map[string]string) []string {
	var out []string
	keys := make(map[string]bool)
	for k := range loaded {
		if _, set := want[k]; !set && slices.Contains(injectedEnvironment, k) {
			continue
		}
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		l, inLoaded := loaded[k]
		w, inWant := want[k]
		switch {
		case !inWant:
			out = append(out, "loaded EnvironmentVariables sets "+k+", plist does not")
		case !inLoaded:
			out = append(out, "loaded EnvironmentVariables lacks "+k+", plist sets it")
		case l != w:
			out = append(out, "loaded EnvironmentVariables "+k+" differs from the plist's")
		}
	}
	return out
}

func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

func intOrUnset(n int) string {
	if n == 0 {
		return "(unset)"
	}
	return strconv.Itoa(n)
}

// processTypeOf is the ProcessType a spawn type stands for.
func processTypeOf(spawn string) string {
	switch spawn {
	case "daemon":
		return "Standard"
	case "background", "interactive", "adaptive":
		return strings.ToUpper(spawn[:1]) + spawn[1:]
	}
	return "(spawn type " + spawn + ")"
}

func processTypeOr(t string) string {
	if t == "" {
		return "Standard"
	}
	return t
}

// plistCalendar is StartCalendarInterval as print's descriptors show it.
func plistCalendar(in []v1.CalendarInterval) []map[string]int {
	out := make([]map[string]int, 0, len(in))
	for _, c := range in {
		m := map[string]int{}
		for k, v := range map[string]*int{"Minute": c.Minute, "Hour": c.Hour, "Day": c.Day, "Weekday": c.Weekday, "Month": c.Month} {
			if v != nil {
				m[k] = *v
			}
		}
		out = append(out, m)
	}
	return out
}

// calendarString is a canonical spelling of calendar intervals, in no
// particular order of entries: [Hour=7,Minute=30 Hour=19,Minute=30].
func calendarString(cal []map[string]int) string {
	if len(cal) == 0 {
		return "(unset)"
	}
	entries := make([]string, 0, len(cal))
	for _, m := range cal {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			kv = append(kv, k+"="+strconv.Itoa(m[k]))
		}
		entries = append(entries, strings.Join(kv, ","))
	}
	sort.Strings(entries)
	return "[" + strings.Join(entries, " ") + "]"
}
