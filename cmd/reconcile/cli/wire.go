package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/observed"
)

// passHosts is the Host stack of one pass, outermost first, picked once
// from its mode: the only place that decides what a pass may write.
//
//	apply:             real
//	dry-run, check:    dryRun (an overlay: reads see planned writes) → readOnly → real
//	check --record:    the same, with the ledgers' door: allowOnly(ledger) → readOnly → real
//
// A home that does not exist is, for the read-only modes, AbsentHome: read
// as empty, never created.
type passHosts struct {
	base    observed.Host // the real host (AbsentHome for a missing home)
	host    observed.Host
	ledgers observed.Host // nil: no audit ledger is written
	launchd observed.Launchd
	systemd observed.Systemd
	// system is the system manager (scope: system units); its unit files
	// are the host's only names outside HOME (observed.MountHost).
	system  observed.Systemd
	remote  observed.Remote
	unitDir *observed.FileHost // nil: the pass has no system units' directory
	closers []func() error
}

func wire(mode mode, home string, record bool, localHost string) (*passHosts, error) {
	w := &passHosts{}
	var launchd observed.Launchd = observed.NewLaunchctl()
	systemd := localSystemd(localHost, home)
	system, unitDir, err := localSystem(localHost, home)
	if err != nil {
		return nil, err
	}
	if unitDir != nil {
		w.closers = append(w.closers, unitDir.Close)
		w.unitDir = unitDir
	}
	// The ssh masters end and their control sockets go when the pass
	// does, also after SIGINT or SIGTERM (the pass's context is cancelled
	// and runPass returns through its defers).
	ssh := observed.NewSSH(home)
	w.closers = append(w.closers, ssh.Close)
	var remote observed.Remote = ssh
	if mode == modeApply {
		real, err := observed.NewFileHost(home)
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, real.Close)
		w.base, w.ledgers = w.mount(real), real
		w.host = w.base
		w.launchd, w.systemd, w.system, w.remote = launchd, systemd, system, remote
		return w, nil
	}
	real, err := observed.OpenFileHost(home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.base = observed.AbsentHome{Dir: home}
	case err != nil:
		return nil, err
	default:
		w.closers = append(w.closers, real.Close)
		w.base = real
	}
	guarded := observed.ReadOnlyHost{Host: w.base}
	w.host = observed.NewDryRunHost(guarded)
	if w.unitDir != nil {
		// The unit directory gets its own overlay, under the names it
		// has in its own root, as HOME has.
		w.host = observed.MountHost{Host: w.host, Dir: observed.SystemUnitDir,
			Mount: observed.NewDryRunHost(observed.ReadOnlyHost{Host: w.unitDir})}
	}
	w.base = w.mount(w.base)
	if record && real != nil {
		w.ledgers = observed.AllowOnlyHost{Host: guarded, Writer: real,
			Paths: []string{controllers.PersonaLedgerFile}}
	}
	w.launchd = observed.NewDryRunLaunchd(observed.ReadOnlyLaunchd{Launchd: launchd})
	w.systemd = observed.NewDryRunSystemd(observed.ReadOnlySystemd{Systemd: systemd})
	w.system = observed.NewDryRunSystemd(observed.ReadOnlySystemd{Systemd: system})
	w.remote = observed.NewDryRunRemote(observed.ReadOnlyRemote{Remote: remote})
	return w, nil
}

// localSystemd is the user's systemd manager of a host whose catalog host
// is vm (Linux: controllers.LocalHostName, or SANCTUM_HOST); elsewhere
// none, so that the Mac never runs systemctl. It is asked only when home
// is the home of the user whose manager systemctl reaches (HOME): that
// manager reads its units from $HOME/.config/systemd/user, so for any other
// home (make demo's disposable one) its units would be someone else's, and
// a daemon-reload, enable or start there would act on the user's real
// manager for a home it does not read. Then the unit files are still
// reconciled in home, and systemd is not asked (each unit is skipped,
// saying why).
func localSystemd(localHost, home string) observed.Systemd {
	if localHost != v1.SystemdHostVM {
		return observed.NoSystemd{}
	}
	if env := os.Getenv("HOME"); !sameDir(home, env) {
		return observed.NoSystemd{Reason: fmt.Sprintf("the user's systemd reads its units from HOME %s, not from --home %s; it is not asked", env, home)}
	}
	return observed.NewSystemctl()
}

// localSystem is the system manager of a host whose catalog host is vm,
// and the directory it reads its administrator's units from, opened: both
// only when
//   - localSystemd's rule lets the user's manager be asked (--home is
//     $HOME), since a pass for a disposable home (make demo, the suites)
//     must never write /etc/systemd/system nor change the machine's units;
//   - reconcile runs as root, the one user who writes that directory and
//     changes the system manager's units: another user's pass could stop
//     a unit and then fail to write or remove its file, every pass;
//   - the home and its state are root's own: a HOME of another user
//     (sudo --preserve-env=HOME) would let that user's inventory, backups
//     and catalog drive root's writes there.
//
// Otherwise NoSystemd says why, and the system units are skipped, their
// files unwritten. (A node's system units are reconciled from another
// host, through sudo -n when the node user is not root.)
func localSystem(localHost, home string) (observed.Systemd, *observed.FileHost, error) {
	if user := localSystemd(localHost, home); user.Available() != nil {
		if n, ok := user.(observed.NoSystemd); ok && n.Reason != "" {
			return observed.NoSystemd{Reason: "system units are reconciled only for the home of the user running reconcile ($HOME), " +
				"never for another --home: " + n.Reason}, nil, nil
		}
		return observed.NoSystemd{}, nil, nil
	}
	if euid := os.Geteuid(); euid != 0 {
		return observed.NoSystemd{Reason: "system units on this host are reconciled by root (reconcile runs as uid " + strconv.Itoa(euid) +
			"); run it as root for root's own home, or reconcile them from another host over SSH"}, nil, nil
	}
	if who := notOwnedBy(0, home, filepath.Join(home, controllers.StateDir)); who != "" {
		return observed.NoSystemd{Reason: "system units are reconciled by root only for a home of root's own: " + who}, nil, nil
	}
	system := observed.NewSystemctlSystem()
	if system.Available() != nil {
		return system, nil, nil
	}
	dir, err := observed.OpenFileHost(observed.SystemUnitDir)
	if errors.Is(err, fs.ErrNotExist) {
		return observed.NoSystemd{Reason: "no " + observed.SystemUnitDir + " on this host"}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", observed.SystemUnitDir, err)
	}
	return system, dir, nil
}

// notOwnedBy names the first of paths (those that exist) whose owner is
// not uid, "" when none.
func notOwnedBy(uid int, paths ...string) string {
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
			return fmt.Sprintf("%s belongs to uid %d", p, st.Uid)
		}
	}
	return ""
}

// mount puts the system's unit directory, as it is, into a host's names,
// when the pass has it.
func (w *passHosts) mount(h observed.Host) observed.Host { return withUnitDir(h, w.unitDir) }

// withUnitDir is h with the system's unit directory in its names (nil:
// h as it is).
func withUnitDir(h observed.Host, dir *observed.FileHost) observed.Host {
	if dir == nil {
		return h
	}
	return observed.MountHost{Host: h, Dir: observed.SystemUnitDir, Mount: dir}
}

// sameDir is whether a and b name the same folder (symlinks resolved);
// a folder that does not exist is compared by its clean path.
func sameDir(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ra, erra := filepath.EvalSymlinks(a)
	rb, errb := filepath.EvalSymlinks(b)
	if erra != nil || errb != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return ra == rb
}

// limit bounds the managed files the real host reads by instance.yaml's
// limits.managed_file_bytes (reconcile's own state keeps its bound).
func (w *passHosts) limit(l v1.Limits) {
	lim := observed.DefaultLimits
	lim.File = l.ManagedFile()
	base := w.base
	if m, ok := base.(observed.MountHost); ok {
		base = m.Host
		w.unitDir.SetLimits(lim)
	}
	if fh, ok := base.(*observed.FileHost); ok {
		fh.SetLimits(lim)
	}
}

// Close releases what the stack holds open (the home's root, the ssh
// control sockets).
func (w *passHosts) Close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		_ = w.closers[i]()
	}
}

// localHost is the catalog host this machine is: $SANCTUM_HOST when set
// (mac or vm), else by platform (controllers.LocalHostName).
func (a *app) localHost() (string, error) {
	switch h := a.cfg.Getenv("SANCTUM_HOST"); h {
	case "":
		return controllers.LocalHostName(), nil
	case controllers.HostMac, v1.SystemdHostVM:
		return h, nil
	default:
		return "", &exitError{ExitError, fmt.Errorf("SANCTUM_HOST=%q: the catalog host this machine is, %s or %s", h, controllers.HostMac, v1.SystemdHostVM)}
	}
}
