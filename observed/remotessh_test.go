package observed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sshNode is one node behind the test sshd, with a home of its own.
type sshNode struct {
	s    *SSH
	n    RemoteNode
	home string // the node's home, on this machine
}

func newSSHNode(t *testing.T) *sshNode {
	t.Helper()
	local := t.TempDir()
	port := startSSHD(t, local)
	s := NewSSH(local)
	t.Cleanup(func() { _ = s.Close() })
	home := t.TempDir()
	return &sshNode{s: s, home: home,
		n: RemoteNode{Name: "node", Destination: "node", Port: port, Timeout: 5 * time.Second, Home: home}}
}

func (x *sshNode) write(t *testing.T, backupDir string, ops ...RemoteWrite) []RemoteResult {
	t.Helper()
	res, err := x.s.Write(context.Background(), x.n, backupDir, ops)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

func (x *sshNode) digests(t *testing.T, paths ...string) map[string]RemoteFile {
	t.Helper()
	res, err := x.s.Digests(context.Background(), x.n, paths)
	if err != nil {
		t.Fatalf("Digests: %v", err)
	}
	return res
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// allBytes holds every byte value, NUL first, then again in reverse, and
// ends without a newline.
func allBytes() []byte {
	b := make([]byte, 512)
	for i := range 256 {
		b[i], b[511-i] = byte(i), byte(i)
	}
	return b
}

// TestSSHBytesExact: content with every byte value travels to the node and
// back byte for byte (a shell word cannot hold a NUL: PrintfFormat), and
// the digest and the mode the node reports are those of the bytes sent.
func TestSSHBytesExact(t *testing.T) {
	x := newSSHNode(t)
	content := allBytes()
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"every byte value", content},
		{"empty", nil},
		{"a leading dash and percent signs", []byte("-n %s %% %d \\n \\0 '\"`$(x)\n")},
		{"trailing newlines", []byte("a\n\n\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "d/" + strings.ReplaceAll(tc.name, " ", "-") + ".bin"
			res := x.write(t, "bk", RemoteWrite{Path: p, Content: tc.content, Mode: 0o644, MkDir: true})
			if diff := cmp.Diff([]RemoteResult{{Path: p, Status: "ok"}}, res); diff != "" {
				t.Fatalf("Write mismatch (-want +got):\n%s", diff)
			}
			got, err := os.ReadFile(filepath.Join(x.home, p))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tc.content, got) {
				t.Fatalf("the node holds %d bytes %q, want %d bytes %q", len(got), got, len(tc.content), tc.content)
			}
			want := map[string]RemoteFile{p: {State: RemoteRegular, SHA256: sum(tc.content), Mode: 0o644}}
			if diff := cmp.Diff(want, x.digests(t, p)); diff != "" {
				t.Errorf("Digests mismatch (-want +got):\n%s", diff)
			}
			fetched, err := x.s.Fetch(context.Background(), x.n, []string{p})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tc.content, fetched[p]) {
				t.Errorf("Fetch = %q, want %q", fetched[p], tc.content)
			}
		})
	}
	// Every byte value as a single file each, in one session.
	var ops []RemoteWrite
	for i := range 256 {
		ops = append(ops, RemoteWrite{Path: "one/" + hex.EncodeToString([]byte{byte(i)}), Content: []byte{byte(i)}, MkDir: true})
	}
	for _, r := range x.write(t, "bk", ops...) {
		if r.Status != "ok" {
			t.Fatalf("%s: %+v", r.Path, r)
		}
	}
	for i := range 256 {
		got, err := os.ReadFile(filepath.Join(x.home, ops[i].Path))
		if err != nil || !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("byte %#02x arrived as %q (%v)", i, got, err)
		}
	}
}

// TestSSHModes: a new file gets exactly the mode asked for, whatever the
// node's umask; chmod changes the mode and leaves the content and the
// inode; Digests reports modes in the same round trip.
func TestSSHModes(t *testing.T) {
	x := newSSHNode(t)
	x.write(t, "bk",
		RemoteWrite{Path: "w/secret", Content: []byte("s\n"), Mode: 0o600, MkDir: true},
		RemoteWrite{Path: "w/plain", Content: []byte("p\n"), Mode: 0o644, MkDir: true},
		RemoteWrite{Path: "w/script", Content: []byte("#!/bin/sh\n"), Mode: 0o755, MkDir: true},
		RemoteWrite{Path: "w/group", Content: []byte("g\n"), Mode: 0o640, MkDir: true},
	)
	want := map[string]RemoteFile{
		"w/secret": {State: RemoteRegular, SHA256: sum([]byte("s\n")), Mode: 0o600},
		"w/plain":  {State: RemoteRegular, SHA256: sum([]byte("p\n")), Mode: 0o644},
		"w/script": {State: RemoteRegular, SHA256: sum([]byte("#!/bin/sh\n")), Mode: 0o755},
		"w/group":  {State: RemoteRegular, SHA256: sum([]byte("g\n")), Mode: 0o640},
	}
	if diff := cmp.Diff(want, x.digests(t, "w/secret", "w/plain", "w/script", "w/group")); diff != "" {
		t.Fatalf("Digests mismatch (-want +got):\n%s", diff)
	}
	for name, w := range want {
		fi, err := os.Stat(filepath.Join(x.home, name))
		if err != nil || fi.Mode().Perm() != w.Mode {
			t.Errorf("%s on disk: %v %v, want %#o", name, fi.Mode(), err, w.Mode)
		}
	}
	// chmod only: same inode, same bytes, same mtime.
	p := filepath.Join(x.home, "w/plain")
	before, _ := os.Stat(p)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	res := x.write(t, "bk", RemoteWrite{Op: RemoteChmod, Path: "w/plain", Mode: 0o600})
	if diff := cmp.Diff([]RemoteResult{{Path: "w/plain", Status: "ok"}}, res); diff != "" {
		t.Fatalf("chmod mismatch (-want +got):\n%s", diff)
	}
	after, _ := os.Stat(p)
	if after.Mode().Perm() != 0o600 || !os.SameFile(before, after) || !after.ModTime().Equal(old.Truncate(time.Microsecond)) && after.ModTime().Unix() != old.Unix() {
		t.Errorf("after chmod: mode %v, same file %v, mtime %v (want %v)", after.Mode(), os.SameFile(before, after), after.ModTime(), old)
	}
	if b, _ := os.ReadFile(p); string(b) != "p\n" {
		t.Errorf("chmod changed the content to %q", b)
	}
	// Replacing a file keeps what was there under the backup directory,
	// with its mode; the backup directories are private.
	res = x.write(t, ".sanctum/state/backups/run-1", RemoteWrite{Path: "w/secret", Content: []byte("s2\n"), Mode: 0o600})
	if diff := cmp.Diff([]RemoteResult{{Path: "w/secret", Status: "ok", Backup: ".sanctum/state/backups/run-1/w/secret"}}, res); diff != "" {
		t.Fatalf("replace mismatch (-want +got):\n%s", diff)
	}
	kept := filepath.Join(x.home, ".sanctum/state/backups/run-1/w/secret")
	if b, err := os.ReadFile(kept); err != nil || string(b) != "s\n" {
		t.Errorf("backup holds %q (%v), want %q", b, err, "s\n")
	}
	if fi, err := os.Stat(filepath.Dir(kept)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory mode %v (%v), want 0700", fi.Mode(), err)
	}
}

// TestSSHRemove: a file is removed (moved into the backups) only while it
// holds the digest reconcile wrote; a changed file, a symlink and a
// missing one are answered as such and left.
func TestSSHRemove(t *testing.T) {
	x := newSSHNode(t)
	x.write(t, "bk",
		RemoteWrite{Path: "ws/ours", Content: []byte("ours\n"), MkDir: true},
		RemoteWrite{Path: "ws/edited", Content: []byte("edited\n"), MkDir: true},
	)
	if err := os.Symlink("ours", filepath.Join(x.home, "ws/link")); err != nil {
		t.Fatal(err)
	}
	res := x.write(t, ".sanctum/state/backups/run-2",
		RemoteWrite{Op: RemoteRemove, Path: "ws/ours", SHA256: sum([]byte("ours\n"))},
		RemoteWrite{Op: RemoteRemove, Path: "ws/edited", SHA256: sum([]byte("what reconcile wrote\n"))},
		RemoteWrite{Op: RemoteRemove, Path: "ws/link", SHA256: sum([]byte("ours\n"))},
		RemoteWrite{Op: RemoteRemove, Path: "ws/absent", SHA256: sum([]byte("x"))},
		RemoteWrite{Op: RemoteRemove, Path: "nodir/absent", SHA256: sum([]byte("x"))},
	)
	want := []RemoteResult{
		{Path: "ws/ours", Status: "ok", Backup: ".sanctum/state/backups/run-2/ws/ours"},
		{Index: 1, Path: "ws/edited", Status: "changed"},
		{Index: 2, Path: "ws/link", Status: "changed"},
		{Index: 3, Path: "ws/absent", Status: "gone"},
		{Index: 4, Path: "nodir/absent", Status: "gone"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("remove mismatch (-want +got):\n%s", diff)
	}
	if _, err := os.Lstat(filepath.Join(x.home, "ws/ours")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ws/ours still there: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(x.home, ".sanctum/state/backups/run-2/ws/ours")); err != nil || string(b) != "ours\n" {
		t.Errorf("backup of ws/ours: %q %v", b, err)
	}
	for _, p := range []string{"ws/edited", "ws/link"} {
		if _, err := os.Lstat(filepath.Join(x.home, p)); err != nil {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
}

// TestSSHNoEscape: every component of a path under the node's home is
// checked, in the script that reads or writes it: a symlink leading out of
// the home anywhere on the way stops it before any write; one that stays
// inside is followed; a symlink, FIFO or directory at the file is refused
// without being opened.
func TestSSHNoEscape(t *testing.T) {
	x := newSSHNode(t)
	victim := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(victim, filepath.Join(x.home, ".openclaw")))                           // first component
	must(os.MkdirAll(filepath.Join(x.home, "deep/er"), 0o755))                             //
	must(os.Symlink(filepath.Join(victim, "."), filepath.Join(x.home, "deep/er/out")))     // third component
	must(os.Symlink("../../..", filepath.Join(x.home, "deep/er/up")))                      // relative, leaves the home
	must(os.MkdirAll(filepath.Join(x.home, "real/ws"), 0o755))                             //
	must(os.Symlink("real", filepath.Join(x.home, "inside")))                              // stays inside
	must(os.Symlink(filepath.Join(victim, "f"), filepath.Join(x.home, "real/ws/SOUL.md"))) // the file itself
	must(syscall.Mkfifo(filepath.Join(x.home, "real/ws/fifo.md"), 0o644))                  // a FIFO: never opened
	must(os.MkdirAll(filepath.Join(x.home, "real/ws/dir.md"), 0o755))                      // a directory
	must(os.WriteFile(filepath.Join(x.home, "plainfile"), []byte("x"), 0o644))             // a file on the way
	must(os.MkdirAll(filepath.Join(x.home, "bk-escape/.sanctum"), 0o755))                  //
	must(os.Symlink(victim, filepath.Join(x.home, ".sanctum")))                            // the backups' way out
	must(os.WriteFile(filepath.Join(x.home, "real/ws/TOOLS.md"), []byte("old\n"), 0o644))  //
	paths := []string{".openclaw/workspace/SOUL.md", "deep/er/out/x.md", "deep/er/up/x.md", "inside/ws/TOOLS.md",
		"real/ws/SOUL.md", "real/ws/fifo.md", "real/ws/dir.md", "plainfile/x.md", ".sanctum/config/agent-capabilities.yaml"}
	start := time.Now()
	got := x.digests(t, paths...)
	want := map[string]RemoteFile{
		".openclaw/workspace/SOUL.md":             {State: RemoteEscape},
		"deep/er/out/x.md":                        {State: RemoteEscape},
		"deep/er/up/x.md":                         {State: RemoteEscape},
		"inside/ws/TOOLS.md":                      {State: RemoteRegular, SHA256: sum([]byte("old\n")), Mode: 0o644},
		"real/ws/SOUL.md":                         {State: RemoteSymlink},
		"real/ws/fifo.md":                         {State: RemoteOther},
		"real/ws/dir.md":                          {State: RemoteOther},
		"plainfile/x.md":                          {State: RemoteNotDir},
		".sanctum/config/agent-capabilities.yaml": {State: RemoteEscape},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Digests mismatch (-want +got):\n%s", diff)
	}
	var ops []RemoteWrite
	for _, p := range paths {
		ops = append(ops, RemoteWrite{Path: p, Content: []byte("new\n"), MkDir: true})
	}
	res := x.write(t, ".sanctum/state/backups/r", ops...)
	// Bounded, not timed: before, a FIFO held each round trip for the
	// whole command timeout (34 s); the bound leaves room for a loaded
	// machine.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("two round trips with a FIFO among the targets took %s", d)
	}
	reasons := map[string]string{}
	for _, r := range res {
		reasons[r.Path] = r.Status + ": " + r.Reason
	}
	wantReasons := map[string]string{
		".openclaw/workspace/SOUL.md":             "failed: " + writeFailures["escape"],
		"deep/er/out/x.md":                        "failed: " + writeFailures["escape"],
		"deep/er/up/x.md":                         "failed: " + writeFailures["escape"],
		"inside/ws/TOOLS.md":                      "failed: " + writeFailures["backup-escape"],
		"real/ws/SOUL.md":                         "failed: " + writeFailures["symlink"],
		"real/ws/fifo.md":                         "failed: " + writeFailures["not-file"],
		"real/ws/dir.md":                          "failed: " + writeFailures["not-file"],
		"plainfile/x.md":                          "failed: " + writeFailures["not-dir"],
		".sanctum/config/agent-capabilities.yaml": "failed: " + writeFailures["escape"],
	}
	if diff := cmp.Diff(wantReasons, reasons); diff != "" {
		t.Errorf("Write mismatch (-want +got):\n%s", diff)
	}
	// Nothing reached the victim, and the file behind the inside symlink
	// was left as it was (its backup could not be made).
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Errorf("the victim directory got %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(x.home, "real/ws/TOOLS.md")); string(b) != "old\n" {
		t.Errorf("TOOLS.md = %q", b)
	}
	// Through a symlink that stays inside, with the backups inside too,
	// the write lands where the link leads.
	must(os.Remove(filepath.Join(x.home, ".sanctum")))
	res = x.write(t, "bk", RemoteWrite{Path: "inside/ws/TOOLS.md", Content: []byte("new\n")})
	if diff := cmp.Diff([]RemoteResult{{Path: "inside/ws/TOOLS.md", Status: "ok", Backup: "bk/inside/ws/TOOLS.md"}}, res); diff != "" {
		t.Errorf("Write through an inside symlink (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(filepath.Join(x.home, "real/ws/TOOLS.md")); string(b) != "new\n" {
		t.Errorf("TOOLS.md = %q", b)
	}
}

// TestSSHPathsAreData: paths with spaces, quotes, $, backticks, ;,
// newlines and a leading dash are written and read as names: nothing in
// them runs on the node.
func TestSSHPathsAreData(t *testing.T) {
	x := newSSHNode(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	names := []string{
		"x; touch " + marker,
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		"a'b\"c",
		"new\nline; touch " + marker,
		"-rf",
		"sp ace/$HOME/${IFS}x",
		"|| touch " + marker + " &&",
	}
	var ops []RemoteWrite
	var paths []string
	for i, name := range names {
		p := "d" + string(rune('a'+i)) + "/" + strings.ReplaceAll(name, "/", "_")
		paths = append(paths, p)
		ops = append(ops, RemoteWrite{Path: p, Content: []byte(name), MkDir: true})
	}
	for _, r := range x.write(t, "bk", ops...) {
		if r.Status != "ok" {
			t.Errorf("%q: %+v", r.Path, r)
		}
	}
	got := x.digests(t, paths...)
	for i, p := range paths {
		want := sum([]byte(names[i]))
		if strings.Contains(p, "\n") {
			want = "unreadable" // never hashed: stat and sha256sum answer by line
		}
		if got[p].SHA256 != want {
			t.Errorf("%q: %+v", p, got[p])
		}
		if b, err := os.ReadFile(filepath.Join(x.home, p)); err != nil || string(b) != names[i] {
			t.Errorf("%q on the node: %q %v", p, b, err)
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a path ran on the node: %s exists", marker)
	}
}

// TestSSHTimeouts: a server that sends its banner and stalls costs the
// connect timeout and is unreachable; a node that lets us in and whose
// command hangs costs the command timeout and has timed out.
func TestSSHTimeouts(t *testing.T) {
	x := newSSHNode(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian\r\n"))
			defer c.Close() // held open, silent after the banner
		}
	}()
	banner := RemoteNode{Name: "banner", Destination: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port,
		Timeout: 2 * time.Second, Home: x.home}
	start := time.Now()
	_, err = x.s.Digests(context.Background(), banner, []string{"a"})
	d := time.Since(start)
	// The bounds below are generous (a loaded machine): before, the
	// banner cost about 10 s and the stall 33 s.
	if !errors.Is(err, ErrUnreachable) || d > 2*time.Second+4*time.Second {
		t.Errorf("banner then silence: %v after %s, want unreachable within connectTimeout 2s", err, d)
	}

	stall := x.n
	stall.Name, stall.Destination, stall.CommandTimeout = "stall", "stall", 2*time.Second
	start = time.Now()
	_, err = x.s.Digests(context.Background(), stall, []string{"a"})
	d = time.Since(start)
	if !errors.Is(err, ErrTimedOut) || errors.Is(err, ErrUnreachable) || d > 2*time.Second+8*time.Second {
		t.Errorf("a command that hangs after login: %v after %s, want timed out within login + commandTimeout 2s", err, d)
	}
	// A live node is not held up by a command timeout (room for a loaded
	// machine: the command itself takes milliseconds).
	x.n.CommandTimeout = 10 * time.Second
	if _, err := x.s.Digests(context.Background(), x.n, []string{"a"}); err != nil {
		t.Errorf("live node: %v", err)
	}
}

// TestSSHGlobs: a glob is expanded on the node in the digest round trip:
// each matching directory's files are answered by path (Glob set), a
// symlinked or non-directory match says so for its files, a directory
// that leads out of the home is never expanded, and a match whose name
// holds a newline is left out.
func TestSSHGlobs(t *testing.T) {
	x := newSSHNode(t)
	victim := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{".openclaw/workspace-x", ".openclaw/workspace-y", ".openclaw/workspace-$(touch pwned)", ".openclaw/other", ".openclaw/workspace-new\nline"} {
		must(os.MkdirAll(filepath.Join(x.home, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(x.home, ".openclaw/workspace-x/SOUL.md"), []byte("soul\n"), 0o600))
	must(os.WriteFile(filepath.Join(x.home, ".openclaw/workspace-file"), nil, 0o644))
	must(os.Symlink(victim, filepath.Join(x.home, ".openclaw/workspace-link")))
	must(os.Symlink(victim, filepath.Join(x.home, "away")))
	globs := []RemoteGlob{
		{Pattern: ".openclaw/workspace*", Files: []string{"SOUL.md", "TOOLS.md"}},
		{Pattern: "away/ws*", Files: []string{"SOUL.md"}},
		{Pattern: "absent/ws*", Files: []string{"SOUL.md"}},
		{Pattern: ".openclaw/none*", Files: []string{"SOUL.md"}},
	}
	got, err := x.s.Digests(context.Background(), x.n, []string{".openclaw/other/SOUL.md"}, globs...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RemoteFile{
		".openclaw/other/SOUL.md":                     {State: RemoteMissing},
		".openclaw/workspace-x/SOUL.md":               {State: RemoteRegular, SHA256: sum([]byte("soul\n")), Mode: 0o600, Glob: true},
		".openclaw/workspace-x/TOOLS.md":              {State: RemoteMissing, Glob: true},
		".openclaw/workspace-y/SOUL.md":               {State: RemoteMissing, Glob: true},
		".openclaw/workspace-y/TOOLS.md":              {State: RemoteMissing, Glob: true},
		".openclaw/workspace-$(touch pwned)/SOUL.md":  {State: RemoteMissing, Glob: true},
		".openclaw/workspace-$(touch pwned)/TOOLS.md": {State: RemoteMissing, Glob: true},
		".openclaw/workspace-file/SOUL.md":            {State: RemoteNotDir, Glob: true},
		".openclaw/workspace-file/TOOLS.md":           {State: RemoteNotDir, Glob: true},
		".openclaw/workspace-link/SOUL.md":            {State: RemoteDirSymlink, Glob: true},
		".openclaw/workspace-link/TOOLS.md":           {State: RemoteDirSymlink, Glob: true},
		"away/ws*":                                    {State: RemoteEscape},
		"absent/ws*":                                  {State: RemoteNoDir},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Digests with globs mismatch (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(x.home, ".openclaw", "pwned")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a match's name ran: %v", err)
	}
}

// TestSSHRestore: a restore puts back a run's backup on the node only while
// the backup holds the digest the run recorded (checked on what was copied,
// so a backup swapped after the digest round trip is refused too), with the
// mode asked for, what it replaces kept under the restoring run's own
// backups; a backup that is gone, a symlink, or reached through a symlink
// leading out of the home is refused, as is a target reached that way, and
// nothing is written.
func TestSSHRestore(t *testing.T) {
	x := newSSHNode(t)
	victim := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	kept := []byte("the hand-written soul\x00\n")
	run1 := ".sanctum/state/backups/run-1"
	must(os.MkdirAll(filepath.Join(x.home, run1, "ws"), 0o700))
	must(os.WriteFile(filepath.Join(x.home, run1, "ws/SOUL.md"), kept, 0o600))
	must(os.WriteFile(filepath.Join(x.home, run1, "ws/TOOLS.md"), []byte("planted\n"), 0o600))
	must(os.Symlink(filepath.Join(victim, "secret"), filepath.Join(x.home, run1, "ws/LINK.md")))
	must(os.WriteFile(filepath.Join(victim, "secret"), []byte("outside\n"), 0o600))
	must(os.MkdirAll(filepath.Join(x.home, "ws"), 0o755))
	must(os.WriteFile(filepath.Join(x.home, "ws/SOUL.md"), []byte("what the run wrote\n"), 0o644))
	must(os.Symlink(victim, filepath.Join(x.home, "out")))
	from := func(p string) string { return run1 + "/" + p }
	res := x.write(t, ".sanctum/state/backups/run-2",
		RemoteWrite{Op: RemoteRestore, Path: "ws/SOUL.md", From: from("ws/SOUL.md"), SHA256: sum(kept), Mode: 0o640},
		RemoteWrite{Op: RemoteRestore, Path: "ws/NEW.md", From: from("ws/SOUL.md"), SHA256: sum(kept), Mode: 0o600},
		RemoteWrite{Op: RemoteRestore, Path: "ws/TOOLS.md", From: from("ws/TOOLS.md"), SHA256: sum([]byte("what was kept\n")), Mode: 0o644},
		RemoteWrite{Op: RemoteRestore, Path: "ws/GONE.md", From: from("ws/GONE.md"), SHA256: sum(kept), Mode: 0o644},
		RemoteWrite{Op: RemoteRestore, Path: "ws/LINK.md", From: from("ws/LINK.md"), SHA256: sum([]byte("outside\n")), Mode: 0o644},
		RemoteWrite{Op: RemoteRestore, Path: "out/SOUL.md", From: from("ws/SOUL.md"), SHA256: sum(kept), Mode: 0o644},
	)
	want := []RemoteResult{
		{Path: "ws/SOUL.md", Status: "ok", Backup: ".sanctum/state/backups/run-2/ws/SOUL.md"},
		{Index: 1, Path: "ws/NEW.md", Status: "ok"},
		{Index: 2, Path: "ws/TOOLS.md", Status: "changed"},
		{Index: 3, Path: "ws/GONE.md", Status: "failed", Reason: writeFailures["no-backup"]},
		{Index: 4, Path: "ws/LINK.md", Status: "failed", Reason: writeFailures["no-backup"]},
		{Index: 5, Path: "out/SOUL.md", Status: "failed", Reason: writeFailures["escape"]},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("restore mismatch (-want +got):\n%s", diff)
	}
	got := x.digests(t, "ws/SOUL.md", "ws/NEW.md", "ws/TOOLS.md", "ws/LINK.md", ".sanctum/state/backups/run-2/ws/SOUL.md")
	wantFiles := map[string]RemoteFile{
		"ws/SOUL.md":  {State: RemoteRegular, SHA256: sum(kept), Mode: 0o640},
		"ws/NEW.md":   {State: RemoteRegular, SHA256: sum(kept), Mode: 0o600},
		"ws/TOOLS.md": {State: RemoteMissing},
		"ws/LINK.md":  {State: RemoteMissing},
		".sanctum/state/backups/run-2/ws/SOUL.md": {State: RemoteRegular, SHA256: sum([]byte("what the run wrote\n")), Mode: 0o600},
	}
	if diff := cmp.Diff(wantFiles, got); diff != "" {
		t.Errorf("after the restore (-want +got):\n%s", diff)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 1 {
		t.Errorf("the victim directory got %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(x.home, "ws")); len(ents) != 2 {
		t.Errorf("ws holds %v: a temporary file was left", ents)
	}
}
