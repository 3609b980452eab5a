//go:build unix

package observed

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func keys(reads []Read) []string {
	var out []string
	for _, r := range reads {
		out = append(out, r.Key)
	}
	return out
}

// The recorder above a dry-run host records what is on disk, and not
// what the pass planned: a read after the pass's own write of a path
// (or under a directory it removed) is left out.
func TestRecordingHostReadsAndOwnWrites(t *testing.T) {
	real, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "a/x.yaml"), "x1", 0o644)
	writeRaw(t, filepath.Join(home, "a/y.yaml"), "y1", 0o600)
	writeRaw(t, filepath.Join(home, "gone/z"), "z", 0o644)
	if err := os.Symlink("a/x.yaml", filepath.Join(home, "link")); err != nil {
		t.Fatal(err)
	}
	log := NewReadLog()
	h := RecordingHost{Host: NewDryRunHost(real), Log: log}

	mustRead := func(name string) {
		t.Helper()
		if _, _, err := h.ReadFile(name); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	mustRead("a/x.yaml")
	mustRead("./a/x.yaml") // the same key
	mustRead("missing.yaml")
	if _, err := h.Lstat("link"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Readlink("link"); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("a/y.yaml", []byte("y2"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRead("a/y.yaml") // after the pass's own write: the plan, not the host
	if _, err := h.ReadDir("a"); err != nil {
		t.Fatal(err)
	} // a directory the pass wrote into
	if err := h.RemoveAll("gone"); err != nil {
		t.Fatal(err)
	}
	mustRead("gone/z")
	// A stat cache hit is answered as such, and the content digested anyway.
	data, _, skipped, err := h.ReadFileUnless("link", func(fs.FileInfo) bool { return true })
	if err != nil || !skipped || data != nil {
		t.Fatalf("ReadFileUnless: %q %v %v; want a skip", data, skipped, err)
	}

	reads := log.Reads()
	want := []string{"file:a/x.yaml", "file:link", "file:missing.yaml", "link:link", "lstat:link"}
	if diff := cmp.Diff(want, keys(reads)); diff != "" {
		t.Fatalf("keys (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, r := range reads {
		got[r.Key] = r.Digest
	}
	if got["file:missing.yaml"] != "absent" || got["lstat:link"] != "symlink" || got["file:a/x.yaml"] != got["file:link"] {
		t.Errorf("digests: %v", got)
	}
	if !strings.HasSuffix(got["file:a/x.yaml"], " mode:0644") {
		t.Errorf("file digest %q carries no mode", got["file:a/x.yaml"])
	}

	// Nothing moved: Reread agrees with every digest.
	if moved := Reread(context.Background(), reads, real, nil, nil, nil); len(moved) != 0 {
		t.Fatalf("moved with nothing changed: %v", moved)
	}
	// A hand edit, a chmod, a new file where none was, a relinked symlink:
	// each moves its key.
	writeRaw(t, filepath.Join(home, "a/x.yaml"), "x2", 0o644)
	writeRaw(t, filepath.Join(home, "missing.yaml"), "now here", 0o644)
	if err := os.Remove(filepath.Join(home, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/y.yaml", filepath.Join(home, "link")); err != nil {
		t.Fatal(err)
	}
	var movedKeys []string
	for _, m := range Reread(context.Background(), reads, real, nil, nil, nil) {
		movedKeys = append(movedKeys, m.Key)
	}
	want = []string{"file:a/x.yaml", "file:link", "file:missing.yaml", "link:link"}
	if diff := cmp.Diff(want, movedKeys); diff != "" {
		t.Fatalf("moved (-want +got):\n%s", diff)
	}
}

func TestFileDigestMode(t *testing.T) {
	_, home := newTestHost(t)
	writeRaw(t, filepath.Join(home, "f"), "same", 0o644)
	h, _ := NewFileHost(home)
	defer h.Close()
	log := NewReadLog()
	RecordingHost{Host: h, Log: log}.ReadFile("f")
	if err := os.Chmod(filepath.Join(home, "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	moved := Reread(context.Background(), log.Reads(), h, nil, nil, nil)
	if len(moved) != 1 || moved[0].Key != "file:f" {
		t.Fatalf("a chmod is a move; got %v", moved)
	}
}

// Workers read in parallel (go test -race).
func TestReadLogConcurrent(t *testing.T) {
	real, home := newTestHost(t)
	for i := range 50 {
		writeRaw(t, filepath.Join(home, fmt.Sprintf("d/f%d", i)), fmt.Sprint(i), 0o644)
	}
	log := NewReadLog()
	h := RecordingHost{Host: NewDryRunHost(real), Log: log}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			name := fmt.Sprintf("d/f%d", i)
			h.ReadFile(name)
			h.WriteFile(name+".new", []byte("x"), 0o644)
		})
	}
	wg.Wait()
	if n := len(log.Reads()); n != 50 {
		t.Fatalf("%d reads recorded; want 50", n)
	}
}

type fakeLaunchd struct {
	Launchd
	loaded   map[string]*ServiceInfo
	disabled map[string]bool
}

func (f *fakeLaunchd) Available() error { return nil }
func (f *fakeLaunchd) Print(_ context.Context, target string) (*ServiceInfo, error) {
	if s, ok := f.loaded[target]; ok {
		c := *s
		return &c, nil
	}
	return nil, ErrNotLoaded
}
func (f *fakeLaunchd) Disabled(context.Context, string) (map[string]bool, error) {
	return f.disabled, nil
}

func TestRecordingLaunchd(t *testing.T) {
	ctx := context.Background()
	f := &fakeLaunchd{
		loaded:   map[string]*ServiceInfo{"gui/501/a": {Path: "/h/a.plist", PID: 10, State: "running"}},
		disabled: map[string]bool{"x": true, "y": false},
	}
	log := NewReadLog()
	l := RecordingLaunchd{Launchd: NewDryRunLaunchd(f), Log: log}
	l.Available()
	l.Print(ctx, "gui/501/a")
	l.Print(ctx, "gui/501/b")
	l.Disabled(ctx, "gui/501")
	l.Bootout(ctx, "gui/501/a")
	if _, err := l.Print(ctx, "gui/501/a"); err != ErrNotLoaded {
		t.Fatalf("the dry run's bootout: %v", err)
	}
	want := []string{"launchd:available", "launchd:disabled:gui/501", "launchd:print:gui/501/a", "launchd:print:gui/501/b"}
	reads := log.Reads()
	if diff := cmp.Diff(want, keys(reads)); diff != "" {
		t.Fatalf("keys (-want +got):\n%s", diff)
	}
	// A restarted service (new pid, other state) has not moved; one loaded
	// from another plist, a newly loaded one and a newly disabled label have.
	f.loaded["gui/501/a"].PID, f.loaded["gui/501/a"].State = 11, "not running"
	if moved := Reread(ctx, reads, nil, f, nil, nil); len(moved) != 0 {
		t.Fatalf("a restart moved %v", moved)
	}
	f.loaded["gui/501/a"].Path = "/elsewhere.plist"
	f.loaded["gui/501/b"] = &ServiceInfo{Path: "/h/b.plist"}
	f.disabled["y"] = true
	var got []string
	for _, m := range Reread(ctx, reads, nil, f, nil, nil) {
		got = append(got, m.Key)
	}
	if diff := cmp.Diff(want[1:], got); diff != "" {
		t.Fatalf("moved (-want +got):\n%s", diff)
	}
}

type fakeRemote struct {
	Remote
	files map[string]RemoteFile
	down  bool
}

func (f *fakeRemote) Digests(_ context.Context, n RemoteNode, paths []string, _ ...RemoteGlob) (map[string]RemoteFile, error) {
	if f.down {
		return nil, &RemoteError{Kind: ErrUnreachable, Detail: "connect timed out"}
	}
	out := map[string]RemoteFile{}
	for _, p := range paths {
		if r, ok := f.files[p]; ok {
			out[p] = r
		} else {
			out[p] = RemoteFile{State: RemoteMissing}
		}
	}
	return out, nil
}

func TestRecordingRemote(t *testing.T) {
	ctx := context.Background()
	f := &fakeRemote{files: map[string]RemoteFile{"w/SOUL.md": {State: RemoteRegular, SHA256: "aa"}}}
	log := NewReadLog()
	r := RecordingRemote{Remote: NewDryRunRemote(f), Log: log}
	node := RemoteNode{Name: "vm", Destination: "openclaw"}
	if _, err := r.Digests(ctx, node, []string{"w/SOUL.md", "w/TOOLS.md"}); err != nil {
		t.Fatal(err)
	}
	reads := log.Reads()
	want := []Read{{"remote:vm", "answered"}, {"remote:vm:w/SOUL.md", "sha256:aa"}, {"remote:vm:w/TOOLS.md", "missing"}}
	if diff := cmp.Diff(want, reads); diff != "" {
		t.Fatalf("reads (-want +got):\n%s", diff)
	}
	if moved := Reread(ctx, reads, nil, nil, f, log.Nodes()); len(moved) != 0 {
		t.Fatalf("moved %v", moved)
	}
	f.files["w/SOUL.md"] = RemoteFile{State: RemoteRegular, SHA256: "bb"}
	moved := Reread(ctx, reads, nil, nil, f, log.Nodes())
	if diff := cmp.Diff([]Moved{{"remote:vm:w/SOUL.md", "sha256:aa", "sha256:bb"}}, moved); diff != "" {
		t.Fatalf("moved (-want +got):\n%s", diff)
	}
	f.down = true
	if moved := Reread(ctx, reads, nil, nil, f, log.Nodes()); len(moved) != 3 {
		t.Fatalf("an unreachable node moves every key of it; got %v", moved)
	}
	if got := Describe("remote:vm:w/SOUL.md"); got != "node vm: ~/w/SOUL.md" {
		t.Errorf("Describe = %q", got)
	}
}

// unitsRemote is fakeRemote that also answers the node's two managers.
type unitsRemote struct {
	*fakeRemote
	user, system map[string]*UnitInfo
	asked        []RemoteQuery
}

func (f *unitsRemote) Observe(ctx context.Context, n RemoteNode, q RemoteQuery) (*RemoteObservation, error) {
	f.asked = append(f.asked, q)
	files, err := f.Digests(ctx, n, q.Paths)
	if err != nil {
		return nil, err
	}
	return &RemoteObservation{Files: files, Units: f.user, SystemUnits: f.system}, nil
}

// TestRecordingRemoteSystemUnits: a node's system manager's answers are
// keys of their own (nodeunit:<node>:system/<unit>), asked again of the
// system manager by Reread: a system unit that moved moves only its key,
// not the user unit of the same name.
func TestRecordingRemoteSystemUnits(t *testing.T) {
	ctx := context.Background()
	unit := "/etc/systemd/system/x.service"
	f := &unitsRemote{fakeRemote: &fakeRemote{files: map[string]RemoteFile{unit: {State: RemoteRegular, SHA256: "aa", Mode: 0o600}}},
		user:   map[string]*UnitInfo{"x.service": {Unit: "x.service", LoadState: "loaded", ActiveState: "active"}},
		system: map[string]*UnitInfo{"x.service": {Unit: "x.service", LoadState: "loaded", ActiveState: "inactive"}}}
	log := NewReadLog()
	node := RemoteNode{Name: "vm", Destination: "vm"}
	q := RemoteQuery{Paths: []string{unit}, Units: []string{"x.service"}, SystemUnits: []string{"x.service"}}
	if _, err := (RecordingRemote{Remote: f, Log: log}).Observe(ctx, node, q); err != nil {
		t.Fatal(err)
	}
	reads := log.Reads()
	var keys []string
	for _, r := range reads {
		keys = append(keys, r.Key)
	}
	want := []string{"nodeunit:vm:system/x.service", "nodeunit:vm:x.service", "remote:vm", "remote:vm:" + unit} // sorted
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Fatalf("keys (-want +got):\n%s", diff)
	}
	f.asked = nil
	if moved := Reread(ctx, reads, nil, nil, f, log.Nodes()); len(moved) != 0 {
		t.Fatalf("moved %v", moved)
	}
	if diff := cmp.Diff([]RemoteQuery{{Paths: []string{unit}, Units: []string{"x.service"}, SystemUnits: []string{"x.service"}}}, f.asked); diff != "" {
		t.Errorf("reread asked (-want +got):\n%s", diff)
	}
	f.system = map[string]*UnitInfo{"x.service": {Unit: "x.service", LoadState: "loaded", ActiveState: "active"}}
	moved := Reread(ctx, reads, nil, nil, f, log.Nodes())
	if len(moved) != 1 || moved[0].Key != "nodeunit:vm:system/x.service" {
		t.Fatalf("moved %v, want the system unit's key only", moved)
	}
	for key, want := range map[string]string{
		"nodeunit:vm:system/x.service": "node vm: system unit x.service",
		"nodeunit:vm:x.service":        "node vm: systemd unit x.service",
		"remote:vm:" + unit:            "node vm: " + unit,
	} {
		if got := Describe(key); got != want {
			t.Errorf("Describe(%s) = %q, want %q", key, got, want)
		}
	}
}
