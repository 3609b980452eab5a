package observed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RemoteNode is how to reach one node.
type RemoteNode struct {
	Name        string
	Destination string // ssh alias or [user@]host
	Port        int
	Timeout     time.Duration // connect and handshake
	Home        string        // remote home; "" for the remote user's $HOME
}

// RemoteFile is what a node holds at one path.
type RemoteFile struct {
	State  RemoteState
	SHA256 string // for RemoteRegular
}

// RemoteState is the kind of thing at a remote path.
type RemoteState string

// Remote states.
const (
	RemoteRegular RemoteState = "file"
	RemoteMissing RemoteState = "missing"  // the file is not there
	RemoteNoDir   RemoteState = "no-dir"   // its directory is not there
	RemoteSymlink RemoteState = "symlink"  // the file or its directory is a symlink
	RemoteOther   RemoteState = "not-file" // a directory or device where a file belongs
	RemoteUnknown RemoteState = "unlisted" // the node did not answer for it
)

// RemoteWrite is one file to put on a node.
type RemoteWrite struct {
	Path    string // relative to the remote home
	Content []byte
	Mode    os.FileMode
	MkDir   bool // create the directory if missing (else skip the file)
}

// RemoteResult is the node's answer for one write.
type RemoteResult struct {
	Path   string
	Status string // ok, skipped (no directory), failed
	Backup string // where the node kept what it replaced
}

// Kinds of remote failure, decided from ssh's own words.
var (
	ErrUnreachable = errors.New("unreachable")
	ErrAuth        = errors.New("authentication failed")
	ErrHostKey     = errors.New("host key mismatch")
	ErrRemote      = errors.New("remote command failed")
)

// RemoteError is a failed exchange with a node.
type RemoteError struct {
	Kind   error // one of the Err* above
	Detail string
}

func (e *RemoteError) Error() string { return e.Kind.Error() + ": " + e.Detail }
func (e *RemoteError) Unwrap() error { return e.Kind }

// Remote is the door to remote nodes. Digests and Fetch only read; Write
// is the one call that changes a node, and the decorators intercept it.
type Remote interface {
	// Digests reports, in one round trip, what the node has at each path,
	// with the sha256 of every regular file.
	Digests(ctx context.Context, n RemoteNode, paths []string) (map[string]RemoteFile, error)
	// Fetch returns the content of files, for diffs, in one round trip.
	Fetch(ctx context.Context, n RemoteNode, paths []string) (map[string][]byte, error)
	// Write puts every file in one session: each written to a temporary
	// file, what it replaces backed up under backupDir, then renamed.
	Write(ctx context.Context, n RemoteNode, backupDir string, writes []RemoteWrite) ([]RemoteResult, error)
	// Disconnect ends the node's shared connection.
	Disconnect(n RemoteNode)
}

// SSH is Remote over the system OpenSSH client, so that the user's
// ~/.ssh/config, keys, agent and Tailscale names work as they do for ssh.
// One pass opens one connection per node: later calls share it
// (ControlMaster), Disconnect ends it, and Close ends them all.
//
// The control sockets live in a directory of this process's own, made on
// the first call that reaches a node (a pass that never does makes
// nothing) and removed by Close: never in the reconciled home, which a
// --check must leave alone, and never left behind in the temp directory.
type SSH struct {
	// Config is the ssh_config to use (the reconciled home's
	// ~/.ssh/config); "" for ssh's default.
	Config string

	mu      sync.Mutex
	dir     string            // the control directory, once made
	masters map[string]master // by nodeKey
	closed  bool
}

var _ Remote = (*SSH)(nil)

// ErrClosed is a call on an SSH after its Close.
var ErrClosed = errors.New("ssh transport closed")

// NewSSH prepares the transport for a home: its ~/.ssh/config if it has
// one. It makes nothing on disk.
func NewSSH(home string) *SSH {
	s := &SSH{}
	if cfg := filepath.Join(home, ".ssh", "config"); fileExists(cfg) {
		s.Config = cfg
	}
	return s
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// A unix socket path holds at most 103 bytes on macOS (104 with the NUL;
// Linux allows 107), and while it sets a master up ssh binds the control
// path plus a 17-byte suffix. The control directory's parent must leave
// room for the directory's name (controlPrefix and up to 10 random digits
// from os.MkdirTemp), a slash and a socket name of up to 4 characters.
const (
	maxSocketPath    = 103
	sshBindSuffix    = 17
	controlPrefix    = "reconcile-ssh-"
	maxControlParent = maxSocketPath - sshBindSuffix - 4 - 1 - (len(controlPrefix) + 10) - 1
)

// controlParent is where the control directory goes: the user's runtime
// directory ($XDG_RUNTIME_DIR, private and cleared at logout), else the
// temp directory (os.TempDir: $TMPDIR, else /tmp), else /tmp: the first
// that exists and whose path leaves room for a socket (macOS's per-user
// $TMPDIR does; a deep $TMPDIR may not).
func controlParent() string {
	for _, d := range []string{os.Getenv("XDG_RUNTIME_DIR"), os.TempDir()} {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		d = filepath.Clean(d)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && len(d) <= maxControlParent {
			return d
		}
	}
	return "/tmp"
}

// master is one node's shared connection: its control socket, and the node
// for ssh -O exit (the user's config may say more about it).
type master struct {
	node RemoteNode
	path string
}

func nodeKey(n RemoteNode) string {
	return n.Name + "\x00" + n.Destination + "\x00" + strconv.Itoa(n.Port)
}

// controlPath returns the node's control socket, making the control
// directory (0700) on first use.
func (s *SSH) controlPath(n RemoteNode) (string, error) {
	key := nodeKey(n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if s.dir == "" {
		// 0700, whatever the umask: a control socket is a door to an
		// authenticated session.
		dir, err := os.MkdirTemp(controlParent(), controlPrefix)
		if err == nil {
			if err = os.Chmod(dir, 0o700); err != nil {
				_ = os.Remove(dir)
			}
		}
		if err != nil {
			return "", fmt.Errorf("ssh control directory: %w", err)
		}
		s.dir, s.masters = dir, make(map[string]master)
	}
	m, ok := s.masters[key]
	if !ok {
		// A short name (base 36): the parent was chosen for a socket
		// name of up to 4 characters.
		m = master{node: n, path: filepath.Join(s.dir, strconv.FormatInt(int64(len(s.masters)), 36))}
		s.masters[key] = m
	}
	return m.path, nil
}

// ControlDir is the directory of the control sockets, "" before the first
// call that reached a node and after Close.
func (s *SSH) ControlDir() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

func (s *SSH) args(n RemoteNode, controlPath string, extra ...string) []string {
	secs := int(n.Timeout / time.Second)
	if secs < 1 {
		secs = 1
	}
	var a []string
	if s.Config != "" {
		a = append(a, "-F", s.Config)
	}
	a = append(a,
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout="+strconv.Itoa(secs),
		"-o", "ServerAliveInterval=5",
		"-o", "ServerAliveCountMax=2",
		"-o", "ControlMaster=auto",
		"-o", "ControlPath="+controlPath,
		"-o", "ControlPersist=60",
		"-o", "LogLevel=ERROR",
	)
	if n.Port != 0 {
		a = append(a, "-p", strconv.Itoa(n.Port))
	}
	a = append(a, extra...)
	return append(a, "--", n.Destination)
}

// run sends a script to /bin/sh -s on the node and returns its stdout.
func (s *SSH) run(ctx context.Context, n RemoteNode, script []byte, budget time.Duration) ([]byte, error) {
	cp, err := s.controlPath(n)
	if err != nil {
		return nil, &RemoteError{Kind: ErrRemote, Detail: "local ssh setup: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, n.Timeout+budget)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(s.args(n, cp), "/bin/sh -s")...)
	cmd.Stdin = bytes.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// ssh leaves the shared master running in the background; it must not
	// hold our pipes open.
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the command exited; only the backgrounded master held a pipe
	}
	if ctx.Err() == context.DeadlineExceeded {
		return nil, &RemoteError{Kind: ErrUnreachable, Detail: fmt.Sprintf("no answer within %s", n.Timeout+budget)}
	}
	if err != nil {
		return stdout.Bytes(), classify(err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// classify reads ssh's stderr: exit 255 is ssh's own failure, anything else
// is the remote script's.
func classify(err error, stderr string) error {
	msg := strings.TrimSpace(stderr)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 && !strings.Contains(msg, "IDENTIFICATION HAS CHANGED") {
		msg = strings.TrimSpace(msg[i+1:])
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		if msg == "" {
			msg = err.Error()
		}
		return &RemoteError{Kind: ErrRemote, Detail: msg}
	}
	switch {
	case strings.Contains(stderr, "Host key verification failed"), strings.Contains(stderr, "IDENTIFICATION HAS CHANGED"),
		strings.Contains(stderr, "No ED25519 host key is known"), strings.Contains(strings.ToLower(stderr), "host key for"):
		return &RemoteError{Kind: ErrHostKey, Detail: firstLine(stderr, "Host key verification failed")}
	case strings.Contains(stderr, "unix_listener"), strings.Contains(stderr, "ControlPath"), strings.Contains(stderr, "Bad configuration option"),
		strings.Contains(stderr, "terminating, ") && strings.Contains(stderr, "bad configuration"):
		return &RemoteError{Kind: ErrRemote, Detail: "local ssh setup: " + msg}
	case strings.Contains(stderr, "Permission denied"), strings.Contains(stderr, "Too many authentication failures"):
		return &RemoteError{Kind: ErrAuth, Detail: msg}
	case msg == "":
		return &RemoteError{Kind: ErrUnreachable, Detail: "ssh exited 255 without a word"}
	}
	return &RemoteError{Kind: ErrUnreachable, Detail: msg}
}

func firstLine(s, prefer string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, prefer) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(strings.SplitN(s, "\n", 2)[0])
}

// Disconnect implements Remote.
func (s *SSH) Disconnect(n RemoteNode) {
	s.mu.Lock()
	m, ok := s.masters[nodeKey(n)]
	s.mu.Unlock()
	if ok {
		ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
		defer cancel()
		s.exitMaster(ctx, m)
	}
}

// closeBudget bounds how long ending the masters may hold up the end of a
// pass, also after an interrupt.
const closeBudget = 5 * time.Second

// exitMaster asks the master behind a control socket to exit, when there
// is one: a node that was never reached has no socket, and ssh -O on a
// missing socket only complains.
func (s *SSH) exitMaster(ctx context.Context, m master) {
	if fi, err := os.Lstat(m.path); err != nil || fi.Mode().Type() != os.ModeSocket {
		return
	}
	cmd := exec.CommandContext(ctx, "ssh", s.args(m.node, m.path, "-O", "exit")...)
	cmd.WaitDelay = time.Second
	_ = cmd.Run()
}

// Close implements Remote: it asks every master still running to exit (all
// at once, within closeBudget, whatever the pass's context says: after
// SIGINT it is already cancelled) and removes the control directory. It is
// safe to call more than once and on an SSH that never reached a node.
func (s *SSH) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	dir, masters := s.dir, s.masters
	s.dir, s.masters = "", nil
	s.mu.Unlock()
	if dir == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.exitMaster(ctx, m)
		}()
	}
	wg.Wait()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove ssh control directory: %w", err)
	}
	return nil
}

// Quote makes s one single-quoted shell word.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// preamble enters the remote home and defines H, sha256 of files in the
// "hash  path" lines of both GNU sha256sum and macOS shasum. The whole script is the body
// of main, called on its last line: a script cut short never runs at all.
func preamble(n RemoteNode) string {
	var b strings.Builder
	b.WriteString("main() {\n")
	if n.Home != "" {
		fmt.Fprintf(&b, "cd -- %s || { echo 'remote home %s does not exist' >&2; exit 90; }\n", Quote(n.Home), strings.ReplaceAll(n.Home, "'", ""))
	} else {
		b.WriteString("cd || exit 90\n")
	}
	b.WriteString(`if command -v sha256sum >/dev/null 2>&1; then H() { sha256sum "$@"; }
elif command -v shasum >/dev/null 2>&1; then H() { shasum -a 256 "$@"; }
else echo 'neither sha256sum nor shasum on the node' >&2; exit 91; fi
`)
	return b.String()
}

const epilogue = "echo END\n}\nmain\n"

// Digests implements Remote. The shell classifies every path with tests
// alone (no process per file), then one sha256sum (or shasum) hashes every
// path at once: a node with thousands of targets answers in one round trip
// and a handful of processes.
func (s *SSH) Digests(ctx context.Context, n RemoteNode, paths []string) (map[string]RemoteFile, error) {
	var b strings.Builder
	b.WriteString(preamble(n))
	b.WriteString(`s() {
  d=${1%/*}; [ "$d" = "$1" ] && d=.
  if [ -L "$d" ]; then printf 'L\t%s\n' "$1"
  elif [ ! -d "$d" ]; then printf 'D\t%s\n' "$1"
  elif [ -L "$1" ]; then printf 'L\t%s\n' "$1"
  elif [ -f "$1" ]; then printf 'F\t%s\n' "$1"
  elif [ -e "$1" ]; then printf 'X\t%s\n' "$1"
  else printf 'M\t%s\n' "$1"; fi
}
`)
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = Quote(p)
		fmt.Fprintf(&b, "s %s\n", quoted[i])
	}
	b.WriteString("echo HASHES\n")
	if len(paths) > 0 {
		// Missing paths and directories make it complain on stderr; only
		// the lines of regular files are read.
		fmt.Fprintf(&b, "H -- %s 2>/dev/null || true\n", strings.Join(quoted, " "))
	}
	b.WriteString(epilogue)
	out, err := s.run(ctx, n, []byte(b.String()), 30*time.Second)
	if err != nil {
		return nil, err
	}
	return ParseDigests(out)
}

// ParseDigests reads the digest script's answer: a state line per path,
// HASHES, sha256sum's "hash  path" lines, END.
func ParseDigests(out []byte) (map[string]RemoteFile, error) {
	res := make(map[string]RemoteFile)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	hashes := false
	ended := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "END":
			ended = true
		case line == "HASHES":
			hashes = true
			continue
		case hashes:
			sum, p, ok := strings.Cut(line, "  ")
			if !ok || len(sum) != 64 {
				return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected digest line %q", line)}
			}
			if f, ok := res[p]; ok && f.State == RemoteRegular {
				f.SHA256 = sum
				res[p] = f
			}
			continue
		}
		if ended {
			break
		}
		f := strings.SplitN(line, "\t", 2)
		if len(f) != 2 {
			return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", line)}
		}
		switch f[0] {
		case "F":
			res[f[1]] = RemoteFile{State: RemoteRegular}
		case "M":
			res[f[1]] = RemoteFile{State: RemoteMissing}
		case "D":
			res[f[1]] = RemoteFile{State: RemoteNoDir}
		case "L":
			res[f[1]] = RemoteFile{State: RemoteSymlink}
		case "X":
			res[f[1]] = RemoteFile{State: RemoteOther}
		default:
			return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", line)}
		}
	}
	if !ended {
		return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
	}
	for p, f := range res {
		if f.State == RemoteRegular && f.SHA256 == "" {
			// Read between the test and the hash, or unreadable: not
			// known to be right, so it is treated as different.
			f.SHA256 = "unreadable"
			res[p] = f
		}
	}
	return res, nil
}

// Fetch implements Remote.
func (s *SSH) Fetch(ctx context.Context, n RemoteNode, paths []string) (map[string][]byte, error) {
	var b strings.Builder
	b.WriteString(preamble(n))
	b.WriteString(`c() { printf 'C\t%s\t%s\n' "$1" "$(wc -c < "$1" | tr -d ' ')"; cat -- "$1"; printf '\n'; }
`)
	for _, p := range paths {
		fmt.Fprintf(&b, "c %s\n", Quote(p))
	}
	b.WriteString(epilogue)
	out, err := s.run(ctx, n, []byte(b.String()), 60*time.Second)
	if err != nil {
		return nil, err
	}
	res := make(map[string][]byte)
	for len(out) > 0 {
		line, rest, ok := bytes.Cut(out, []byte("\n"))
		if !ok {
			break
		}
		if string(line) == "END" {
			return res, nil
		}
		f := strings.Split(string(line), "\t")
		size := -1
		if len(f) == 3 && f[0] == "C" {
			size, _ = strconv.Atoi(f[2])
		}
		if size < 0 || len(rest) < size+1 {
			return nil, &RemoteError{Kind: ErrRemote, Detail: "unexpected answer to a fetch"}
		}
		res[f[1]] = append([]byte(nil), rest[:size]...)
		out = rest[size+1:]
	}
	return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
}

// Write implements Remote.
func (s *SSH) Write(ctx context.Context, n RemoteNode, backupDir string, writes []RemoteWrite) ([]RemoteResult, error) {
	var b strings.Builder
	b.WriteString(preamble(n))
	fmt.Fprintf(&b, "B=%s\nt=\ntrap 'rm -f -- \"$t\"; exit 1' HUP INT TERM PIPE\n", Quote(backupDir))
	// Parameter expansion instead of dirname and basename, and no chmod for
	// the umask's 0644: a write costs one mv (and a cp when it replaces a
	// file), not five processes.
	b.WriteString(`umask 022
put() {
  d=${1%/*}; [ "$d" = "$1" ] && d=.
  if [ ! -d "$d" ]; then
    if [ "$3" = 1 ]; then mkdir -p -- "$d" || return 1; else printf 'SKIP\t%s\n' "$1"; return 0; fi
  fi
  t="$d/.${1##*/}.reconcile-tmp"
  printf '%s' "$4" > "$t" || { rm -f -- "$t"; return 1; }
  if [ "$2" != 644 ]; then chmod "$2" "$t" || { rm -f -- "$t"; return 1; }; fi
  k=
  if [ -f "$1" ]; then
    mkdir -p -- "$B/$d" && cp -p -- "$1" "$B/$1" || { rm -f -- "$t"; return 1; }
    k="$B/$1"
  fi
  mv -f -- "$t" "$1" || { rm -f -- "$t"; return 1; }
  t=
  printf 'OK\t%s\t%s\n' "$1" "$k"
}
`)
	for _, w := range writes {
		mk := "0"
		if w.MkDir {
			mk = "1"
		}
		mode := w.Mode
		if mode == 0 {
			mode = 0o644
		}
		fmt.Fprintf(&b, "put %s %o %s %s || printf 'FAIL\\t%%s\\n' %s\n", Quote(w.Path), mode, mk, Quote(string(w.Content)), Quote(w.Path))
	}
	b.WriteString(epilogue)
	out, err := s.run(ctx, n, []byte(b.String()), 120*time.Second)
	res, perr := parseWrites(out)
	if err != nil {
		return res, err
	}
	return res, perr
}

func parseWrites(out []byte) ([]RemoteResult, error) {
	var res []RemoteResult
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		switch f[0] {
		case "END":
			return res, nil
		case "OK":
			r := RemoteResult{Path: f[1], Status: "ok"}
			if len(f) > 2 {
				r.Backup = f[2]
			}
			res = append(res, r)
		case "SKIP":
			res = append(res, RemoteResult{Path: f[1], Status: "skipped"})
		case "FAIL":
			res = append(res, RemoteResult{Path: f[1], Status: "failed"})
		}
	}
	return res, &RemoteError{Kind: ErrRemote, Detail: "the session ended before the node confirmed every file"}
}

// RemoteBackupDir is where a node keeps what a run replaced.
func RemoteBackupDir(runID string) string { return path.Join(".sanctum", "state", "backups", runID) }

// DryRunRemote reads through and records writes instead of sending them.
type DryRunRemote struct {
	Remote
	mu  sync.Mutex
	ops []Op
}

var _ Remote = (*DryRunRemote)(nil)

// NewDryRunRemote decorates r.
func NewDryRunRemote(r Remote) *DryRunRemote { return &DryRunRemote{Remote: r} }

// Plans implements planner.
func (d *DryRunRemote) Plans() bool { return true }

// Write implements Remote: every file "would be" written.
func (d *DryRunRemote) Write(_ context.Context, n RemoteNode, _ string, writes []RemoteWrite) ([]RemoteResult, error) {
	res := make([]RemoteResult, 0, len(writes))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range writes {
		d.ops = append(d.ops, Op{Verb: "write " + n.Name, Path: w.Path, Mode: w.Mode})
		res = append(res, RemoteResult{Path: w.Path, Status: "ok"})
	}
	return res, nil
}

// ReadOnlyRemote refuses writes.
type ReadOnlyRemote struct{ Remote }

var _ Remote = ReadOnlyRemote{}

// Write implements Remote.
func (r ReadOnlyRemote) Write(_ context.Context, n RemoteNode, _ string, _ []RemoteWrite) ([]RemoteResult, error) {
	return nil, readOnly("write", n.Name)
}
