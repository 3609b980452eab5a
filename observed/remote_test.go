package observed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	hashA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	hashB = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

// remoteErr is a *RemoteError in a form cmp can compare.
type remoteErr struct {
	Kind   string
	Detail string
}

// asRemoteErr returns err as a remoteErr, or nil when err is nil; it fails
// when err is not a *RemoteError.
func asRemoteErr(t *testing.T, err error) *remoteErr {
	t.Helper()
	if err == nil {
		return nil
	}
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RemoteError", err, err)
	}
	if !errors.Is(err, re.Kind) {
		t.Errorf("errors.Is(%v, %v) = false", err, re.Kind)
	}
	return &remoteErr{Kind: re.Kind.Error(), Detail: re.Detail}
}

func TestParseDigests(t *testing.T) {
	tests := []struct {
		name    string
		paths   []string
		globs   []RemoteGlob
		out     string
		want    map[string]RemoteFile
		wantErr *remoteErr
	}{
		{
			name:  "globs: matches named by the node, their files by index after the paths",
			paths: []string{"a"},
			globs: []RemoteGlob{{Pattern: "ws/w*", Files: []string{"S", "T"}}, {Pattern: "gone/x*", Files: []string{"S"}}},
			out: "missing\t0\nG\t0\t1\tw 1\tb\nfile\t1\nmissing\t2\nG\t0\t3\tw2\nnot-dir\t3\nnot-dir\t4\nW\t1\tno-dir\n" +
				"HASHES\n" + hashA + "  ws/w 1\tb/S\nMODES\n644 ws/w 1\tb/S\nEND\n",
			want: map[string]RemoteFile{
				"a":           {State: RemoteMissing},
				"ws/w 1\tb/S": {State: RemoteRegular, SHA256: hashA, Mode: 0o644, Glob: true},
				"ws/w 1\tb/T": {State: RemoteMissing, Glob: true},
				"ws/w2/S":     {State: RemoteNotDir, Glob: true},
				"ws/w2/T":     {State: RemoteNotDir, Glob: true},
				"gone/x*":     {State: RemoteNoDir},
			},
		},
		{
			name:    "a glob match out of order",
			globs:   []RemoteGlob{{Pattern: "ws/w*", Files: []string{"S"}}},
			out:     "G\t0\t5\tw\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected answer "G\t0\t5\tw"`},
		},
		{
			name:    "a glob match with a slash",
			globs:   []RemoteGlob{{Pattern: "ws/w*", Files: []string{"S"}}},
			out:     "G\t0\t0\t../w\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected answer "G\t0\t0\t../w"`},
		},
		{
			name:  "every state",
			paths: []string{".openclaw/workspace/SOUL.md", ".openclaw/workspace/TOOLS.md", "nodir/x", "linked/y", "adir", "out/z", "file/w", "locked/v"},
			out: "file\t0\nmissing\t1\nno-dir\t2\nsymlink\t3\nnot-file\t4\nescape\t5\nnot-dir\t6\ndenied\t7\n" +
				"HASHES\n" + hashA + "  .openclaw/workspace/SOUL.md\nMODES\n600 .openclaw/workspace/SOUL.md\nEND\n",
			want: map[string]RemoteFile{
				".openclaw/workspace/SOUL.md":  {State: RemoteRegular, SHA256: hashA, Mode: 0o600},
				".openclaw/workspace/TOOLS.md": {State: RemoteMissing},
				"nodir/x":                      {State: RemoteNoDir},
				"linked/y":                     {State: RemoteSymlink},
				"adir":                         {State: RemoteOther},
				"out/z":                        {State: RemoteEscape},
				"file/w":                       {State: RemoteNotDir},
				"locked/v":                     {State: RemoteDenied},
			},
		},
		{
			name:  "two regular files, hashes and modes in any order",
			paths: []string{"a", "b c"},
			out:   "file\t0\nfile\t1\nHASHES\n" + hashB + "  b c\n" + hashA + "  a\nMODES\n755 a\n644 b c\nEND\n",
			want: map[string]RemoteFile{
				"a":   {State: RemoteRegular, SHA256: hashA, Mode: 0o755},
				"b c": {State: RemoteRegular, SHA256: hashB, Mode: 0o644},
			},
		},
		{
			name:  "sha256sum escapes a backslash and a newline",
			paths: []string{"a\\b\nc"},
			out:   "file\t0\nHASHES\n\\" + hashA + "  a\\\\b\\nc\nEND\n",
			want:  map[string]RemoteFile{"a\\b\nc": {State: RemoteRegular, SHA256: hashA}},
		},
		{
			name:  "a setuid mode keeps its permission bits only",
			paths: []string{"a"},
			out:   "file\t0\nHASHES\n" + hashA + "  a\nMODES\n4755 a\nEND\n",
			want:  map[string]RemoteFile{"a": {State: RemoteRegular, SHA256: hashA, Mode: 0o755}},
		},
		{
			name:  "regular file without a hash is unreadable",
			paths: []string{"a", "b"},
			out:   "file\t0\nfile\t1\nHASHES\n" + hashA + "  a\nEND\n",
			want: map[string]RemoteFile{
				"a": {State: RemoteRegular, SHA256: hashA},
				"b": {State: RemoteRegular, SHA256: "unreadable"},
			},
		},
		{
			name:  "hash of a path that is not a regular file is ignored",
			paths: []string{"a"},
			out:   "missing\t0\nHASHES\n" + hashA + "  a\n" + hashB + "  unasked\nEND\n",
			want:  map[string]RemoteFile{"a": {State: RemoteMissing}},
		},
		{
			name: "no paths",
			out:  "HASHES\nMODES\nEND\n",
			want: map[string]RemoteFile{},
		},
		{
			name:  "lines after END are ignored",
			paths: []string{"a"},
			out:   "missing\t0\nHASHES\nEND\ngarbage\n",
			want:  map[string]RemoteFile{"a": {State: RemoteMissing}},
		},
		{
			name:  "a path with a tab is named by its index",
			paths: []string{"a\tb"},
			out:   "missing\t0\nHASHES\nEND\n",
			want:  map[string]RemoteFile{"a\tb": {State: RemoteMissing}},
		},
		{
			name:    "empty answer",
			out:     "",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: "the answer was cut short"},
		},
		{
			name:    "no END",
			paths:   []string{"a"},
			out:     "file\t0\nHASHES\n" + hashA + "  a\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: "the answer was cut short"},
		},
		{
			name:    "unknown state",
			paths:   []string{"x"},
			out:     "Q\t0\nHASHES\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected answer "Q\t0"`},
		},
		{
			name:    "index out of range",
			paths:   []string{"x"},
			out:     "file\t1\nHASHES\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected answer "file\t1"`},
		},
		{
			name:    "state line without a tab",
			paths:   []string{"a"},
			out:     "file 0\nHASHES\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected answer "file 0"`},
		},
		{
			name:    "short hash",
			paths:   []string{"a"},
			out:     "file\t0\nHASHES\nabc  a\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected digest line "abc  a"`},
		},
		{
			name:    "hash line with one space",
			paths:   []string{"a"},
			out:     "file\t0\nHASHES\n" + hashA + " a\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected digest line "` + hashA + ` a"`},
		},
		{
			name:    "state line after HASHES",
			paths:   []string{"a"},
			out:     "HASHES\nfile\t0\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected digest line "file\t0"`},
		},
		{
			name:    "mode line that is not octal",
			paths:   []string{"a"},
			out:     "file\t0\nHASHES\nMODES\nrw-r--r-- a\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected mode line "rw-r--r-- a"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDigests([]byte(tt.out), tt.paths, tt.globs...)
			if diff := cmp.Diff(tt.wantErr, asRemoteErr(t, err)); diff != "" {
				t.Fatalf("ParseDigests error mismatch (-want +got):\n%s", diff)
			}
			if err == nil && got == nil {
				t.Fatal("nil result without an error")
			}
			if diff := cmp.Diff(tt.want, got); err == nil && diff != "" {
				t.Errorf("ParseDigests mismatch (-want +got):\n%s", diff)
			}
			if err != nil && !errors.Is(err, ErrRemote) {
				t.Errorf("error %v is not ErrRemote", err)
			}
		})
	}
}

// exitError runs a shell that exits with code and returns its *exec.ExitError.
func exitError(t *testing.T, code string) error {
	t.Helper()
	err := exec.Command("sh", "-c", "exit "+code).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("sh -c 'exit %s': %v, want an *exec.ExitError", code, err)
	}
	return err
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		code   string // exit code of the failed ssh; "" for an error that is not an exit
		stderr string
		want   remoteErr
	}{
		{name: "connection refused", code: "255",
			stderr: "ssh: connect to host 127.0.0.1 port 1: Connection refused\n",
			want:   remoteErr{Kind: "unreachable", Detail: "ssh: connect to host 127.0.0.1 port 1: Connection refused"}},
		{name: "unknown host", code: "255",
			stderr: "ssh: Could not resolve hostname nowhere.invalid: Name or service not known\n",
			want:   remoteErr{Kind: "unreachable", Detail: "ssh: Could not resolve hostname nowhere.invalid: Name or service not known"}},
		{name: "timeout after a warning keeps the last line", code: "255",
			stderr: "Warning: something\nssh: connect to host 10.0.0.9 port 22: Operation timed out\n",
			want:   remoteErr{Kind: "unreachable", Detail: "ssh: connect to host 10.0.0.9 port 22: Operation timed out"}},
		{name: "silent 255", code: "255", stderr: "",
			want: remoteErr{Kind: "unreachable", Detail: "ssh exited 255 without a word"}},
		{name: "publickey denied", code: "255",
			stderr: "user@127.0.0.1: Permission denied (publickey).\n",
			want:   remoteErr{Kind: "authentication failed", Detail: "user@127.0.0.1: Permission denied (publickey)."}},
		{name: "bare permission denied", code: "255",
			stderr: "Permission denied (publickey).",
			want:   remoteErr{Kind: "authentication failed", Detail: "Permission denied (publickey)."}},
		{name: "too many authentication failures", code: "255",
			stderr: "Received disconnect from 10.0.0.3 port 22:2: Too many authentication failures\n",
			want:   remoteErr{Kind: "authentication failed", Detail: "Received disconnect from 10.0.0.3 port 22:2: Too many authentication failures"}},
		{name: "host key verification failed", code: "255",
			stderr: "Host key verification failed.\n",
			want:   remoteErr{Kind: "host key mismatch", Detail: "Host key verification failed."}},
		{name: "host key verification after a notice", code: "255",
			stderr: "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.\n",
			want:   remoteErr{Kind: "host key mismatch", Detail: "Host key verification failed."}},
		{name: "changed host identification", code: "255",
			stderr: "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n" +
				"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n" +
				"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n" +
				"Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\n" +
				"Host key verification failed.\n",
			want: remoteErr{Kind: "host key mismatch", Detail: "Host key verification failed."}},
		{name: "bad control path is local setup", code: "255",
			stderr: "unix_listener: path \"/very/long/socket\" too long for Unix domain socket\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "local ssh setup: unix_listener: path \"/very/long/socket\" too long for Unix domain socket"}},
		{name: "bad config option is local setup", code: "255",
			stderr: "/home/u/.ssh/config: line 3: Bad configuration option: frobnicate\n/home/u/.ssh/config: terminating, 1 bad configuration options\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "local ssh setup: /home/u/.ssh/config: terminating, 1 bad configuration options"}},
		{name: "remote script failure", code: "90",
			stderr: "remote home /nope does not exist\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "remote home /nope does not exist"}},
		{name: "remote exit 1 mentioning permission denied is not auth", code: "1",
			stderr: "sh: 1: cannot create x: Permission denied\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "sh: 1: cannot create x: Permission denied"}},
		{name: "remote failure without stderr", code: "3", stderr: "",
			want: remoteErr{Kind: "remote command failed", Detail: "exit status 3"}},
		{name: "not an exit error", code: "", stderr: "",
			want: remoteErr{Kind: "remote command failed", Detail: "exec: \"ssh\": executable file not found in $PATH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.code != "" {
				err = exitError(t, tt.code)
			} else {
				err = &exec.Error{Name: "ssh", Err: exec.ErrNotFound}
			}
			got := asRemoteErr(t, classify(err, tt.stderr))
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("classify mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRemoteErrorIs: each kind of failure is found with errors.Is, and only
// its own kind.
func TestRemoteErrorIs(t *testing.T) {
	kinds := []error{ErrUnreachable, ErrAuth, ErrHostKey, ErrRemote}
	for _, k := range kinds {
		err := error(&RemoteError{Kind: k, Detail: "d"})
		if diff := cmp.Diff(k.Error()+": d", err.Error()); diff != "" {
			t.Errorf("Error() mismatch (-want +got):\n%s", diff)
		}
		var is []string
		for _, other := range kinds {
			if errors.Is(err, other) {
				is = append(is, other.Error())
			}
		}
		if diff := cmp.Diff(k.Error(), strings.Join(is, ",")); diff != "" {
			t.Errorf("errors.Is kinds mismatch (-want +got):\n%s", diff)
		}
	}
}

// TestControlParent: the control directory goes where a socket path fits,
// preferring the runtime directory, then the temp directory, then /tmp.
func TestControlParent(t *testing.T) {
	short := t.TempDir()
	long := filepath.Join(short, strings.Repeat("d", maxControlParent))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, runtime, tmp, want string
	}{
		{name: "runtime directory first", runtime: short, tmp: "/", want: short},
		{name: "temp directory without a runtime directory", runtime: "", tmp: short, want: short},
		{name: "runtime directory too long for a socket", runtime: long, tmp: short, want: short},
		{name: "runtime directory that does not exist", runtime: filepath.Join(short, "nope"), tmp: short, want: short},
		{name: "relative runtime directory", runtime: "run", tmp: short, want: short},
		{name: "both too long: /tmp", runtime: long, tmp: long, want: "/tmp"},
		{name: "trailing slash is cleaned", runtime: "", tmp: short + "/", want: short},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", tt.runtime)
			t.Setenv("TMPDIR", tt.tmp)
			if diff := cmp.Diff(tt.want, controlParent()); diff != "" {
				t.Errorf("controlParent mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSSHControlDirLifecycle: NewSSH makes nothing; the first call that
// reaches for a node (here one that refuses) makes a private control
// directory in the temp directory; Close removes it, and is idempotent.
func TestSSHControlDirLifecycle(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", tmp)
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no ssh client (Debian: openssh-client; make deps)")
	}
	home := t.TempDir()
	s := NewSSH(home)
	if got := s.ControlDir(); got != "" {
		t.Fatalf("ControlDir before first use = %q, want none", got)
	}
	assertEntries(t, tmp, nil)

	n := RemoteNode{Name: "refuses", Destination: "127.0.0.1", Port: refusingPort(t), Timeout: 2 * time.Second}
	_, err := s.Digests(context.Background(), n, []string{"a"})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Digests on a refusing port: %v, want ErrUnreachable", err)
	}
	dir := s.ControlDir()
	if filepath.Dir(dir) != tmp || !strings.HasPrefix(filepath.Base(dir), controlPrefix) {
		t.Fatalf("ControlDir = %q, want %s/%s*", dir, tmp, controlPrefix)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("control directory during the pass: %v", err)
	}
	if diff := cmp.Diff(os.ModeDir|0o700, fi.Mode()); diff != "" {
		t.Errorf("control directory mode (-want +got):\n%s", diff)
	}
	// A second node, and the same one again, share the directory.
	n2 := n
	n2.Name = "refuses-too"
	_, _ = s.Fetch(context.Background(), n2, []string{"a"})
	_, _ = s.Digests(context.Background(), n, []string{"a"})
	if got := s.ControlDir(); got != dir {
		t.Errorf("ControlDir after more calls = %q, want %q", got, dir)
	}
	assertEntries(t, tmp, []string{filepath.Base(dir)})

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertEntries(t, tmp, nil)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Digests(context.Background(), n, []string{"a"}); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), ErrClosed.Error()) {
		t.Errorf("Digests after Close: %v, want ErrRemote saying %q", err, ErrClosed)
	}
	assertEntries(t, tmp, nil)
	if _, err := os.Stat(filepath.Join(home, ".sanctum")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the home got a .sanctum: %v", err)
	}

	// An SSH that never reached a node closes without making anything.
	if err := NewSSH(home).Close(); err != nil {
		t.Errorf("Close of an unused SSH: %v", err)
	}
	assertEntries(t, tmp, nil)
}

// TestSSHCloseEndsMasters: against a real sshd, a pass's shared connection
// is a running master with its socket in the control directory; Close asks
// it to exit and removes the directory, so no master outlives the pass.
func TestSSHCloseEndsMasters(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", tmp)
	home := t.TempDir()
	port := startSSHD(t, home)
	s := NewSSH(home)
	n := RemoteNode{Name: "node", Destination: "node", Port: port, Timeout: 5 * time.Second, Home: home}
	got, err := s.Digests(context.Background(), n, []string{"absent"})
	if err != nil {
		t.Fatalf("Digests: %v", err)
	}
	if diff := cmp.Diff(map[string]RemoteFile{"absent": {State: RemoteMissing}}, got); diff != "" {
		t.Fatalf("Digests mismatch (-want +got):\n%s", diff)
	}
	dir := s.ControlDir()
	sock := filepath.Join(dir, "0")
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("control socket %s during the pass: %v %v", sock, fi, err)
	}
	check := func() ([]byte, error) {
		return exec.Command("ssh", "-F", s.Config, "-o", "ControlPath="+sock, "-O", "check", "node").CombinedOutput()
	}
	out, err := check()
	if err != nil {
		t.Fatalf("ssh -O check during the pass: %v: %s", err, out)
	}
	var pid int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "Master running (pid=%d)", &pid); err != nil || pid <= 0 {
		t.Fatalf("ssh -O check said %q", out)
	}

	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > closeBudget+5*time.Second {
		t.Errorf("Close took %s, want within %s", d, closeBudget)
	}
	assertEntries(t, tmp, nil)
	// The master exits once it has answered: give it a moment.
	for i := 0; processAlive(pid); i++ {
		if i == 50 {
			t.Fatalf("ssh master %d still running 5s after Close", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertEntries fails unless dir holds exactly names.
func assertEntries(t *testing.T, dir string, names []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("entries of %s (-want +got):\n%s", dir, diff)
	}
}

// refusingPort is a port of 127.0.0.1 that nobody listens on.
func refusingPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// processAlive says whether pid runs. A zombie does not: in a container
// whose init does not reap, an exited master stays one.
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || runtime.GOOS != "linux"
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// startSSHD starts OpenSSH's sshd on a free port of 127.0.0.1 with keys of
// its own (as testscripts' sshd command does), writes home/.ssh/config with
// a Host "node" that reaches it as the current user, and stops it when the
// test ends. It skips the test when OpenSSH is not installed (make deps).
func startSSHD(t *testing.T, home string) int {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	for _, p := range []string{sshd, "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (Debian: openssh-server, openssh-client; make deps)", p)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, k := range []string{"host_ed25519", "id_ed25519", "stall_ed25519"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write := func(p, content string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// sshd insists on its privilege separation directory.
	_ = os.MkdirAll("/run/sshd", 0o755)
	port := refusingPort(t)
	// The stall key logs in, and its forced command never answers: a
	// node that let us in and then hangs.
	write(filepath.Join(dir, "authorized_keys"), read("id_ed25519.pub")+`command="sleep 20" `+read("stall_ed25519.pub"))
	write(filepath.Join(dir, "known_hosts"), fmt.Sprintf("[127.0.0.1]:%d %s", port, read("host_ed25519.pub")))
	write(filepath.Join(dir, "sshd_config"), fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\n"+
		"PidFile %s\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"+
		"PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n",
		port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid")))
	var cfg strings.Builder
	for _, h := range []struct{ name, key string }{{"node", "id_ed25519"}, {"stall", "stall_ed25519"}} {
		fmt.Fprintf(&cfg, "Host %s\n  HostName 127.0.0.1\n  User %s\n  IdentityFile %s\n"+
			"  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n",
			h.name, u.Username, filepath.Join(dir, h.key), filepath.Join(dir, "known_hosts"))
	}
	write(filepath.Join(home, ".ssh", "config"), cfg.String())
	cmd := exec.Command(sshd, "-D", "-f", filepath.Join(dir, "sshd_config"), "-E", filepath.Join(dir, "sshd.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return port
		}
		if i == 50 {
			t.Fatalf("sshd did not listen on %d within 5s: %s", port, read("sshd.log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestParseObservation reads the units' show that rides after a node's
// digests: the answer, a node without systemctl, a show that failed, and
// an answer cut short.
func TestParseObservation(t *testing.T) {
	q := RemoteQuery{Paths: []string{"a"}, Units: []string{"x.service"}}
	digests := "file\t0\nHASHES\n" + strings.Repeat("ab", 32) + "  a\nMODES\n644 a\n"
	show := "Id=x.service\nLoadState=loaded\nActiveState=active\nMainPID=42\n"
	for _, tt := range []struct {
		name, out, err, unitsErr string
		pid                      int
	}{
		{name: "answered", out: digests + "UNITS\n" + show + "\nUNITSEXIT\t0\t\nHOME\t/home/n\nEND\n", pid: 42},
		{name: "no systemctl", out: digests + "UNITS\n\nUNITSEXIT\tnone\t\nHOME\t/home/n\nEND\n", unitsErr: "systemctl not found on the node"},
		{name: "no bus", out: digests + "UNITS\n\nUNITSEXIT\t1\tFailed to connect to bus: No medium found\nHOME\t/home/n\nEND\n",
			unitsErr: "systemctl --user show (1 units): exit 1: Failed to connect to bus: No medium found (does the user's systemd run? systemctl --user reaches it through XDG_RUNTIME_DIR)"},
		{name: "a unit unanswered", out: digests + "UNITS\nId=y.service\nLoadState=loaded\n\nUNITSEXIT\t0\t\nHOME\t/home/n\nEND\n",
			unitsErr: "systemctl show on the node: no answer for x.service"},
		{name: "cut short", out: digests + "UNITS\n" + show, err: "remote command failed: the answer was cut short"},
		{name: "no units section", out: digests + "END\n", err: "remote command failed: the answer was cut short"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseObservation([]byte(tt.out), q)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Files["a"].State != RemoteRegular || o.Home != "/home/n" {
				t.Errorf("files %v, home %q", o.Files, o.Home)
			}
			switch {
			case tt.unitsErr != "" && (o.UnitsErr == nil || o.UnitsErr.Error() != tt.unitsErr):
				t.Errorf("units error = %v, want %s", o.UnitsErr, tt.unitsErr)
			case tt.unitsErr == "" && (o.UnitsErr != nil || o.Units["x.service"].MainPID != tt.pid):
				t.Errorf("units = %v, %v; want MainPID %d", o.Units, o.UnitsErr, tt.pid)
			}
			if no := errors.Is(o.UnitsErr, ErrNoSystemd); no != (tt.name == "no systemctl") {
				t.Errorf("errors.Is(%v, ErrNoSystemd) = %v", o.UnitsErr, no)
			}
		})
	}
}

// TestWriteScriptSystemctl runs the node's apply script with systemctl
// calls in /bin/sh, as the node does (a systemctl on PATH that logs its
// arguments and fails as told): calls in their order, a call that needs
// an earlier write not run when that failed, and a daemon-reload that
// failed leaving every later call not run.
func TestWriteScriptSystemctl(t *testing.T) {
	home := t.TempDir()
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\necho \"$*\" >> "+log+"\n"+
		"case \" $* \" in *\" $FAIL \"*) echo \"boom: $FAIL\" >&2; exit 1;; esac\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sc := func(args ...string) RemoteWrite { return RemoteWrite{Op: RemoteSystemctl, Args: args} }
	reload := sc("daemon-reload")
	reload.Gate = true
	start := sc("start", "--", "u.service")
	start.Needs = []int{0, 2}
	ops := []RemoteWrite{
		{Path: "unit/u.service", Content: []byte("[Service]\n"), Mode: 0o644, MkDir: true},
		reload,
		sc("enable", "--", "u.service"),
		start,
		sc("stop", "--", "v.service"),
	}
	run := func(fail string) []RemoteResult {
		t.Helper()
		_ = os.Remove(log)
		_ = os.RemoveAll(filepath.Join(home, "unit")) // a new file each run: no backup
		cmd := exec.Command("/bin/sh", "-s")
		cmd.Stdin = strings.NewReader(writeScript(RemoteNode{Home: home}, "bk", ops))
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "FAIL="+fail)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("script: %v", err)
		}
		res, err := parseWrites(out, "bk", ops)
		if err != nil {
			t.Fatalf("parse %q: %v", out, err)
		}
		return res
	}
	all := []RemoteResult{
		{Index: 0, Path: "unit/u.service", Status: "ok"},
		{Index: 1, Path: "systemctl --user daemon-reload", Status: "ok"},
		{Index: 2, Path: "systemctl --user enable -- u.service", Status: "ok"},
		{Index: 3, Path: "systemctl --user start -- u.service", Status: "ok"},
		{Index: 4, Path: "systemctl --user stop -- v.service", Status: "ok"},
	}
	if diff := cmp.Diff(all, run("none")); diff != "" {
		t.Errorf("all carried out (-want +got):\n%s", diff)
	}
	calls, _ := os.ReadFile(log)
	want := "--user --no-pager --no-ask-password daemon-reload\n--user --no-pager --no-ask-password enable -- u.service\n" +
		"--user --no-pager --no-ask-password start -- u.service\n--user --no-pager --no-ask-password stop -- v.service\n"
	if diff := cmp.Diff(want, string(calls)); diff != "" {
		t.Errorf("systemctl calls (-want +got):\n%s", diff)
	}

	// enable fails: the start that needs it is not run, the stop is.
	got := run("enable")
	want2 := slices.Clone(all)
	want2[2] = RemoteResult{Index: 2, Path: all[2].Path, Status: "failed", Reason: "systemctl --user enable: exit 1: boom: enable"}
	want2[3] = RemoteResult{Index: 3, Path: all[3].Path, Status: "failed", Reason: "not run: a step before it failed"}
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("enable failed (-want +got):\n%s", diff)
	}

	// daemon-reload fails: no systemctl call after it runs.
	got = run("daemon-reload")
	want3 := slices.Clone(all)
	want3[1] = RemoteResult{Index: 1, Path: all[1].Path, Status: "failed", Reason: "systemctl --user daemon-reload: exit 1: boom: daemon-reload"}
	want3[2] = RemoteResult{Index: 2, Path: all[2].Path, Status: "failed", Reason: "not run: systemctl daemon-reload failed before it"}
	want3[3] = RemoteResult{Index: 3, Path: all[3].Path, Status: "failed", Reason: "not run: a step before it failed"}
	want3[4] = RemoteResult{Index: 4, Path: all[4].Path, Status: "failed", Reason: "not run: systemctl daemon-reload failed before it"}
	if diff := cmp.Diff(want3, got); diff != "" {
		t.Errorf("daemon-reload failed (-want +got):\n%s", diff)
	}
	calls, _ = os.ReadFile(log)
	if string(calls) != "--user --no-pager --no-ask-password daemon-reload\n" {
		t.Errorf("calls after a failed daemon-reload: %q", calls)
	}
}

// TestObserveContents runs a node's observation script in /bin/sh, as the
// node does, with contents asked: the bytes of a file whose digest is not
// one of its Unless come back exactly (every byte value, no trailing
// newline), one that holds such a digest, a missing file and a symlink do
// not; the digests and the units' show after them read as before.
func TestObserveContents(t *testing.T) {
	home := t.TempDir()
	var all []byte
	for i := 255; i >= 0; i-- {
		all = append(all, byte(i))
	}
	// big is a byte longer than a node sends: not answered.
	files := map[string][]byte{"u/a.service": all, "u/b.service": []byte("[Unit]\n"), "u/e.service": {},
		"u/big.service": bytes.Repeat([]byte("#"), MaxContent+1), "u/max.service": bytes.Repeat([]byte("#"), MaxContent)}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Join(home, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.service", filepath.Join(home, "u/l.service")); err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	q := RemoteQuery{Paths: []string{"u/a.service", "u/b.service"}, Contents: []RemoteContent{
		{Path: "u/a.service", Unless: []string{sum([]byte("other"))}},
		{Path: "u/b.service", Unless: []string{sum([]byte("other")), sum(files["u/b.service"])}},
		{Path: "u/missing.service"},
		{Path: "u/l.service"},
		{Path: "u/e.service"},
		{Path: "u/big.service"},
		{Path: "u/max.service"},
	}}
	cmd := exec.Command("/bin/sh", "-s")
	cmd.Stdin = strings.NewReader(observeScript(RemoteNode{Home: home}, q))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	o, err := ParseObservation(out, q)
	if err != nil {
		t.Fatalf("parse %q: %v", out, err)
	}
	if diff := cmp.Diff(map[string][]byte{"u/a.service": all, "u/e.service": {}, "u/max.service": files["u/max.service"]}, o.Contents); diff != "" {
		t.Errorf("contents (-want +got):\n%s", diff)
	}
	want := map[string]RemoteFile{
		"u/a.service": {State: RemoteRegular, SHA256: sum(all), Mode: 0o644},
		"u/b.service": {State: RemoteRegular, SHA256: sum(files["u/b.service"]), Mode: 0o644},
	}
	if diff := cmp.Diff(want, o.Files); diff != "" {
		t.Errorf("digests (-want +got):\n%s", diff)
	}
}

// TestParseContents refuses a contents section that is cut short or that
// says what the script never does.
func TestParseContents(t *testing.T) {
	c := []RemoteContent{{Path: "a"}}
	for _, tt := range []struct{ name, out, err string }{
		{name: "cut short", out: "CONTENTS\nC\t0\n 41 42\n", err: "remote command failed: the answer was cut short"},
		{name: "no section", out: "file\t0\n", err: "remote command failed: the answer was cut short"},
		{name: "index out of range", out: "CONTENTS\nC\t1\nE\t0\nCONTENTSEND\n", err: `remote command failed: unexpected answer "C\t1"`},
		{name: "not hex", out: "CONTENTS\nC\t0\n 4g\nE\t0\nCONTENTSEND\n", err: `remote command failed: unexpected answer " 4g"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseContents([]byte(tt.out), c)
			if err == nil || err.Error() != tt.err {
				t.Fatalf("err = %v, want %s", err, tt.err)
			}
		})
	}
	// od failed (unreadable): nothing is taken from what it printed.
	got, rest, err := parseContents([]byte("CONTENTS\nC\t0\n 41\nE\t1\nCONTENTSEND\nEND\n"), c)
	if err != nil || len(got) != 0 || string(rest) != "END\n" {
		t.Errorf("od failed: %q, rest %q, %v", got, rest, err)
	}
}
