package observed

import (
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
	// CommandTimeout bounds each command once logged in (0:
	// DefaultCommandTimeout).
	CommandTimeout time.Duration
	Home           string // remote home; "" for the remote user's $HOME
	// sysDir is the system's unit directory as the node's scripts name it
	// ("": SystemUnitDir); only tests, which never touch the real one,
	// set it.
	sysDir string
}

// systemDir is the one directory outside the home the node's scripts may
// name: the files directly in it are system units' files.
func (n RemoteNode) systemDir() string {
	if n.sysDir != "" {
		return n.sysDir
	}
	return SystemUnitDir
}

// DefaultCommandTimeout bounds a command on a node whose RemoteNode does
// not say.
const DefaultCommandTimeout = 30 * time.Second

func (n RemoteNode) commandTimeout() time.Duration {
	if n.CommandTimeout > 0 {
		return n.CommandTimeout
	}
	return DefaultCommandTimeout
}

// RemoteFile is what a node holds at one path.
type RemoteFile struct {
	State  RemoteState
	SHA256 string      // for RemoteRegular
	Mode   os.FileMode // for RemoteRegular: its permission bits
	// Glob: a file of a directory a glob matched on the node.
	Glob bool
}

// RemoteState is the kind of thing at a remote path.
type RemoteState string

// Remote states.
const (
	RemoteRegular RemoteState = "file"
	RemoteMissing RemoteState = "missing"  // the file is not there
	RemoteNoDir   RemoteState = "no-dir"   // its directory is not there
	RemoteSymlink RemoteState = "symlink"  // the file is a symlink
	RemoteOther   RemoteState = "not-file" // a directory, FIFO or device where a file belongs
	RemoteUnknown RemoteState = "unlisted" // the node did not answer for it
	// RemoteEscape: a component of its directory is a symlink whose
	// physical path leaves the node's home.
	RemoteEscape RemoteState = "escape"
	RemoteNotDir RemoteState = "not-dir" // a component of its directory is not a directory
	RemoteDenied RemoteState = "denied"  // its directory cannot be entered
	// RemoteDirSymlink: the directory a glob matched is a symlink.
	RemoteDirSymlink RemoteState = "dir-symlink"
)

// RemoteOp is what a RemoteWrite does.
type RemoteOp string

// Remote operations.
const (
	RemotePut    RemoteOp = ""       // write Content with Mode
	RemoteChmod  RemoteOp = "chmod"  // set Mode, leave the content
	RemoteRemove RemoteOp = "remove" // move into the backups, while it holds SHA256
	// RemoteRestore puts back, with Mode, the bytes a run kept on the node
	// at From (relative to the home), only while they hold SHA256; what it
	// replaces is backed up as a put's is.
	RemoteRestore RemoteOp = "restore"
	// RemoteSystemctl runs `systemctl --user Args...` on the node (its
	// user's manager), or `systemctl Args...` (the system manager, through
	// sudo -n when the node user is not root) when System, in its place
	// among the other writes.
	RemoteSystemctl RemoteOp = "systemctl"
)

// RemoteWrite is one change to a node.
type RemoteWrite struct {
	Op RemoteOp
	// Path is relative to the remote home, or absolute for a file directly
	// in the system's unit directory (/etc/systemd/system/<unit>): the one
	// place outside the home a node's script writes, as root or through
	// sudo -n.
	Path    string
	Content []byte
	Mode    os.FileMode
	MkDir   bool   // create the directory if missing (else skip the file)
	SHA256  string // remove: only a file that still holds this; restore: only a backup that does
	From    string // restore: the backup, relative to the remote home
	// Args are systemctl's arguments (RemoteSystemctl).
	Args []string
	// Needs are the indices of earlier writes this one runs after only
	// when each was carried out (answered ok); else it fails, not run.
	Needs []int
	// Gate: a systemctl call whose failure leaves every later systemctl
	// call of its manager not run (a daemon-reload that failed).
	Gate bool
	// System: a systemctl call of the system manager (no --user).
	System bool
}

// What a RemoteSystemctl write is named in results and plans.
func (w RemoteWrite) label() string {
	switch {
	case w.Op == RemoteSystemctl && w.System:
		return "systemctl " + strings.Join(w.Args, " ")
	case w.Op == RemoteSystemctl:
		return "systemctl --user " + strings.Join(w.Args, " ")
	}
	return w.Path
}

// RemoteResult is the node's answer for one write.
type RemoteResult struct {
	Index int    // of the write in the request
	Path  string // the write's path; a systemctl call's command line
	// Status is ok; skipped (no directory, put); gone (nothing to remove);
	// changed (remove: not what reconcile wrote, left; restore: the backup
	// no longer holds what the run kept, nothing restored); failed.
	Status string
	Backup string // where the node kept what it replaced or removed
	Reason string // why it failed
}

// Kinds of remote failure, decided from ssh's own words.
var (
	ErrUnreachable = errors.New("unreachable")
	ErrAuth        = errors.New("authentication failed")
	ErrHostKey     = errors.New("host key mismatch")
	ErrRemote      = errors.New("remote command failed")
	// ErrTimedOut: the node let us in, then a command did not finish
	// within its commandTimeout.
	ErrTimedOut = errors.New("timed out")
)

// RemoteError is a failed exchange with a node.
type RemoteError struct {
	Kind   error // one of the Err* above
	Detail string
}

func (e *RemoteError) Error() string { return e.Kind.Error() + ": " + e.Detail }
func (e *RemoteError) Unwrap() error { return e.Kind }

// Remote is the door to remote nodes. Digests, Observe and Fetch only
// read (Observe's systemctl show included); Write is the one call that
// changes a node (its files and its systemctl calls), and the decorators
// intercept it.
type Remote interface {
	// Digests reports, in one round trip, what the node has at each path,
	// with the sha256 and mode of every regular file; and, for each glob,
	// what it has at each file of every directory the glob matches there
	// (by its path), or at the glob's own pattern why its directory could
	// not be entered.
	Digests(ctx context.Context, n RemoteNode, paths []string, globs ...RemoteGlob) (map[string]RemoteFile, error)
	// Fetch returns the content of files, for diffs, in one round trip.
	Fetch(ctx context.Context, n RemoteNode, paths []string) (map[string][]byte, error)
	// Write carries out every change in one session: a file written to a
	// temporary file, what it replaces backed up under backupDir, then
	// renamed; a mode changed alone; a file removed into backupDir.
	Write(ctx context.Context, n RemoteNode, backupDir string, writes []RemoteWrite) ([]RemoteResult, error)
	// Disconnect ends the node's shared connection.
	Disconnect(n RemoteNode)
	// Observe is Digests that also asks the node's systemd, in the same
	// round trip: one `systemctl --user show` for q.Units and one
	// `systemctl show` of the system manager for q.SystemUnits (none: not
	// asked).
	Observe(ctx context.Context, n RemoteNode, q RemoteQuery) (*RemoteObservation, error)
}

// RemoteQuery is what one observation round trip asks a node.
type RemoteQuery struct {
	Paths []string
	Globs []RemoteGlob
	// Units are asked of the node user's systemd (systemctl --user show).
	Units []string
	// SystemUnits are asked of the node's system manager (systemctl show,
	// which needs no privilege).
	SystemUnits []string
	// Contents are files whose bytes ride in the same answer, each only
	// when its digest is none the asker could judge it by.
	Contents []RemoteContent
}

// RemoteContent asks for the bytes of one file in the observation round
// trip: a regular file whose sha256 is one of Unless is not sent (its
// digest says all the asker needs), any other is. A unit file in another
// layout than the render is judged by what it says to systemd, and only
// its bytes say that; asking in the observation keeps it one round trip,
// and Unless keeps a file already judged off the wire.
type RemoteContent struct {
	Path   string // relative to the home (a system unit's file: absolute)
	Unless []string
}

// RemoteObservation is a node's answer to a RemoteQuery.
type RemoteObservation struct {
	Files map[string]RemoteFile
	// Units is systemd's answer for every unit asked, when UnitsErr is
	// nil; UnitsErr wraps ErrNoSystemd when the node has no systemctl.
	Units    map[string]*UnitInfo
	UnitsErr error
	// SystemUnits and SystemUnitsErr are the system manager's answer for
	// the query's SystemUnits, as Units and UnitsErr are the user's.
	SystemUnits    map[string]*UnitInfo
	SystemUnitsErr error
	// Home is the node's home as its systemd names files under it (the
	// physical path): a unit's FragmentPath is compared with it.
	Home string
	// Contents are the bytes of the files of RemoteQuery.Contents the
	// node sent, by path: a regular file that held none of its Unless
	// digests when the node read it. They were read apart from the
	// digests: bytes whose digest is not the file's in Files changed in
	// between.
	Contents map[string][]byte
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
// Two clocks bound it: until the node has let us in (the shared
// connection's control socket appears; a later call finds it there) the
// node's connect timeout, whatever ssh itself waits for (a banner that
// never comes, a key exchange that stalls); from then on the command
// timeout. Past the first, the node is unreachable; past the second, it
// timed out.
func (s *SSH) run(ctx context.Context, n RemoteNode, script []byte) ([]byte, error) {
	cp, err := s.controlPath(n)
	if err != nil {
		return nil, &RemoteError{Kind: ErrRemote, Detail: "local ssh setup: " + err.Error()}
	}
	cmd := exec.Command("ssh", append(s.args(n, cp), "/bin/sh -s")...)
	cmd.Stdin = bytes.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// ssh leaves the shared master running in the background; it must not
	// hold our pipes open.
	cmd.WaitDelay = time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, &RemoteError{Kind: ErrRemote, Detail: "local ssh: " + err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// ssh's own ConnectTimeout ends a silent server first and says so in
	// its words; this clock, a little later, ends what it does not bound
	// (a key exchange that stalls after the banner).
	connectBy := start.Add(n.Timeout + connectGrace)
	var commandBy time.Time
	if loggedIn(cp) {
		commandBy = start.Add(n.commandTimeout())
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var timeout error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-ctx.Done():
			timeout = &RemoteError{Kind: ErrUnreachable, Detail: "interrupted: " + ctx.Err().Error()}
		case now := <-tick.C:
			switch {
			case commandBy.IsZero() && loggedIn(cp):
				commandBy = now.Add(n.commandTimeout())
			case commandBy.IsZero() && now.After(connectBy):
				timeout = &RemoteError{Kind: ErrUnreachable,
					Detail: fmt.Sprintf("no SSH session within %s (connectTimeout)", n.Timeout)}
			case !commandBy.IsZero() && now.After(commandBy):
				timeout = &RemoteError{Kind: ErrTimedOut,
					Detail: fmt.Sprintf("the node let us in, but the command did not finish within %s (commandTimeout)", n.commandTimeout())}
			}
		}
		if timeout != nil {
			_ = cmd.Process.Kill()
			<-done
			return nil, timeout
		}
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the command exited; only the backgrounded master held a pipe
	}
	if err != nil {
		return stdout.Bytes(), classify(err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// connectGrace is how long after the connect timeout a connection that is
// still not logged in is ended.
const connectGrace = 500 * time.Millisecond

// loggedIn says whether the node's shared connection is up: its master
// listens on the control socket only once authenticated.
func loggedIn(controlPath string) bool {
	fi, err := os.Lstat(controlPath)
	return err == nil && fi.Mode().Type() == os.ModeSocket
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
		verb := "write"
		if w.Op != RemotePut {
			verb = string(w.Op)
		}
		d.ops = append(d.ops, Op{Verb: verb + " " + n.Name, Path: w.label(), Mode: w.Mode})
		res = append(res, RemoteResult{Index: len(res), Path: w.label(), Status: "ok"})
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
