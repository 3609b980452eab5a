package testscripts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// A real OpenSSH sshd for the RemoteNode suites, on 127.0.0.1, with keys and
// config of its own under $WORK/sshd, no PAM, stopped when the script ends.

// cmdSSHD starts sshd on a free port of 127.0.0.1; each NAME=VALUE is
// set in the environment of its sessions (sshd_config SetEnv), such as
// the XDG_RUNTIME_DIR of a node user's systemd (systemd-user HOME).
//
// With -ns, the server runs inside the namespace of systemd-system
// (SYSTEMD_NS): a node reached over it sees the private
// /etc/systemd/system, and its systemctl talks to the private system
// manager. Its node users (systemd-system -user/-nosudo) may log in too,
// with the same test key (sshalias NAME ok USER), which this writes into
// their ~/.ssh/authorized_keys.
//
//	sshd [-ns] [NAME=VALUE ...]
func cmdSSHD(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: sshd [-ns] [NAME=VALUE ...]")
	}
	ns := ""
	if len(args) > 0 && args[0] == "-ns" {
		if ns = ts.Getenv("SYSTEMD_NS"); ns == "" {
			ts.Fatalf("sshd -ns: no SYSTEMD_NS (run systemd-system first)")
		}
		if err := harnessAlive(ns); err != nil {
			ts.Fatalf("sshd -ns: %v", err)
		}
		args = args[1:]
	}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); !ok || k == "" || strings.ContainsAny(v, " \t\n\"") {
			ts.Fatalf("usage: sshd [-ns] [NAME=VALUE ...] (no blank or quote in a value): %q", a)
		}
	}
	dir := filepath.Join(ts.Getenv("WORK"), "sshd")
	d, err := startSSHD(dir, []string{"other_ed25519", "other_host_ed25519", "stall_ed25519"}, 50, "VERBOSE", ns, args...)
	ts.Defer(func() { d.stop() })
	ts.Check(err)
	if ns != "" {
		ts.Check(authorizeNodeUsers(ts, filepath.Join(dir, "id_ed25519.pub")))
	}
	// The stall key logs in, and its forced command never answers (a node
	// that let us in, then hangs); it ends on its own within 20 s.
	stallPub, err := os.ReadFile(filepath.Join(dir, "stall_ed25519.pub"))
	ts.Check(err)
	keys, err := os.OpenFile(filepath.Join(dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	ts.Check(err)
	_, err = keys.Write(append([]byte(`command="sleep 20" `), stallPub...))
	ts.Check(err)
	ts.Check(keys.Close())
	otherPub, err := os.ReadFile(filepath.Join(dir, "other_host_ed25519.pub"))
	ts.Check(err)
	ts.Check(os.WriteFile(filepath.Join(dir, "wrong_known_hosts"), []byte(fmt.Sprintf("[127.0.0.1]:%d %s", d.port, otherPub)), 0o600))
	ts.Setenv("SSHD_PORT", strconv.Itoa(d.port))
	ts.Setenv("SSHD_LOG", d.log)
}

// authorizeNodeUsers writes the test key into the authorized_keys of each
// node user of systemd-system (SYSTEMD_NS_USERS; home $WORK/users/NAME,
// owned by the user), owned by that user: sshd reads a user's keys as
// that user, who cannot read the shared file under $WORK/sshd.
func authorizeNodeUsers(ts *testscript.TestScript, pubPath string) error {
	pub, err := os.ReadFile(pubPath)
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(ts.Getenv("SYSTEMD_NS_USERS")) {
		home := filepath.Join(ts.Getenv("WORK"), "users", name)
		info, err := os.Stat(home)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		p := filepath.Join(home, ".ssh", "authorized_keys")
		if err := os.WriteFile(p, pub, 0o600); err != nil {
			return err
		}
		if err := os.Chown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return nil
}

// testSSHD is OpenSSH's sshd on a free port of 127.0.0.1, with keys of its
// own in dir: host_ed25519, and id_ed25519, the one authorized client key;
// dir/known_hosts trusts its host key.
type testSSHD struct {
	port  int
	log   string
	cmd   *exec.Cmd
	group bool // cmd leads a process group (nsenter and the server): stop kills it whole
}

// stop kills the server (nothing when it did not start).
func (d *testSSHD) stop() {
	if d != nil && d.cmd != nil {
		if d.group {
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		}
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
	}
}

// startSSHD starts a test sshd in dir, making the extra keys too, and
// waits (at most 5 s) until it listens. With ns, the host pid of
// systemd-system's PID 1, the server runs in that namespace, and also
// takes a user's keys from /home/USER/.ssh/authorized_keys (the node
// users' homes there). The caller stops it, also after an error.
func startSSHD(dir string, extraKeys []string, maxSessions int, logLevel, ns string, env ...string) (*testSSHD, error) {
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/sshd"); err != nil {
			return nil, errors.New("sshd not installed (Debian: openssh-server)")
		}
		sshd = "/usr/sbin/sshd"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, k := range append([]string{"host_ed25519", "id_ed25519"}, extraKeys...) {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", filepath.Join(dir, k)).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "id_ed25519.pub"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}
	// sshd insists on its privilege separation directory (a namespace's
	// private /run has its own, made by systemd-system).
	if ns == "" {
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// SetEnv SHLVL=1: bash, the login shell here, reads ~/.bashrc for a
	// command sshd runs unless SHLVL says it is nested; this machine's
	// /root/.bashrc (pyenv init) costs 0.6 s a session, which every suite
	// would pay for a shell reconcile does not use (it runs /bin/sh -s).
	keyFiles := filepath.Join(dir, "authorized_keys")
	if ns != "" {
		keyFiles += " /home/%u/.ssh/authorized_keys"
	}
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
MaxSessions %d
MaxStartups %d
LogLevel %s
SetEnv %s
`, port, filepath.Join(dir, "host_ed25519"), keyFiles, filepath.Join(dir, "sshd.pid"),
		maxSessions, maxSessions, logLevel, strings.Join(append([]string{"SHLVL=1"}, env...), " "))), 0o600); err != nil {
		return nil, err
	}
	d := &testSSHD{port: port, log: filepath.Join(dir, "sshd.log")}
	d.cmd = exec.Command(sshd, "-D", "-f", cfg, "-E", d.log)
	if ns != "" {
		// stop kills nsenter's process group, with the server in it.
		d.cmd = nsenterCommand(context.Background(), ns, "/", sshd, "-D", "-f", cfg, "-E", d.log)
		d.group = true
	}
	if err := d.cmd.Start(); err != nil {
		d.cmd = nil
		return nil, err
	}
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if i >= 50 {
			log, _ := os.ReadFile(d.log)
			return d, fmt.Errorf("sshd did not listen on %d within 5s: %s", port, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_ed25519.pub"))
	if err != nil {
		return d, err
	}
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub)), 0o600); err != nil {
		return d, err
	}
	return d, nil
}

func freePort(ts *testscript.TestScript) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// cmdSSHAlias writes a Host block into $HOME/.ssh/config, replacing one of
// the same name:
//
//	ok [USER]   the test sshd, with the authorized key, as this process's
//	            user or as USER (a node user of systemd-system, whose
//	            sshd -ns authorized the key)
//	refused     a port nobody listens on
//	hang        a listener that accepts and never speaks
//	wrongkey    the test sshd, with a key it does not know
//	badhostkey  the test sshd, expecting another host key
//	cut N       the test sshd through a relay that cuts the connection
//	            after N bytes from the client
//	slow MS     the test sshd through a relay that waits MS milliseconds
//	            before it connects (a slow link, within the timeout)
//	banner      a listener that sends an SSH banner, then never a byte
//	stall       the test sshd with a key whose forced command hangs: the
//	            node lets us in, then never answers
//
//	sshalias name kind [N]
func cmdSSHAlias(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: sshalias name ok [USER]|refused|hang|banner|stall|wrongkey|badhostkey|cut N|slow MS")
	}
	name, kind := args[0], args[1]
	dir := filepath.Join(ts.Getenv("WORK"), "sshd")
	u, err := user.Current()
	ts.Check(err)
	login := u.Username
	port := ts.Getenv("SSHD_PORT")
	identity := filepath.Join(dir, "id_ed25519")
	known := filepath.Join(dir, "known_hosts")
	var extra string
	switch kind {
	case "ok":
		if len(args) == 3 {
			login = args[2]
		} else if len(args) > 3 {
			ts.Fatalf("usage: sshalias name ok [USER]")
		}
	case "refused":
		port = strconv.Itoa(freePort(ts))
	case "hang", "banner":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		var mu sync.Mutex
		var conns []net.Conn
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				if kind == "banner" {
					_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"))
				}
				mu.Lock()
				conns = append(conns, c) // held open, never a byte (more)
				mu.Unlock()
			}
		}()
		ts.Defer(func() {
			l.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		})
		port = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	case "stall":
		identity = filepath.Join(dir, "stall_ed25519")
	case "wrongkey":
		identity = filepath.Join(dir, "other_ed25519")
	case "badhostkey":
		known = filepath.Join(dir, "wrong_known_hosts")
	case "cut":
		if len(args) != 3 {
			ts.Fatalf("usage: sshalias name cut N")
		}
		extra = fmt.Sprintf("  ProxyCommand sshcut 127.0.0.1 %s %s 0\n", port, args[2])
	case "slow":
		if len(args) != 3 {
			ts.Fatalf("usage: sshalias name slow MS")
		}
		extra = fmt.Sprintf("  ProxyCommand sshcut 127.0.0.1 %s -1 %s\n", port, args[2])
	default:
		ts.Fatalf("unknown alias kind %q", kind)
	}
	writeSSHHost(ts, name, fmt.Sprintf("Host %s\n  HostName 127.0.0.1\n  Port %s\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
		"  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n%s", name, port, login, identity, known, extra))
}

// writeSSHHost puts a Host block into $HOME/.ssh/config, in place of one of
// the same name.
func writeSSHHost(ts *testscript.TestScript, name, block string) {
	cfgPath := filepath.Join(ts.Getenv("HOME"), ".ssh", "config")
	ts.Check(os.MkdirAll(filepath.Dir(cfgPath), 0o700))
	old, _ := os.ReadFile(cfgPath)
	var kept []string
	for _, b := range strings.Split(string(old), "Host ") {
		if b == "" || strings.HasPrefix(b, name+"\n") {
			continue
		}
		kept = append(kept, "Host "+b)
	}
	kept = append(kept, block)
	ts.Check(os.WriteFile(cfgPath, []byte(strings.Join(kept, "")), 0o600))
}

// cmdSSHDFleet starts N real sshd instances on 127.0.0.1, each on its own
// port with its own keys under $WORK/fleet/nodeNN/sshd, and writes an ssh
// alias nodeNN for each (01 to N); each node's home is
// $WORK/fleet/nodeNN/home, made with the folders given (relative to it).
// A node's connections are counted in its own log,
// $WORK/fleet/nodeNN/sshd/sshd.log. sshalias can re-point an alias
// afterwards (refused, hang).
//
//	sshd-fleet N [dir ...]
func cmdSSHDFleet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: sshd-fleet N [dir ...]")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 99 {
		ts.Fatalf("sshd-fleet: N is 1 to 99")
	}
	u, err := user.Current()
	ts.Check(err)
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("node%02d", i)
		dir := filepath.Join(ts.Getenv("WORK"), "fleet", name)
		for _, d := range args[1:] {
			ts.Check(os.MkdirAll(filepath.Join(dir, "home", d), 0o755))
		}
		d, err := startSSHD(filepath.Join(dir, "sshd"), nil, 10, "VERBOSE", "")
		ts.Defer(func() { d.stop() })
		ts.Check(err)
		writeSSHHost(ts, name, fmt.Sprintf("Host %s\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
			"  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n", name, d.port, u.Username,
			filepath.Join(dir, "sshd", "id_ed25519"), filepath.Join(dir, "sshd", "known_hosts")))
	}
}

// cmdSSHDResetLog empties the sshd log, so a phase can count its connections.
//
//	sshd-resetlog
func cmdSSHDResetLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sshd-resetlog")
	}
	ts.Check(os.Truncate(ts.Getenv("SSHD_LOG"), 0))
}

// sshcut is the ProxyCommand of "cut" and "slow" aliases: it waits DELAY
// milliseconds, relays stdin/stdout to host:port, and drops the connection
// once the client has sent more than N bytes (N < 0: never), as a network
// that fails mid-transfer does.
//
//	sshcut host port N DELAY
func sshcut() int {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: sshcut host port N DELAY")
		return 2
	}
	limit, err := strconv.ParseInt(os.Args[3], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	delay, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	time.Sleep(time.Duration(delay) * time.Millisecond)
	c, err := net.DialTimeout("tcp", net.JoinHostPort(os.Args[1], os.Args[2]), 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		_, _ = io.Copy(os.Stdout, c)
		os.Exit(0)
	}()
	if limit < 0 {
		_, _ = io.Copy(c, os.Stdin)
	} else {
		_, _ = io.CopyN(c, os.Stdin, limit)
	}
	c.Close()
	return 0
}

// cmdBenchRemote times a pass against the test sshd and counts, from the
// sshd log, the connections and command sessions each run opened; it fails
// when a run exits otherwise than code or opens more than the given number
// of either, and prints the median (make bench).
//
//	benchremote label runs code conns sessions -- reconcile args...
func cmdBenchRemote(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 8 || args[5] != "--" {
		ts.Fatalf("usage: benchremote label runs code conns sessions -- command args...")
	}
	label := args[0]
	runs, err1 := strconv.Atoi(args[1])
	code, err2 := strconv.Atoi(args[2])
	maxConns, err3 := strconv.Atoi(args[3])
	maxSessions, err4 := strconv.Atoi(args[4])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || runs < 1 || runs > 50 {
		ts.Fatalf("benchremote: runs (1..50), code, conns and sessions are numbers")
	}
	logPath := ts.Getenv("SSHD_LOG")
	var times []time.Duration
	conns, sessions := 0, 0
	for range runs {
		ts.Check(os.Truncate(logPath, 0))
		start := time.Now()
		err := ts.Exec(args[6], args[7:]...)
		times = append(times, time.Since(start))
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			ts.Fatalf("%s: %v", strings.Join(args[6:], " "), err)
		}
		if got != code {
			ts.Fatalf("%s exited %d, want %d\n%s", strings.Join(args[6:], " "), got, code, ts.ReadFile("stderr"))
		}
		log, err := os.ReadFile(logPath)
		ts.Check(err)
		conns = max(conns, strings.Count(string(log), "Accepted publickey"))
		sessions = max(sessions, strings.Count(string(log), "Starting session: command"))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("%s: median %s over %d runs; at most %d SSH connection(s) and %d command session(s) per run (sshd log)\n",
		label, times[len(times)/2].Round(time.Millisecond), runs, conns, sessions)
	if conns > maxConns || sessions > maxSessions {
		ts.Fatalf("%s: %d connection(s), %d session(s); want at most %d and %d", label, conns, sessions, maxConns, maxSessions)
	}
}

// cmdBenchFleet times a pass over the fleet of sshd-fleet at 1, 4 and 8
// nodes at a time (make bench), RUNS times each (median), and prints one
// row per N: the wall time, the bound 1.3 x ceil(nodes/N) x the slowest
// live node's time alone (from the N=1 runs' JSON) + one hanging node's
// timeout, whether the bound was met, the slowest live node's own time in
// that run (a node hanging elsewhere must not add to it), and the most
// SSH connections any live node took per pass (its own sshd log).
//
//	benchfleet RUNS HANG_SECONDS -- command args...
func cmdBenchFleet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 || args[2] != "--" {
		ts.Fatalf("usage: benchfleet RUNS HANG_SECONDS -- command args...")
	}
	runs, err1 := strconv.Atoi(args[0])
	hang, err2 := strconv.ParseFloat(args[1], 64)
	if err1 != nil || err2 != nil || runs < 1 || runs > 20 {
		ts.Fatalf("benchfleet: RUNS (1..20) and HANG_SECONDS are numbers")
	}
	logs, err := filepath.Glob(filepath.Join(ts.Getenv("WORK"), "fleet", "node*", "sshd", "sshd.log"))
	ts.Check(err)
	type report struct {
		Nodes []struct {
			Name    string  `json:"name"`
			Status  string  `json:"status"`
			Seconds float64 `json:"seconds"`
		} `json:"nodes"`
	}
	var alone float64 // the slowest live node's time, one node at a time
	for _, n := range []int{1, 4, 8} {
		var walls []time.Duration
		var slowest float64
		conns := 0
		total := 0
		for range runs {
			for _, l := range logs {
				ts.Check(os.Truncate(l, 0))
			}
			start := time.Now()
			_ = ts.Exec(args[3], append(args[4:], "--parallel", strconv.Itoa(n), "-o", "json")...) // exit 2: the fleet has drift
			walls = append(walls, time.Since(start))
			out := ts.ReadFile("stdout")
			var r report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				ts.Fatalf("benchfleet: --parallel %d: %v\n%s", n, err, out)
			}
			total = len(r.Nodes)
			for _, nd := range r.Nodes {
				if nd.Status == "in-sync" || nd.Status == "drifted" {
					slowest = max(slowest, nd.Seconds)
				}
			}
			for _, l := range logs {
				data, err := os.ReadFile(l)
				ts.Check(err)
				conns = max(conns, strings.Count(string(data), "Accepted publickey"))
			}
		}
		sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
		if n == 1 {
			alone = slowest
		}
		wall := walls[len(walls)/2].Seconds()
		bound := 1.3*math.Ceil(float64(total)/float64(n))*alone + hang
		// The same bound with the slowest live node of this run: on a
		// machine that also runs every node's sshd, N nodes at once share
		// its cores, and a node's own time grows with N.
		inRun := 1.3*math.Ceil(float64(total)/float64(n))*slowest + hang
		verdict := func(b float64) string {
			if wall > b {
				return "MISSED"
			}
			return "met"
		}
		fmt.Printf("fleet of %d nodes, --parallel %d: median %.2fs over %d runs; bound %.2fs (1.3 x %d x %.2fs alone + %.0fs): %s; slowest live node in this run %.2fs, bound with it %.2fs: %s; at most %d SSH connection(s) per node\n",
			total, n, wall, runs, bound, int(math.Ceil(float64(total)/float64(n))), alone, hang, verdict(bound), slowest, inRun, verdict(inRun), conns)
	}
}
