package controllers

import (
	"context"
	"sync"

	"github.com/sanctum-haus/reconcile/observed"
)

// The fakes below stand in for the two doors a test cannot open for real:
// launchctl (there is no launchd on Linux) and a node over SSH. Every method
// is a function field, so a test says exactly what launchd or the node
// answers and nothing more; a nil field has the documented zero behaviour.
// Both record every call, in order, so a test can assert the sequence a
// controller drove (bootout before bootstrap, one Write per node).

// fakeCall is one recorded call: the method and its arguments as text.
type fakeCall struct {
	Method string
	Args   []string
}

// callLog is a recorder safe for the parallel node workers.
type callLog struct {
	mu    sync.Mutex
	calls []fakeCall
}

func (l *callLog) record(method string, args ...string) {
	l.mu.Lock()
	l.calls = append(l.calls, fakeCall{Method: method, Args: args})
	l.mu.Unlock()
}

// Calls returns every call so far, in order.
func (l *callLog) Calls() []fakeCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]fakeCall(nil), l.calls...)
}

// fakeLaunchd is observed.Launchd with function fields.
//
// Zero behaviour: nil AvailableFn → available (nil); nil PrintFn →
// observed.ErrNotLoaded (launchd has nothing loaded); nil DisabledFn → no
// label disabled; nil BootstrapFn, BootoutFn, EnableFn → succeed.
type fakeLaunchd struct {
	AvailableFn func() error
	PrintFn     func(ctx context.Context, target string) (*observed.ServiceInfo, error)
	DisabledFn  func(ctx context.Context, domain string) (map[string]bool, error)
	BootstrapFn func(ctx context.Context, domain, plistPath string) error
	BootoutFn   func(ctx context.Context, target string) error
	EnableFn    func(ctx context.Context, target string) error

	callLog
}

var _ observed.Launchd = (*fakeLaunchd)(nil)

// Available implements observed.Launchd.
func (f *fakeLaunchd) Available() error {
	f.record("available")
	if f.AvailableFn == nil {
		return nil
	}
	return f.AvailableFn()
}

// Print implements observed.Launchd.
func (f *fakeLaunchd) Print(ctx context.Context, target string) (*observed.ServiceInfo, error) {
	f.record("print", target)
	if f.PrintFn == nil {
		return nil, observed.ErrNotLoaded
	}
	return f.PrintFn(ctx, target)
}

// Disabled implements observed.Launchd.
func (f *fakeLaunchd) Disabled(ctx context.Context, domain string) (map[string]bool, error) {
	f.record("print-disabled", domain)
	if f.DisabledFn == nil {
		return map[string]bool{}, nil
	}
	return f.DisabledFn(ctx, domain)
}

// Bootstrap implements observed.Launchd.
func (f *fakeLaunchd) Bootstrap(ctx context.Context, domain, plistPath string) error {
	f.record("bootstrap", domain, plistPath)
	if f.BootstrapFn == nil {
		return nil
	}
	return f.BootstrapFn(ctx, domain, plistPath)
}

// Bootout implements observed.Launchd.
func (f *fakeLaunchd) Bootout(ctx context.Context, target string) error {
	f.record("bootout", target)
	if f.BootoutFn == nil {
		return nil
	}
	return f.BootoutFn(ctx, target)
}

// Enable implements observed.Launchd.
func (f *fakeLaunchd) Enable(ctx context.Context, target string) error {
	f.record("enable", target)
	if f.EnableFn == nil {
		return nil
	}
	return f.EnableFn(ctx, target)
}

// ChangesSince returns the calls after the first mark ones that change
// launchd's state (bootstrap, bootout, enable), in order: what a test
// asserts of one pass, without the queries around them.
func (f *fakeLaunchd) ChangesSince(mark int) []fakeCall {
	var out []fakeCall
	for _, c := range f.Calls()[mark:] {
		switch c.Method {
		case "bootstrap", "bootout", "enable":
			out = append(out, c)
		}
	}
	return out
}

// fakeRemote is observed.Remote with function fields.
//
// Zero behaviour: nil DigestsFn → every path observed.RemoteMissing (a node
// whose directories exist and hold none of the files); nil FetchFn → no
// content, no error; nil WriteFn → every write "ok" with no backup (as if
// nothing was there to replace); nil DisconnectFn → nothing.
type fakeRemote struct {
	DigestsFn    func(ctx context.Context, n observed.RemoteNode, paths []string) (map[string]observed.RemoteFile, error)
	FetchFn      func(ctx context.Context, n observed.RemoteNode, paths []string) (map[string][]byte, error)
	WriteFn      func(ctx context.Context, n observed.RemoteNode, backupDir string, writes []observed.RemoteWrite) ([]observed.RemoteResult, error)
	DisconnectFn func(n observed.RemoteNode)
	UnitsFn      func(units []string) (map[string]*observed.UnitInfo, error)
	// SystemUnitsFn answers for the system manager (nil: every unit
	// not-found).
	SystemUnitsFn func(units []string) (map[string]*observed.UnitInfo, error)
	// ContentsFn answers the bytes an observation asks for (nil: none
	// sent); each ask is recorded as a contents call.
	ContentsFn func(asked []observed.RemoteContent) map[string][]byte

	callLog
}

var _ observed.Remote = (*fakeRemote)(nil)

// Digests implements observed.Remote; it records the node and the paths.
func (f *fakeRemote) Digests(ctx context.Context, n observed.RemoteNode, paths []string, _ ...observed.RemoteGlob) (map[string]observed.RemoteFile, error) {
	f.record("digests", append([]string{n.Name}, paths...)...)
	if f.DigestsFn == nil {
		out := make(map[string]observed.RemoteFile, len(paths))
		for _, p := range paths {
			out[p] = observed.RemoteFile{State: observed.RemoteMissing}
		}
		return out, nil
	}
	return f.DigestsFn(ctx, n, paths)
}

// Observe implements observed.Remote: the files as Digests answers them
// (recorded as a digests call), and the units as UnitsFn says (nil: every
// unit not-found), recorded as a show call.
func (f *fakeRemote) Observe(ctx context.Context, n observed.RemoteNode, q observed.RemoteQuery) (*observed.RemoteObservation, error) {
	files, err := f.Digests(ctx, n, q.Paths, q.Globs...)
	if err != nil {
		return nil, err
	}
	o := &observed.RemoteObservation{Files: files, Home: "/home/node"}
	if len(q.SystemUnits) > 0 {
		// The system manager: every unit not-found, recorded as a sysshow.
		f.record("sysshow", append([]string{n.Name}, q.SystemUnits...)...)
		if f.SystemUnitsFn != nil {
			o.SystemUnits, o.SystemUnitsErr = f.SystemUnitsFn(q.SystemUnits)
		} else {
			o.SystemUnits = make(map[string]*observed.UnitInfo, len(q.SystemUnits))
			for _, u := range q.SystemUnits {
				o.SystemUnits[u] = &observed.UnitInfo{Unit: u, LoadState: "not-found", ActiveState: "inactive"}
			}
		}
	}
	for _, c := range q.Contents {
		f.record("contents", append([]string{n.Name, c.Path}, c.Unless...)...)
	}
	if f.ContentsFn != nil && len(q.Contents) > 0 {
		o.Contents = f.ContentsFn(q.Contents)
	}
	if len(q.Units) == 0 {
		return o, nil
	}
	f.record("show", append([]string{n.Name}, q.Units...)...)
	if f.UnitsFn != nil {
		o.Units, o.UnitsErr = f.UnitsFn(q.Units)
		return o, nil
	}
	o.Units = make(map[string]*observed.UnitInfo, len(q.Units))
	for _, u := range q.Units {
		o.Units[u] = &observed.UnitInfo{Unit: u, LoadState: "not-found", ActiveState: "inactive"}
	}
	return o, nil
}

// Fetch implements observed.Remote; it records the node and the paths.
func (f *fakeRemote) Fetch(ctx context.Context, n observed.RemoteNode, paths []string) (map[string][]byte, error) {
	f.record("fetch", append([]string{n.Name}, paths...)...)
	if f.FetchFn == nil {
		return map[string][]byte{}, nil
	}
	return f.FetchFn(ctx, n, paths)
}

// Write implements observed.Remote; it records the node, the backup
// directory and the paths written.
func (f *fakeRemote) Write(ctx context.Context, n observed.RemoteNode, backupDir string, writes []observed.RemoteWrite) ([]observed.RemoteResult, error) {
	args := []string{n.Name, backupDir}
	for _, w := range writes {
		args = append(args, w.Path)
	}
	f.record("write", args...)
	if f.WriteFn == nil {
		res := make([]observed.RemoteResult, 0, len(writes))
		for _, w := range writes {
			res = append(res, observed.RemoteResult{Path: w.Path, Status: "ok"})
		}
		return res, nil
	}
	return f.WriteFn(ctx, n, backupDir, writes)
}

// Disconnect implements observed.Remote.
func (f *fakeRemote) Disconnect(n observed.RemoteNode) {
	f.record("disconnect", n.Name)
	if f.DisconnectFn != nil {
		f.DisconnectFn(n)
	}
}

// CallsTo returns the recorded calls of one method, in order.
func (l *callLog) CallsTo(method string) []fakeCall {
	var out []fakeCall
	for _, c := range l.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}
