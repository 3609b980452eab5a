package observed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// A ReadLog is what a pass read, for a saved plan: every read of a file,
// a directory, a symlink, launchd or a remote node, as a key and a digest
// of what the read saw. `reconcile apply FILE` reads every key again
// before it writes anything, and refuses when a digest moved.
//
// The recording decorators (RecordingHost, RecordingLaunchd,
// RecordingRemote) may sit anywhere in a Host stack, also above a dry-run
// overlay whose reads see planned writes: a read of a path the pass itself
// wrote (or removed, or created a directory under) earlier in the pass is
// not recorded, since it would describe the plan and not the host; the
// read before the write, which describes the host, was.
//
// Keys:
//
//	file:<path>              ReadFile, ReadFileUnless: content and mode
//	stat:<path>, lstat:<path> the type and mode
//	link:<path>              Readlink: the target
//	dir:<path>               ReadDir: names and types
//	launchd:available        whether launchctl can be asked
//	launchd:print:<target>   loaded or not, from which plist, which program
//	launchd:disabled:<domain> the disabled labels
//	remote:<node>            whether the node answered
//	remote:<node>:<path>     what the node holds at a path
//
// A digest never holds content: it is a sha256 or a word ("absent").
type ReadLog struct {
	mu      sync.Mutex
	reads   map[string]string // key → digest; the first read wins
	written map[string]bool   // paths the pass wrote or removed
	dirty   map[string]bool   // directories above a written path
	changed map[string]bool   // launchd targets the pass booted out or enabled
	nodes   map[string]RemoteNode
}

// Read is one recorded read.
type Read struct {
	Key    string `json:"key"`
	Digest string `json:"digest"`
}

// Moved is a read whose answer is not what the plan saw.
type Moved struct {
	Key      string
	Was, Now string
}

// NewReadLog starts an empty log.
func NewReadLog() *ReadLog {
	return &ReadLog{
		reads: make(map[string]string), written: make(map[string]bool), dirty: make(map[string]bool),
		changed: make(map[string]bool), nodes: make(map[string]RemoteNode),
	}
}

// Reads returns the recorded reads, sorted by key.
func (l *ReadLog) Reads() []Read {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Read, 0, len(l.reads))
	for k, d := range l.reads {
		out = append(out, Read{k, d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Nodes returns the remote nodes the pass asked, sorted by name: how to
// reach them again.
func (l *ReadLog) Nodes() []RemoteNode {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]RemoteNode, 0, len(l.nodes))
	for _, n := range l.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (l *ReadLog) add(key, digest string) {
	l.mu.Lock()
	if _, ok := l.reads[key]; !ok {
		l.reads[key] = digest
	}
	l.mu.Unlock()
}

// wrote marks a path the pass changed: later reads of it, of anything
// under it and of the directories above it describe the plan.
func (l *ReadLog) wrote(name string) {
	c := path.Clean(name)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.written[c] = true
	for d := path.Dir(c); ; d = path.Dir(d) {
		l.dirty[d] = true
		if d == "." || d == "/" {
			break
		}
	}
}

// ownWrite reports whether a read of name would see the pass's own writes.
func (l *ReadLog) ownWrite(name string) bool {
	c := path.Clean(name)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written[c] || l.dirty[c] {
		return true
	}
	for d := path.Dir(c); d != "." && d != "/"; d = path.Dir(d) {
		if l.written[d] {
			return true
		}
	}
	return false
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// failure names an error in a word that does not depend on its text.
func failure(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "absent"
	case errors.Is(err, ErrOutsideHome):
		return "outside-home"
	case errors.Is(err, fs.ErrPermission):
		return "permission-denied"
	}
	return "error"
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

// FileDigest is the digest of a ReadFile: content and permission bits.
func FileDigest(data []byte, info fs.FileInfo, err error) string {
	switch {
	case err != nil && info != nil && !info.Mode().IsRegular():
		return "not-file:" + typeName(info.Mode())
	case err != nil:
		return failure(err)
	}
	sum := sha256.Sum256(data)
	return fmt.Sprintf("sha256:%s mode:%04o", hex.EncodeToString(sum[:]), info.Mode().Perm())
}

func statDigest(info fs.FileInfo, err error) string {
	if err != nil {
		return failure(err)
	}
	if t := typeName(info.Mode()); t != "symlink" {
		return fmt.Sprintf("%s %04o", t, info.Mode().Perm())
	}
	return "symlink"
}

func linkDigest(target string, err error) string {
	if err != nil {
		return failure(err)
	}
	return hashOf(target)
}

func dirDigest(entries []fs.DirEntry, err error) string {
	if err != nil {
		return failure(err)
	}
	parts := make([]string, 0, len(entries))
	for _, e := range entries {
		parts = append(parts, e.Name()+"\x00"+typeName(e.Type()))
	}
	sort.Strings(parts)
	return hashOf(parts...)
}

// RecordingHost records every read it passes on in a ReadLog.
type RecordingHost struct {
	Host
	Log *ReadLog
}

var _ Host = RecordingHost{}

// Plans implements planner: as the host it records.
func (r RecordingHost) Plans() bool { return Plans(r.Host) }

// ReadFile implements Host.
func (r RecordingHost) ReadFile(name string) ([]byte, fs.FileInfo, error) {
	data, info, _, err := r.ReadFileUnless(name, nil)
	return data, info, err
}

// ReadFileUnless implements Host. It always reads the content, to digest
// it, and then answers as the host would have: skipped when known says so.
func (r RecordingHost) ReadFileUnless(name string, known func(fs.FileInfo) bool) ([]byte, fs.FileInfo, bool, error) {
	if r.Log.ownWrite(name) {
		return r.Host.ReadFileUnless(name, known)
	}
	data, info, _, err := r.Host.ReadFileUnless(name, nil)
	r.Log.add("file:"+path.Clean(name), FileDigest(data, info, err))
	if err == nil && known != nil && known(info) {
		return nil, info, true, nil
	}
	return data, info, false, err
}

// Stat implements Host.
func (r RecordingHost) Stat(name string) (fs.FileInfo, error) {
	info, err := r.Host.Stat(name)
	if !r.Log.ownWrite(name) {
		r.Log.add("stat:"+path.Clean(name), statDigest(info, err))
	}
	return info, err
}

// Lstat implements Host.
func (r RecordingHost) Lstat(name string) (fs.FileInfo, error) {
	info, err := r.Host.Lstat(name)
	if !r.Log.ownWrite(name) {
		r.Log.add("lstat:"+path.Clean(name), statDigest(info, err))
	}
	return info, err
}

// Readlink implements Host.
func (r RecordingHost) Readlink(name string) (string, error) {
	t, err := r.Host.Readlink(name)
	if !r.Log.ownWrite(name) {
		r.Log.add("link:"+path.Clean(name), linkDigest(t, err))
	}
	return t, err
}

// ReadDir implements Host.
func (r RecordingHost) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := r.Host.ReadDir(name)
	if !r.Log.ownWrite(name) {
		r.Log.add("dir:"+path.Clean(name), dirDigest(entries, err))
	}
	return entries, err
}

// WriteFile implements Host.
func (r RecordingHost) WriteFile(name string, data []byte, perm fs.FileMode) error {
	r.Log.wrote(name)
	return r.Host.WriteFile(name, data, perm)
}

// WriteFiles implements Host.
func (r RecordingHost) WriteFiles(writes []FileWrite) []error {
	for _, w := range writes {
		r.Log.wrote(w.Name)
	}
	return r.Host.WriteFiles(writes)
}

// AppendFile implements Host.
func (r RecordingHost) AppendFile(name string, data []byte, perm fs.FileMode) error {
	r.Log.wrote(name)
	return r.Host.AppendFile(name, data, perm)
}

// Chmod implements Host.
func (r RecordingHost) Chmod(name string, perm fs.FileMode) error {
	r.Log.wrote(name)
	return r.Host.Chmod(name, perm)
}

// Symlink implements Host.
func (r RecordingHost) Symlink(target, name string) error {
	r.Log.wrote(name)
	return r.Host.Symlink(target, name)
}

// Remove implements Host.
func (r RecordingHost) Remove(name string) error {
	r.Log.wrote(name)
	return r.Host.Remove(name)
}

// RemoveAll implements Host.
func (r RecordingHost) RemoveAll(name string) error {
	r.Log.wrote(name)
	return r.Host.RemoveAll(name)
}

// MkdirAll implements Host.
func (r RecordingHost) MkdirAll(name string, perm fs.FileMode) error {
	r.Log.wrote(name)
	return r.Host.MkdirAll(name, perm)
}

func availableDigest(err error) string {
	switch {
	case err == nil:
		return "available"
	case errors.Is(err, ErrNoLaunchd):
		return "no-launchctl"
	}
	return "error"
}

// printDigest covers what a pass decides on (loaded or not, from which
// plist, with which definition), not what changes by itself while a
// service runs (its state, pid, runs, last exit code).
func printDigest(info *ServiceInfo, err error) string {
	switch {
	case errors.Is(err, ErrNotLoaded):
		return "not-loaded"
	case errors.Is(err, ErrNoLaunchd):
		return "no-launchctl"
	case err != nil:
		return "error"
	}
	args, _ := json.Marshal(info.Arguments)
	def, _ := json.Marshal([]any{info.Environment, info.WorkingDirectory, info.StdoutPath, info.StderrPath,
		info.Properties, info.RunInterval, info.CalendarIntervals, info.SpawnType, info.MinimumRuntime})
	return hashOf("loaded", info.Path, info.Program, string(args), string(def))
}

func disabledDigest(d map[string]bool, err error) string {
	if err != nil {
		return availableDigest(err)
	}
	var labels []string
	for l, off := range d {
		if off {
			labels = append(labels, l)
		}
	}
	sort.Strings(labels)
	return hashOf(labels...)
}

// RecordingLaunchd records launchd's answers in a ReadLog.
type RecordingLaunchd struct {
	Launchd
	Log *ReadLog
}

var _ Launchd = RecordingLaunchd{}

// Plans implements planner: as the launchd it records.
func (r RecordingLaunchd) Plans() bool { return Plans(r.Launchd) }

// Available implements Launchd.
func (r RecordingLaunchd) Available() error {
	err := r.Launchd.Available()
	r.Log.add("launchd:available", availableDigest(err))
	return err
}

// Print implements Launchd.
func (r RecordingLaunchd) Print(ctx context.Context, target string) (*ServiceInfo, error) {
	info, err := r.Launchd.Print(ctx, target)
	r.Log.mu.Lock()
	own := r.Log.changed[target]
	r.Log.mu.Unlock()
	if !own {
		r.Log.add("launchd:print:"+target, printDigest(info, err))
	}
	return info, err
}

// Disabled implements Launchd.
func (r RecordingLaunchd) Disabled(ctx context.Context, domain string) (map[string]bool, error) {
	d, err := r.Launchd.Disabled(ctx, domain)
	r.Log.add("launchd:disabled:"+domain, disabledDigest(d, err))
	return d, err
}

func (r RecordingLaunchd) changed(target string) {
	r.Log.mu.Lock()
	r.Log.changed[target] = true
	r.Log.mu.Unlock()
}

// Bootout implements Launchd.
func (r RecordingLaunchd) Bootout(ctx context.Context, target string) error {
	r.changed(target)
	return r.Launchd.Bootout(ctx, target)
}

// Enable implements Launchd.
func (r RecordingLaunchd) Enable(ctx context.Context, target string) error {
	r.changed(target)
	return r.Launchd.Enable(ctx, target)
}

func remoteDigest(f RemoteFile, listed bool) string {
	switch {
	case !listed:
		return string(RemoteUnknown)
	case f.State == RemoteRegular:
		return "sha256:" + f.SHA256
	}
	return string(f.State)
}

// nodeDigest says whether a node answered, by the kind of failure only.
func nodeDigest(err error) string {
	for _, k := range []error{ErrUnreachable, ErrAuth, ErrHostKey, ErrRemote} {
		if errors.Is(err, k) {
			return "error:" + k.Error()
		}
	}
	if err != nil {
		return "error"
	}
	return "answered"
}

// nodeSystemUnit marks a node's system manager's unit in a nodeunit key
// (nodeunit:<node>:system/<unit>): a unit name holds no slash.
const nodeSystemUnit = "system/"

// RecordingRemote records what nodes answered in a ReadLog. A pass writes
// a node's files after it has read all of them, so every Digests call is
// the node as it was.
type RecordingRemote struct {
	Remote
	Log *ReadLog
}

var _ Remote = RecordingRemote{}

// Plans implements planner: as the remote it records.
func (r RecordingRemote) Plans() bool { return Plans(r.Remote) }

// Digests implements Remote.
func (r RecordingRemote) Digests(ctx context.Context, n RemoteNode, paths []string, globs ...RemoteGlob) (map[string]RemoteFile, error) {
	res, err := r.Remote.Digests(ctx, n, paths, globs...)
	r.record(n, paths, globs, res, err)
	return res, err
}

// Observe implements Remote: the files as Digests records them (a plan
// keeps no digest of systemd's answer, here as on this host).
func (r RecordingRemote) Observe(ctx context.Context, n RemoteNode, q RemoteQuery) (*RemoteObservation, error) {
	o, err := r.Remote.Observe(ctx, n, q)
	var files map[string]RemoteFile
	if o != nil {
		files = o.Files
	}
	r.record(n, q.Paths, q.Globs, files, err)
	if err == nil {
		// The node's systemd as the pass decides on it, each unit's show
		// (nodeunit:<node>:<unit>; nodeunit:<node>:system/<unit> of the
		// system manager).
		for _, u := range q.Units {
			var info *UnitInfo
			if o.UnitsErr == nil {
				info = o.Units[u]
			}
			r.Log.add("nodeunit:"+n.Name+":"+u, showDigest(info, o.UnitsErr))
		}
		for _, u := range q.SystemUnits {
			var info *UnitInfo
			if o.SystemUnitsErr == nil {
				info = o.SystemUnits[u]
			}
			r.Log.add("nodeunit:"+n.Name+":"+nodeSystemUnit+u, showDigest(info, o.SystemUnitsErr))
		}
	}
	return o, err
}

func (r RecordingRemote) record(n RemoteNode, paths []string, globs []RemoteGlob, res map[string]RemoteFile, err error) {
	r.Log.mu.Lock()
	r.Log.nodes[n.Name] = n
	r.Log.mu.Unlock()
	r.Log.add("remote:"+n.Name, nodeDigest(err))
	if err == nil {
		for _, p := range paths {
			f, ok := res[p]
			r.Log.add("remote:"+n.Name+":"+p, remoteDigest(f, ok))
		}
		// What the globs matched is recorded as the paths it is: a file
		// that changes there moves the plan (a match that appears later
		// does not: the plan names the paths it saw).
		asked := make(map[string]bool, len(paths)+len(globs))
		for _, p := range paths {
			asked[p] = true
		}
		for _, g := range globs {
			asked[g.Pattern] = true
		}
		for p, f := range res {
			if !asked[p] {
				r.Log.add("remote:"+n.Name+":"+p, remoteDigest(f, true))
			}
		}
	}
}

// Reread reads every key of reads again, through read-only guards, and
// returns those whose digest moved, in the order of reads. nodes are how
// to reach the nodes named in remote keys; a remote key of a node not in
// nodes has moved.
func Reread(ctx context.Context, reads []Read, h Host, l Launchd, r Remote, nodes []RemoteNode) []Moved {
	h, l, r = ReadOnlyHost{Host: h}, ReadOnlyLaunchd{Launchd: l}, ReadOnlyRemote{Remote: r}
	byName := make(map[string]RemoteNode, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
	}
	// A node is asked once, for every path of it the plan read and every
	// unit of its systemd.
	paths := make(map[string][]string)
	units := make(map[string][]string)
	sysUnits := make(map[string][]string)
	for _, rd := range reads {
		if rest, ok := strings.CutPrefix(rd.Key, "remote:"); ok {
			if node, p, ok := strings.Cut(rest, ":"); ok {
				paths[node] = append(paths[node], p)
			} else if _, seen := paths[rest]; !seen {
				paths[rest] = nil
			}
		}
		if rest, ok := strings.CutPrefix(rd.Key, "nodeunit:"); ok {
			node, u, _ := strings.Cut(rest, ":")
			if su, ok := strings.CutPrefix(u, nodeSystemUnit); ok {
				sysUnits[node] = append(sysUnits[node], su)
			} else {
				units[node] = append(units[node], u)
			}
			if _, seen := paths[node]; !seen {
				paths[node] = nil
			}
		}
	}
	answers := make(map[string]map[string]RemoteFile)
	unitsNow := make(map[string]string) // node:unit -> digest
	nodeNow := make(map[string]string)
	for name, ps := range paths {
		n, ok := byName[name]
		if !ok {
			nodeNow[name] = "unknown-node"
			continue
		}
		// The connection stays up for the pass that follows, which ends it.
		if len(units[name])+len(sysUnits[name]) == 0 {
			res, err := r.Digests(ctx, n, ps)
			nodeNow[name], answers[name] = nodeDigest(err), res
			continue
		}
		o, err := r.Observe(ctx, n, RemoteQuery{Paths: ps, Units: units[name], SystemUnits: sysUnits[name]})
		nodeNow[name] = nodeDigest(err)
		if err != nil {
			continue
		}
		answers[name] = o.Files
		for _, u := range units[name] {
			var info *UnitInfo
			if o.UnitsErr == nil {
				info = o.Units[u]
			}
			unitsNow[name+":"+u] = showDigest(info, o.UnitsErr)
		}
		for _, u := range sysUnits[name] {
			var info *UnitInfo
			if o.SystemUnitsErr == nil {
				info = o.SystemUnits[u]
			}
			unitsNow[name+":"+nodeSystemUnit+u] = showDigest(info, o.SystemUnitsErr)
		}
	}
	var moved []Moved
	for _, rd := range reads {
		if strings.HasPrefix(rd.Key, "systemd:") || strings.HasPrefix(rd.Key, "systemd-system:") {
			continue // RereadUnits
		}
		now := reread(ctx, rd.Key, h, l, nodeNow, answers)
		if rest, ok := strings.CutPrefix(rd.Key, "nodeunit:"); ok {
			node, _, _ := strings.Cut(rest, ":")
			if now = unitsNow[rest]; now == "" {
				now = nodeNow[node]
			}
		}
		if now != rd.Digest {
			moved = append(moved, Moved{Key: rd.Key, Was: rd.Digest, Now: now})
		}
	}
	return moved
}

func reread(ctx context.Context, key string, h Host, l Launchd, nodeNow map[string]string, answers map[string]map[string]RemoteFile) string {
	kind, rest, _ := strings.Cut(key, ":")
	switch kind {
	case "file":
		data, info, err := h.ReadFile(rest)
		return FileDigest(data, info, err)
	case "stat":
		return statDigest(h.Stat(rest))
	case "lstat":
		return statDigest(h.Lstat(rest))
	case "link":
		return linkDigest(h.Readlink(rest))
	case "dir":
		return dirDigest(h.ReadDir(rest))
	case "launchd":
		what, arg, _ := strings.Cut(rest, ":")
		switch what {
		case "available":
			return availableDigest(l.Available())
		case "print":
			return printDigest(l.Print(ctx, arg))
		case "disabled":
			return disabledDigest(l.Disabled(ctx, arg))
		}
	case "remote":
		node, p, isPath := strings.Cut(rest, ":")
		if !isPath {
			return nodeNow[node]
		}
		res := answers[node]
		if res == nil {
			return nodeNow[node]
		}
		f, ok := res[p]
		return remoteDigest(f, ok)
	}
	return "unknown-key"
}

// Describe names a read's key for a person: ~/path, launchd gui/501/x,
// node:~/path.
func Describe(key string) string {
	kind, rest, _ := strings.Cut(key, ":")
	switch kind {
	case "file", "stat", "lstat", "link", "dir":
		if strings.HasPrefix(rest, "/") { // a system unit's file
			return rest
		}
		return "~/" + rest
	case "launchd":
		what, arg, _ := strings.Cut(rest, ":")
		switch what {
		case "available":
			return "launchctl"
		case "print":
			return "launchd " + arg
		case "disabled":
			return "launchd's disabled services in " + arg
		}
	case "remote":
		if node, p, ok := strings.Cut(rest, ":"); ok {
			if strings.HasPrefix(p, "/") { // a system unit's file
				return "node " + node + ": " + p
			}
			return "node " + node + ": ~/" + p
		}
		return "node " + rest
	case "systemd":
		if u, ok := strings.CutPrefix(rest, "show:"); ok {
			return "systemd unit " + u
		}
		return "systemctl"
	case "systemd-system":
		if u, ok := strings.CutPrefix(rest, "show:"); ok {
			return "system unit " + u
		}
		return "systemctl (system manager)"
	case "nodeunit":
		node, u, _ := strings.Cut(rest, ":")
		if su, ok := strings.CutPrefix(u, nodeSystemUnit); ok {
			return "node " + node + ": system unit " + su
		}
		return "node " + node + ": systemd unit " + u
	}
	return key
}
