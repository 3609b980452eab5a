package observed

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The scripts a node runs. Each is sent to /bin/sh -s and is the body of a
// function called on its last line, so a script cut short never runs. Every
// path in them is data: a single-quoted word (Quote), and every answer names
// a path by its index in the request, never by its text. Every directory is
// entered one component at a time from the node's physical home (walk), and
// a component whose physical path leaves the home stops it, before anything
// is read or written there; a file is then read or written relative to the
// directory it was checked in, so a component swapped afterwards leads
// nowhere else. Content travels as printf escapes, byte for byte.

// Quote makes s one single-quoted shell word.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// preamble enters the remote home and defines what every script uses: H,
// the sha256 of files in the "hash  path" lines of both GNU sha256sum and
// macOS shasum; walk, which enters a directory under the home, or the
// system's unit directory itself (SD, named absolute: the one directory
// outside the home a script may name, entered only when it is physically
// itself: a symlink anywhere on its way is an escape; ws says walk is
// there). Any other absolute directory is an escape.
func preamble(n RemoteNode) string {
	var b strings.Builder
	// CDPATH would make a relative cd look elsewhere (and print); noclobber
	// makes every > refuse what exists, a symlink planted at a temporary
	// name included.
	b.WriteString("unset CDPATH\nLC_ALL=C; export LC_ALL\nset -C\numask 022\nmain() {\noIFS=$IFS\nnl='\n'\n")
	if n.Home != "" {
		fmt.Fprintf(&b, "cd -P -- %s || { echo 'the remote home does not exist' >&2; exit 90; }\n", Quote(n.Home))
	} else {
		b.WriteString("cd -P || exit 90\n")
	}
	fmt.Fprintf(&b, "SD=%s\n", Quote(n.systemDir()))
	b.WriteString(`HP=$PWD; HR=${HP%/}
if command -v sha256sum >/dev/null 2>&1; then H() { sha256sum "$@"; }
elif command -v shasum >/dev/null 2>&1; then H() { shasum -a 256 "$@"; }
else echo 'neither sha256sum nor shasum on the node' >&2; exit 91; fi
walk() {
  mk=$2; ws=
  case $1 in /*)
    w=escape; [ "$1" = "$SD" ] || return
    [ -d "$SD" ] || { w=no-dir; return; }
    cd -P -- "$SD" 2>/dev/null || { w=denied; return; }
    [ "$PWD" = "$SD" ] || return
    w=ok; ws=1; return;;
  esac
  cd -P -- "$HP" || { w=gone; return; }
  w=ok
  set -f; IFS=/; set -- $1; IFS=$oIFS; set +f
  for c do
    case $c in ''|.) continue;; ..) w=escape; return;; esac
    if [ ! -d "$c" ]; then
      if [ -L "$c" ] || [ -e "$c" ]; then w=not-dir; return; fi
      if [ "$mk" != 1 ]; then w=no-dir; return; fi
      mkdir -- "$c" 2>/dev/null || { w=mkdir; return; }
    fi
    cd -P -- "$c" 2>/dev/null || { w=denied; return; }
    case $PWD/ in "$HR"/*) ;; *) w=escape; return;; esac
  done
}
`)
	return b.String()
}

const epilogue = "echo END\n}\nmain\n"

// sysHelpers are what a script that names a file in the system's unit
// directory uses there, decided once in the script: SU, empty when the
// node user is root, else sudo -n, through which every read of a file
// the user may not read and every change there goes (never a prompt);
// suok, whether SU works (sudo -n true, asked once; sux says why not);
// HC, the sha256 program (sudo runs programs, not H). Content goes to a
// root-owned file through stdin only (cs, and the s* ops of writeScript),
// never as an argument.
const sysHelpers = `if [ "$(id -u)" = 0 ]; then SU=; else SU='sudo -n'; fi
if command -v sha256sum >/dev/null 2>&1; then HC=sha256sum; else HC='shasum -a 256'; fi
sux=
suok() {
  [ -z "$SU" ] && return 0
  if [ -z "$sux" ]; then
    if e=$(sudo -n true 2>&1 </dev/null); then sux=ok
    else sux="sudo -n: $(printf '%s' "$e" | head -n 1 | tr '\t' ' ')"; fi
  fi
  [ "$sux" = ok ]
}
`

// scriptHead is the preamble, with sysHelpers when the script names a
// file in the system's unit directory (sys).
func scriptHead(n RemoteNode, sys bool) string {
	if sys {
		return preamble(n) + sysHelpers
	}
	return preamble(n)
}

// namesSystem says whether any of paths is absolute: a file in the
// system's unit directory, for which a script needs sysHelpers.
func namesSystem(paths ...string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, "/") })
}

// splitRel splits a path relative to the home into its directory ("." for
// none) and its name.
func splitRel(p string) (string, string) {
	dir, base := path.Split(p)
	if dir == "" {
		return ".", base
	}
	return path.Clean(dir), base
}

// RemoteGlob is a target whose last element is a glob, expanded on the
// node: every directory it matches there should hold Files.
type RemoteGlob struct {
	Pattern string // relative to the home; a glob in its last element only
	Files   []string
}

// digestScript classifies every path (shell tests alone, no process per
// path), expands every glob on the node and classifies the files of each
// directory it matches, then hashes and stats every regular file with one
// sha256sum and one stat: a node with thousands of targets answers in one
// round trip and a handful of processes. A FIFO, a device or a directory
// is never opened.
func digestScript(n RemoteNode, paths []string, globs []RemoteGlob) string {
	var b strings.Builder
	sys := namesSystem(paths...)
	b.WriteString(scriptHead(n, sys))
	b.WriteString(`if stat -c %a . >/dev/null 2>&1; then S() { stat -c '%a %n' -- "$@"; }
elif stat -f %Lp . >/dev/null 2>&1; then S() { stat -f '%Lp %N' -- "$@"; }
else echo 'no stat on the node' >&2; exit 92; fi
ld=; lw=
s() {
  if [ -z "$lw" ] || [ "$2" != "$ld" ]; then walk "$2" 0; ld=$2; lw=$w; fi
  if [ "$lw" != ok ]; then printf '%s\t%s\n' "$lw" "$1"; return; fi
  if [ -L "$3" ]; then printf 'symlink\t%s\n' "$1"
  elif [ -f "$3" ]; then printf 'file\t%s\n' "$1"; eval "r$1=1"
  elif [ -e "$3" ]; then printf 'not-file\t%s\n' "$1"
  else printf 'missing\t%s\n' "$1"; fi
}
`)
	quoted := make([]string, len(paths))
	for i, p := range paths {
		dir, base := splitRel(p)
		quoted[i] = Quote(p)
		fmt.Fprintf(&b, "s %d %s %s\n", i, Quote(dir), Quote(base))
	}
	b.WriteString("cd -P -- \"$HP\" || exit 90\nset --\n")
	for i, q := range quoted {
		if strings.ContainsRune(paths[i], '\n') {
			// stat would print its name on two lines: such a path
			// (refused at validate) reads as unreadable, never as
			// another's answer.
			continue
		}
		fmt.Fprintf(&b, "[ -n \"${r%d-}\" ] && set -- \"$@\" %s\n", i, q)
	}
	// Each glob: its directory entered as any other, the pattern expanded
	// there by the shell (the pattern is a variable's value, so only
	// pathname expansion applies to it), each match and the state of its
	// files answered under indices from len(paths) on, in order. A match
	// whose name holds a newline is left out (its answers would split).
	if len(globs) > 0 {
		fmt.Fprintf(&b, "k=%d\n", len(paths))
	}
	for gi, g := range globs {
		dir, base := splitRel(g.Pattern)
		prefix := Quote(dir) + "/"
		if dir == "." {
			prefix = ""
		}
		files := make([]string, len(g.Files))
		for j, f := range g.Files {
			files[j] = Quote(f)
		}
		fmt.Fprintf(&b, `walk %s 0
if [ "$w" != ok ]; then printf 'W\t%d\t%%s\n' "$w"; else
  gp=%s; IFS=
  for d in $gp; do
    IFS=$oIFS
    [ -e "$d" ] || [ -L "$d" ] || continue
    case $d in *"$nl"*) continue;; esac
    if [ -L "$d" ]; then st=dir-symlink; elif [ ! -d "$d" ]; then st=not-dir; else st=; fi
    printf 'G\t%d\t%%s\t%%s\n' "$k" "$d"
    for f in %s; do
      if [ -n "$st" ]; then printf '%%s\t%%s\n' "$st" "$k"
      elif [ -L "$d/$f" ]; then printf 'symlink\t%%s\n' "$k"
      elif [ -f "$d/$f" ]; then printf 'file\t%%s\n' "$k"; set -- "$@" %s"$d/$f"
      elif [ -e "$d/$f" ]; then printf 'not-file\t%%s\n' "$k"
      else printf 'missing\t%%s\n' "$k"; fi
      k=$((k+1))
    done
  done
  IFS=$oIFS
fi
`, Quote(dir), gi, Quote(base), gi, strings.Join(files, " "), prefix)
	}
	b.WriteString("cd -P -- \"$HP\" || exit 90\n")
	// A file that vanished or cannot be read makes them complain on
	// stderr; only the lines of the others are read.
	b.WriteString("echo HASHES\n[ $# -gt 0 ] && H -- \"$@\" 2>/dev/null\n")
	if sys {
		// A system unit's file the node user may not read (0600, root's)
		// is hashed through sudo -n; one that cannot be stays unreadable.
		for i, p := range paths {
			if strings.HasPrefix(p, "/") && !strings.ContainsRune(p, '\n') {
				fmt.Fprintf(&b, "[ -n \"${r%d-}\" ] && [ ! -r %s ] && suok && $SU $HC -- %s 2>/dev/null </dev/null\n", i, quoted[i], quoted[i])
			}
		}
	}
	b.WriteString("echo MODES\n[ $# -gt 0 ] && S \"$@\" 2>/dev/null\n")
	b.WriteString(epilogue)
	return b.String()
}

// walkStates are the answers of walk other than ok, as RemoteStates.
var walkStates = map[string]RemoteState{
	"missing": RemoteMissing, "file": RemoteRegular, "symlink": RemoteSymlink, "not-file": RemoteOther,
	"no-dir": RemoteNoDir, "not-dir": RemoteNotDir, "escape": RemoteEscape, "denied": RemoteDenied,
	"dir-symlink": RemoteDirSymlink, "gone": RemoteDenied, "mkdir": RemoteDenied,
}

// ParseDigests reads the digest script's answer for paths and globs: a
// state line per path (by index), a W line per glob whose directory could
// not be entered and a G line per directory a glob matched, each followed
// by the state lines of its files (indices from len(paths) on), HASHES,
// sha256sum's "hash  path" lines, MODES, stat's "mode path" lines, END. A
// glob's own pattern is a key only when its directory could not be entered.
func ParseDigests(out []byte, paths []string, globs ...RemoteGlob) (map[string]RemoteFile, error) {
	asked := len(paths)
	paths = slices.Clip(paths)
	res := make(map[string]RemoteFile)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	section := ""
	ended := false
	for !ended && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "END":
			ended = true
		case line == "HASHES" || line == "MODES":
			section = line
		case section == "HASHES":
			sum, p, err := hashLine(line)
			if err != nil {
				return nil, err
			}
			if f, ok := res[p]; ok && f.State == RemoteRegular {
				f.SHA256 = sum
				res[p] = f
			}
		case section == "MODES":
			m, p, ok := strings.Cut(line, " ")
			mode, err := strconv.ParseUint(m, 8, 32)
			if !ok || err != nil {
				return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected mode line %q", line)}
			}
			if f, ok := res[p]; ok && f.State == RemoteRegular {
				f.Mode = os.FileMode(mode) & os.ModePerm
				res[p] = f
			}
		case strings.HasPrefix(line, "G\t") || strings.HasPrefix(line, "W\t"):
			f := strings.SplitN(line, "\t", 4)
			gi, err := strconv.Atoi(f[1])
			if err != nil || gi < 0 || gi >= len(globs) || (f[0] == "G" && len(f) != 4) || (f[0] == "W" && len(f) != 3) {
				return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", line)}
			}
			if f[0] == "W" {
				st, known := walkStates[f[2]]
				if !known {
					return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", line)}
				}
				res[globs[gi].Pattern] = RemoteFile{State: st}
				continue
			}
			first, err := strconv.Atoi(f[2])
			if err != nil || first != len(paths) || strings.Contains(f[3], "/") {
				return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", line)}
			}
			dir := path.Dir(globs[gi].Pattern)
			for _, name := range globs[gi].Files {
				paths = append(paths, path.Join(dir, f[3], name))
			}
		default:
			word, idx, ok := strings.Cut(line, "\t")
			i, err := strconv.Atoi(idx)
			st, known := walkStates[word]
			if !ok || err != nil || i < 0 || i >= len(paths) || !known {
				return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", line)}
			}
			res[paths[i]] = RemoteFile{State: st, Glob: i >= asked}
		}
	}
	if !ended {
		return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
	}
	for p, f := range res {
		if f.State == RemoteRegular && f.SHA256 == "" {
			// Changed between the test and the hash, or unreadable: not
			// known to be right, so it is treated as different.
			f.SHA256 = "unreadable"
			res[p] = f
		}
	}
	return res, nil
}

// hashLine reads one line of sha256sum (or shasum): "hash  path", or
// "\hash  path" with the path's backslashes and newlines escaped.
func hashLine(line string) (string, string, error) {
	escaped := strings.HasPrefix(line, `\`)
	sum, p, ok := strings.Cut(strings.TrimPrefix(line, `\`), "  ")
	if !ok || len(sum) != 64 {
		return "", "", &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected digest line %q", line)}
	}
	if escaped {
		p = strings.NewReplacer(`\\`, `\`, `\n`, "\n").Replace(p)
	}
	return sum, p, nil
}

// Digests implements Remote.
func (s *SSH) Digests(ctx context.Context, n RemoteNode, paths []string, globs ...RemoteGlob) (map[string]RemoteFile, error) {
	o, err := s.Observe(ctx, n, RemoteQuery{Paths: paths, Globs: globs})
	if err != nil {
		return nil, err
	}
	return o.Files, nil
}

// systemctlUser is how the node's scripts call its user's systemd: never
// a pager or a password prompt, and never the script's own stdin (the
// script itself, read by sh -s).
const systemctlUser = "systemctl --user --no-pager --no-ask-password"

// systemctlSystem is how the node's scripts call its system manager, as
// systemctlUser calls the user's; a change goes through $SU (sudo -n when
// the node user is not root), a show needs no privilege.
const systemctlSystem = "systemctl --no-pager --no-ask-password"

// unitsScript asks the node user's systemd about units in one `systemctl
// show`, after the digests: its answer between UNITS and a UNITSEXIT line
// with systemctl's exit status ("none": no systemctl on the node) and the
// first line of what it said on stderr, then the physical home. With no
// units, only the home is answered (an empty show, status 0).
func unitsScript(units []string) string {
	if len(units) == 0 {
		return "echo UNITS\nprintf '\\nUNITSEXIT\\t0\\t\\n'\nprintf 'HOME\\t%s\\n' \"$HP\"\n"
	}
	return showScript("UNITS", systemctlUser, units) + "printf 'HOME\\t%s\\n' \"$HP\"\n"
}

// sysUnitsScript asks the node's system manager about units in one
// `systemctl show`, before the user's (unitsScript): its answer between
// SYSUNITS and a SYSUNITSEXIT line, as the user's. show needs no
// privilege, but a user who is not root reaches the manager over the
// system bus only: a node without one (a minimal container) answers
// "Failed to connect to bus", and then, when sudo -n works, the same show
// is asked through it (root reaches the manager's private socket).
func sysUnitsScript(units []string) string {
	if len(units) == 0 {
		return ""
	}
	return showScript("SYSUNITS", systemctlSystem, units)
}

// showScript runs one show of a manager (cmd) for units between a marker
// line and marker+EXIT; the system manager's (cmd systemctlSystem) through
// sudo -n when the system bus is not there for a user who is not root.
func showScript(marker, cmd string, units []string) string {
	q := make([]string, len(units))
	for i, u := range units {
		q[i] = Quote(u)
	}
	args := "show --property=" + strings.Join(ShowProperties, ",") + " -- " + strings.Join(q, " ")
	retry := ""
	if cmd == systemctlSystem {
		retry = systemBusRetry(args)
	}
	return fmt.Sprintf(`echo %[1]s
if command -v systemctl >/dev/null 2>&1; then
  exec 3>&1
  ue=$(%[2]s %[3]s 2>&1 1>&3 3>&- </dev/null); ur=$?%[4]s
  exec 3>&-
  printf '\n%[1]sEXIT\t%%s\t%%s\n' "$ur" "$(printf '%%s' "$ue" | head -n 1 | tr '\t' ' ')"
else printf '\n%[1]sEXIT\tnone\t\n'; fi
`, marker, cmd, args, retry)
}

// systemBusRetry asks the system manager again, through sudo -n, when the
// first ask (ue, ur) of a user who is not root found no system bus (or,
// for cat, a unit file only root may read) and sudo -n works: args are
// systemctl's arguments of a read (show, cat), quoted. Its stdout goes to
// fd 3, as the first ask's.
func systemBusRetry(args string) string {
	return `
  if [ $ur != 0 ] && [ "$(id -u)" != 0 ] && case $ue in *"Failed to connect to bus"*|*"Permission denied"*) true;; *) false;; esac &&
     sudo -n true >/dev/null 2>&1 </dev/null; then
    ue=$(sudo -n ` + systemctlSystem + ` ` + args + ` 2>&1 1>&3 3>&- </dev/null); ur=$?
  fi`
}

// MaxContent bounds the bytes of one file a node sends in its
// observation (a unit file is a few hundred): od reads at most one more,
// and a file longer than this is not answered (it is judged by its
// digest alone, as a file whose bytes were not sent).
const MaxContent = 1 << 20

// contentsScript sends, before the digests, the bytes of each file asked
// whose sha256 is none of its Unless digests: a C line with its index,
// its bytes as od prints them in hex (no framing by size, so a file that
// grows while it is read cannot shift the answer), and an E line with
// od's exit status; a file that is no regular file, or holds a digest
// asked not to be sent, is not answered. One sha256sum per file asked
// (a node holds a handful of unit files), one od per file sent.
func contentsScript(contents []RemoteContent) string {
	if len(contents) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`echo CONTENTS
cf() {
  walk "$2" 0
  [ "$w" = ok ] && [ ! -L "$3" ] && [ -f "$3" ] || return 0
  i=$1; f=$3; shift 3
  R=
  if [ -n "$ws" ] && [ ! -r "$f" ]; then suok || return 0; R=$SU; fi
  if [ -n "$R" ]; then h=$($R $HC -- "./$f" 2>/dev/null </dev/null); else h=$(H "./$f" 2>/dev/null); fi
  h=${h#\\}; h=${h%% *}
  for k do [ "$h" = "$k" ] && return 0; done
  printf 'C\t%s\n' "$i"
  $R od -A n -v -N ` + strconv.Itoa(MaxContent+1) + ` -t x1 "./$f" 2>/dev/null </dev/null; printf 'E\t%s\n' "$?"
}
`)
	for i, c := range contents {
		dir, base := splitRel(c.Path)
		fmt.Fprintf(&b, "cf %d %s %s", i, Quote(dir), Quote(base))
		for _, d := range c.Unless {
			fmt.Fprintf(&b, " %s", Quote(d))
		}
		b.WriteString("\n")
	}
	b.WriteString("echo CONTENTSEND\n")
	return b.String()
}

// observeScript is the digest script with the contents asked before the
// digests and the managers' shows after them (the system's, then the
// user's): one script, one round trip.
func observeScript(n RemoteNode, q RemoteQuery) string {
	head := scriptHead(n, namesSystem(q.Paths...))
	body := strings.TrimSuffix(strings.TrimPrefix(digestScript(n, q.Paths, q.Globs), head), epilogue)
	units := ""
	if len(q.Units)+len(q.SystemUnits) > 0 {
		units = sysUnitsScript(q.SystemUnits) + unitsScript(q.Units)
	}
	return head + contentsScript(q.Contents) + body + units + epilogue
}

// parseContents reads the contents section that opens an answer (see
// contentsScript): the bytes of each file sent, by path, and the answer
// after the section.
func parseContents(out []byte, contents []RemoteContent) (map[string][]byte, []byte, error) {
	bad := func(what string) error {
		return &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", what)}
	}
	rest, ok := bytes.CutPrefix(out, []byte("CONTENTS\n"))
	if !ok {
		return nil, nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
	}
	res := make(map[string][]byte)
	line := func() (string, bool) {
		l, r, found := bytes.Cut(rest, []byte("\n"))
		if !found {
			return "", false
		}
		rest = r
		return string(l), true
	}
	for {
		l, ok := line()
		if !ok {
			return nil, nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
		}
		if l == "CONTENTSEND" {
			return res, rest, nil
		}
		idx, found := strings.CutPrefix(l, "C\t")
		i, err := strconv.Atoi(idx)
		if !found || err != nil || i < 0 || i >= len(contents) {
			return nil, nil, bad(l)
		}
		data := []byte{}
		for {
			l, ok := line()
			if !ok {
				return nil, nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
			}
			if code, end := strings.CutPrefix(l, "E\t"); end {
				if code == "0" && len(data) <= MaxContent {
					res[contents[i].Path] = data
				}
				break
			}
			if len(data) > MaxContent+1 { // od -N reads no more: a node that sends more is not answering
				return nil, nil, bad("more than " + strconv.Itoa(MaxContent+1) + " bytes of " + contents[i].Path)
			}
			if !strings.HasPrefix(l, " ") {
				return nil, nil, bad(l)
			}
			for _, h := range strings.Fields(l) {
				v, err := strconv.ParseUint(h, 16, 8)
				if err != nil || len(h) != 2 {
					return nil, nil, bad(l)
				}
				data = append(data, byte(v))
			}
		}
	}
}

// Observe implements Remote: the digest script, with the contents asked
// before it and the units' show after it in the same script.
func (s *SSH) Observe(ctx context.Context, n RemoteNode, q RemoteQuery) (*RemoteObservation, error) {
	out, err := s.run(ctx, n, []byte(observeScript(n, q)))
	if err != nil {
		return nil, err
	}
	return ParseObservation(out, q)
}

// errNoSystemctlOnNode is ErrNoSystemd, said of a node.
type errNoSystemctlOnNode struct{}

func (errNoSystemctlOnNode) Error() string        { return "systemctl not found on the node" }
func (errNoSystemctlOnNode) Is(target error) bool { return target == ErrNoSystemd }

// ParseObservation reads the answer of a digest script that may carry the
// managers' shows (see sysUnitsScript and unitsScript) before its END.
func ParseObservation(out []byte, q RemoteQuery) (*RemoteObservation, error) {
	o := &RemoteObservation{}
	if len(q.Contents) > 0 {
		contents, rest, err := parseContents(out, q.Contents)
		if err != nil {
			return nil, err
		}
		o.Contents, out = contents, rest
	}
	if len(q.SystemUnits) > 0 {
		// The system manager's answer rides between the digests and the
		// user's: taken out, what is left is the answer without it.
		i := bytes.Index(out, []byte("\nSYSUNITS\n"))
		if i < 0 {
			if !bytes.HasPrefix(out, []byte("SYSUNITS\n")) {
				return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
			}
			i = -1
		}
		rest := out[i+len("\nSYSUNITS\n"):]
		j := bytes.Index(rest, []byte("\nSYSUNITSEXIT\t"))
		if j < 0 {
			return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
		}
		line, after, ok := bytes.Cut(rest[j+1:], []byte("\n"))
		if !ok {
			return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
		}
		f := strings.SplitN(strings.TrimPrefix(string(line), "SYS"), "\t", 3)
		infos, err := parseShowAnswer(rest[:j], f, q.SystemUnits, true)
		if err != nil {
			return nil, err
		}
		o.SystemUnits, o.SystemUnitsErr = infos.infos, infos.err
		out = append(append([]byte(nil), out[:i+1]...), after...)
	}
	files := out
	if len(q.Units)+len(q.SystemUnits) > 0 {
		// The digests' lines never are a bare UNITS: states and indices,
		// "hash  path", "mode path".
		i := bytes.Index(out, []byte("\nUNITS\n"))
		if i < 0 {
			if !bytes.HasPrefix(out, []byte("UNITS\n")) {
				return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
			}
			i = -1
		}
		files = append(append([]byte(nil), out[:i+1]...), "END\n"...)
		rest := out[i+len("\nUNITS\n"):]
		j := bytes.LastIndex(rest, []byte("\nUNITSEXIT\t"))
		if j < 0 {
			return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
		}
		tail := strings.Split(string(rest[j+1:]), "\n")
		f := strings.SplitN(tail[0], "\t", 3)
		if len(f) != 3 || len(tail) < 2 || !strings.HasPrefix(tail[1], "HOME\t") {
			return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", tail[0])}
		}
		o.Home = strings.TrimPrefix(tail[1], "HOME\t")
		if len(q.Units) > 0 {
			a, err := parseShowAnswer(rest[:j], f, q.Units, false)
			if err != nil {
				return nil, err
			}
			o.Units, o.UnitsErr = a.infos, a.err
		}
	}
	res, err := ParseDigests(files, q.Paths, q.Globs...)
	if err != nil {
		return nil, err
	}
	o.Files = res
	return o, nil
}

// showAnswer is a manager's answer to the observation's show: every unit
// asked, or why not.
type showAnswer struct {
	infos map[string]*UnitInfo
	err   error
}

// parseShowAnswer reads one manager's show: its output and its EXIT
// line's fields (marker, status, first line of stderr). An EXIT line that
// is not one is the answer's own error; a show that failed is the
// manager's (showAnswer.err).
func parseShowAnswer(show []byte, f []string, units []string, system bool) (showAnswer, error) {
	if len(f) != 3 {
		return showAnswer{}, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", strings.Join(f, "\t"))}
	}
	what := "systemctl show on the node"
	if system {
		what = "systemctl show of the node's system manager"
	}
	switch code, cerr := strconv.Atoi(f[1]); {
	case f[1] == "none":
		return showAnswer{err: errNoSystemctlOnNode{}}, nil
	case cerr != nil:
		return showAnswer{}, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", strings.Join(f, "\t"))}
	case code != 0:
		return showAnswer{err: &SystemctlError{Args: append([]string{"show", "--"}, units...), Code: code, Stderr: f[2], System: system}}, nil
	}
	infos, err := ParseShow(string(show))
	if err != nil {
		return showAnswer{err: fmt.Errorf("%s: %w", what, err)}, nil
	}
	for _, u := range units {
		if infos[u] == nil {
			return showAnswer{err: fmt.Errorf("%s: no answer for %s", what, u)}, nil
		}
	}
	return showAnswer{infos: infos}, nil
}

// fetchScript sends the bytes of each regular file, after its index and
// size; anything else is answered N.
func fetchScript(n RemoteNode, paths []string) string {
	var b strings.Builder
	b.WriteString(preamble(n))
	if namesSystem(paths...) {
		// A system unit's file the node user may not read: through sudo -n.
		b.WriteString(sysHelpers + `cs() {
  if suok; then printf 'C\t%s\t%s\n' "$1" "$($SU cat -- "./$2" | wc -c | tr -d ' ')"; $SU cat -- "./$2"; printf '\n'
  else printf 'N\t%s\n' "$1"; fi
}
`)
	}
	b.WriteString(`c() {
  walk "$2" 0
  if [ "$w" = ok ] && [ -n "$ws" ] && [ ! -L "$3" ] && [ -f "$3" ] && [ ! -r "$3" ]; then cs "$1" "$3"; return; fi
  if [ "$w" = ok ] && [ ! -L "$3" ] && [ -f "$3" ]; then
    printf 'C\t%s\t%s\n' "$1" "$(wc -c < "./$3" | tr -d ' ')"; cat -- "./$3"; printf '\n'
  else printf 'N\t%s\n' "$1"; fi
}
`)
	for i, p := range paths {
		dir, base := splitRel(p)
		fmt.Fprintf(&b, "c %d %s %s\n", i, Quote(dir), Quote(base))
	}
	b.WriteString(epilogue)
	return b.String()
}

// Fetch implements Remote.
func (s *SSH) Fetch(ctx context.Context, n RemoteNode, paths []string) (map[string][]byte, error) {
	out, err := s.run(ctx, n, []byte(fetchScript(n, paths)))
	if err != nil {
		return nil, err
	}
	return parseFetch(out, paths)
}

func parseFetch(out []byte, paths []string) (map[string][]byte, error) {
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
		i := -1
		if len(f) >= 2 {
			if v, err := strconv.Atoi(f[1]); err == nil && v >= 0 && v < len(paths) {
				i = v
			}
		}
		switch {
		case i >= 0 && len(f) == 2 && f[0] == "N":
			out = rest
			continue
		case i >= 0 && len(f) == 3 && f[0] == "C":
			size, err := strconv.Atoi(f[2])
			if err != nil || size < 0 || len(rest) < size+1 {
				break
			}
			res[paths[i]] = append([]byte(nil), rest[:size]...)
			out = rest[size+1:]
			continue
		}
		return nil, &RemoteError{Kind: ErrRemote, Detail: "unexpected answer to a fetch"}
	}
	return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
}

// PrintfFormat is content as a printf format that prints exactly its
// bytes: printable ASCII (but ', \ and %) as itself, a newline as itself,
// every other byte as a three-digit octal escape. A shell word cannot hold
// a NUL; a printf format can say one.
func PrintfFormat(content []byte) string {
	var b strings.Builder
	b.Grow(len(content) + len(content)/8)
	for _, c := range content {
		switch {
		case c == '\n' || (c >= 0x20 && c <= 0x7e && c != '\'' && c != '\\' && c != '%'):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\%03o`, c)
		}
	}
	return b.String()
}

// umaskFor is the umask that makes a new file exactly mode (no chmod), or
// "" when a file made by the shell cannot have it (execute or special bits).
func umaskFor(mode os.FileMode) string {
	if mode&^0o666 != 0 {
		return ""
	}
	return fmt.Sprintf("%04o", 0o777&^mode)
}

// writeScript carries out ops in one session. put writes a temporary file
// beside the target (refusing what is at the temporary name rather than
// following it), backs up what it replaces, then renames; chmod changes a
// mode and nothing else; remove takes a file away (into the backups) only
// while it still holds the digest reconcile wrote. Each answers by index:
// OK (B when a backup was kept), SKIP (no directory, not to be made), GONE
// (nothing to remove), CHANGED (not what was written: left), FAIL reason.
func writeScript(n RemoteNode, backupDir string, ops []RemoteWrite) string {
	var b strings.Builder
	b.WriteString(preamble(n))
	fmt.Fprintf(&b, "B=%s\ntp=\ntS=\ntrap '[ -n \"$tp\" ] && $tS rm -f -- \"$tp\"; exit 1' HUP INT TERM PIPE\n", Quote(backupDir))
	b.WriteString(`ok() { [ "$w" = ok ] || { printf 'FAIL\t%s\t%s\n' "$1" "$w"; return 1; }; }
tgt() {
  if [ -L "$2" ]; then printf 'FAIL\t%s\tsymlink\n' "$1"; return 1; fi
  if [ -e "$2" ] && [ ! -f "$2" ]; then printf 'FAIL\t%s\tnot-file\n' "$1"; return 1; fi
}
bk() {
  umask 077; walk "$B/$2" 1; umask 022
  [ "$w" = ok ] || { printf 'FAIL\t%s\tbackup-%s\n' "$1" "$w"; return 1; }
}
put() {
  walk "$2" "$6"
  if [ "$w" = no-dir ]; then printf 'SKIP\t%s\n' "$1"; return; fi
  ok "$1" || return
  tgt "$1" "$3" || return
  td=$PWD; t=".$3.reconcile-tmp"
  rm -f -- "$t" 2>/dev/null
  tp=$td/$t
  if [ -n "$4" ]; then umask "$4"; else umask 077; fi
  printf -- "$7" > "$t" 2>/dev/null; r=$?
  umask 022
  if [ $r = 0 ] && [ "$5" != - ]; then chmod -- "$5" "$t" 2>/dev/null; r=$?; fi
  if [ $r != 0 ]; then rm -f -- "$t" 2>/dev/null; tp=; printf 'FAIL\t%s\twrite\n' "$1"; return; fi
  swap "$1" "$2" "$3"
}
swap() {
  k=
  if [ -f "$3" ]; then
    bk "$1" "$2" || { rm -f -- "$tp"; tp=; return; }
    { cp -p -- "$td/$3" "./$3" && chmod 600 "./$3"; } 2>/dev/null || { rm -f -- "$tp"; tp=; printf 'FAIL\t%s\tbackup\n' "$1"; return; }
    k=B
    cd -P -- "$td" || { rm -f -- "$tp"; tp=; printf 'FAIL\t%s\tgone\n' "$1"; return; }
  fi
  mv -f -- "$t" "./$3" 2>/dev/null || { rm -f -- "$tp"; tp=; printf 'FAIL\t%s\twrite\n' "$1"; return; }
  tp=
  printf 'OK\t%s\t%s\n' "$1" "$k"; eval "o$1=1"
}
rst() {
  walk "$7" 0
  case $w in ok) ;; no-dir) printf 'FAIL\t%s\tno-backup\n' "$1"; return;; *) printf 'FAIL\t%s\tbackup-%s\n' "$1" "$w"; return;; esac
  if [ -L "$8" ] || [ ! -f "$8" ]; then printf 'FAIL\t%s\tno-backup\n' "$1"; return; fi
  sd=$PWD
  walk "$2" 1; ok "$1" || return
  tgt "$1" "$3" || return
  td=$PWD; t=".$3.reconcile-tmp"
  rm -f -- "$t" 2>/dev/null
  tp=$td/$t
  if [ -n "$5" ]; then umask "$5"; else umask 077; fi
  cat -- "$sd/$8" > "$t" 2>/dev/null; r=$?
  umask 022
  if [ $r = 0 ]; then h=$(H "./$t" 2>/dev/null); h=${h#\\}; h=${h%% *}
    if [ "$h" != "$4" ]; then rm -f -- "$t" 2>/dev/null; tp=; printf 'CHANGED\t%s\n' "$1"; return; fi
  fi
  if [ $r = 0 ] && [ "$6" != - ]; then chmod -- "$6" "$t" 2>/dev/null; r=$?; fi
  if [ $r != 0 ]; then rm -f -- "$t" 2>/dev/null; tp=; printf 'FAIL\t%s\twrite\n' "$1"; return; fi
  swap "$1" "$2" "$3"
}
chm() {
  walk "$2" 0; ok "$1" || return
  if [ -L "$3" ] || [ ! -f "$3" ]; then printf 'FAIL\t%s\tnot-file\n' "$1"; return; fi
  chmod -- "$4" "./$3" 2>/dev/null || { printf 'FAIL\t%s\tchmod\n' "$1"; return; }
  printf 'OK\t%s\t\n' "$1"; eval "o$1=1"
}
rmv() {
  walk "$2" 0
  case $w in ok) ;; no-dir) printf 'GONE\t%s\n' "$1"; return;; *) ok "$1"; return;; esac
  if [ ! -e "$3" ] && [ ! -L "$3" ]; then printf 'GONE\t%s\n' "$1"; return; fi
  if [ -L "$3" ] || [ ! -f "$3" ]; then printf 'CHANGED\t%s\n' "$1"; return; fi
  h=$(H "./$3" 2>/dev/null); h=${h#\\}; h=${h%% *}
  if [ "$h" != "$4" ]; then printf 'CHANGED\t%s\n' "$1"; return; fi
  td=$PWD
  bk "$1" "$2" || return
  mv -- "$td/$3" "./$3" 2>/dev/null || { printf 'FAIL\t%s\tremove\n' "$1"; return; }
  chmod 600 "./$3" 2>/dev/null
  printf 'OK\t%s\tB\n' "$1"; eval "o$1=1"
}
scx=
sc() {
  i=$1; g=$2; shift 2
  if [ -n "$scx" ]; then printf 'FAIL\t%s\tnot run: systemctl %s failed before it\n' "$i" "$scx"; return; fi
  e=$(` + systemctlUser + ` "$@" 2>&1 </dev/null); r=$?
  if [ $r = 0 ]; then printf 'OK\t%s\t\n' "$i"; eval "o$i=1"; return; fi
  [ "$g" = 1 ] && scx=$1
  printf 'FAIL\t%s\tsystemctl --user %s: exit %s: %s\n' "$i" "$1" "$r" "$(printf '%s' "$e" | head -n 1 | tr '\t' ' ')"
}
`)
	sys := slices.ContainsFunc(ops, func(w RemoteWrite) bool { return w.System || strings.HasPrefix(w.Path, "/") })
	if sys {
		b.WriteString(sysHelpers + sysWriteOps)
	}
	for i, w := range ops {
		dir, base := splitRel(w.Path)
		// A file in the system's unit directory: its own ops (walk
		// refuses any other absolute directory).
		s := ""
		if strings.HasPrefix(w.Path, "/") || (w.Op == RemoteSystemctl && w.System) {
			s = "s"
		}
		if len(w.Needs) > 0 {
			// Run only after every write it needs was carried out.
			b.WriteString("if")
			for k, need := range w.Needs {
				if k > 0 {
					b.WriteString(" &&")
				}
				fmt.Fprintf(&b, " [ -n \"${o%d-}\" ]", need)
			}
			b.WriteString("; then ")
		}
		switch w.Op {
		case RemoteSystemctl:
			args := make([]string, len(w.Args))
			for k, a := range w.Args {
				args[k] = Quote(a)
			}
			g := "0"
			if w.Gate {
				g = "1"
			}
			fmt.Fprintf(&b, "%ssc %d %s %s", s, i, g, strings.Join(args, " "))
		case RemoteChmod:
			fmt.Fprintf(&b, "%schm %d %s %s %04o", s, i, Quote(dir), Quote(base), w.Mode.Perm())
		case RemoteRemove:
			fmt.Fprintf(&b, "%srmv %d %s %s %s", s, i, Quote(dir), Quote(base), Quote(w.SHA256))
		case RemoteRestore:
			um, chmod := modeArgs(w.Mode)
			fdir, fbase := splitRel(w.From)
			fmt.Fprintf(&b, "%srst %d %s %s %s %s %s %s %s", s, i, Quote(dir), Quote(base), Quote(w.SHA256), Quote(um), chmod,
				Quote(fdir), Quote(fbase))
		default:
			um, chmod := modeArgs(w.Mode)
			mk := "0"
			if w.MkDir {
				mk = "1"
			}
			fmt.Fprintf(&b, "%sput %d %s %s %s %s %s '%s'", s, i, Quote(dir), Quote(base), Quote(um), chmod, mk,
				strings.ReplaceAll(PrintfFormat(w.Content), "'", `'\''`))
		}
		if len(w.Needs) > 0 {
			fmt.Fprintf(&b, "; else printf 'FAIL\\t%d\\tnot run: a step before it failed\\n'; fi", i)
		}
		b.WriteString("\n")
	}
	b.WriteString(epilogue)
	return b.String()
}

// sysWriteOps are writeScript's ops for a file in the system's unit
// directory and its manager's calls, each as its counterpart in the home
// (put, swap, rst, chm, rmv, sc) answers: every change there, and every
// read of a file the node user may not read, goes through $SU (sudo -n
// when the node user is not root, whose refusal fails the op with sudo's
// reason); the new content reaches the root-owned temporary file through
// stdin, never as an argument; a backup is the node user's own file (0600)
// in the home's backups, written by the user's shell from root's cat; a
// removal is a backup copy, then the file removed (a rename cannot leave
// the root-owned directory for the home). A daemon-reload that failed
// stops the system manager's later calls only (sscx).
const sysWriteOps = `sclean() { [ -n "$tp" ] && $SU rm -f -- "$tp" 2>/dev/null; tp=; tS=; }
stmp() {
  td=$PWD; t=".$1.reconcile-tmp"
  $SU rm -f -- "$t" 2>/dev/null
  tp=$td/$t; tS=$SU
}
sput() {
  walk "$2" 0; ok "$1" || return
  suok || { printf 'FAIL\t%s\t%s\n' "$1" "$sux"; return; }
  tgt "$1" "$3" || return
  stmp "$3"
  printf -- "$7" | $SU sh -c 'umask "$1"; set -C; exec cat > "$2"' sh "${4:-077}" "$t" 2>/dev/null; r=$?
  if [ $r = 0 ] && [ "$5" != - ]; then $SU chmod -- "$5" "$t" 2>/dev/null; r=$?; fi
  if [ $r != 0 ]; then sclean; printf 'FAIL\t%s\twrite\n' "$1"; return; fi
  sswap "$1" "$2" "$3"
}
sbk() {
  bk "$1" "$2" || return 1
  { rm -f -- "./$3" && ( umask 077; $SU cat -- "$td/$3" > "./$3" ); } 2>/dev/null || { printf 'FAIL\t%s\t%s\n' "$1" "$4"; return 1; }
}
sswap() {
  k=
  if [ -f "$3" ]; then
    sbk "$1" "$2" "$3" backup || { sclean; return; }
    k=B
    walk "$2" 0; [ "$w" = ok ] || { sclean; printf 'FAIL\t%s\tgone\n' "$1"; return; }
  fi
  $SU mv -f -- "$t" "./$3" 2>/dev/null || { sclean; printf 'FAIL\t%s\twrite\n' "$1"; return; }
  tp=; tS=
  printf 'OK\t%s\t%s\n' "$1" "$k"; eval "o$1=1"
}
srst() {
  walk "$7" 0
  case $w in ok) ;; no-dir) printf 'FAIL\t%s\tno-backup\n' "$1"; return;; *) printf 'FAIL\t%s\tbackup-%s\n' "$1" "$w"; return;; esac
  if [ -L "$8" ] || [ ! -f "$8" ]; then printf 'FAIL\t%s\tno-backup\n' "$1"; return; fi
  sd=$PWD
  walk "$2" 0; ok "$1" || return
  suok || { printf 'FAIL\t%s\t%s\n' "$1" "$sux"; return; }
  tgt "$1" "$3" || return
  stmp "$3"
  $SU sh -c 'umask "$1"; set -C; exec cat > "$2"' sh "${5:-077}" "$t" < "$sd/$8" 2>/dev/null; r=$?
  if [ $r = 0 ]; then h=$($SU $HC -- "./$t" 2>/dev/null </dev/null); h=${h#\\}; h=${h%% *}
    if [ "$h" != "$4" ]; then sclean; printf 'CHANGED\t%s\n' "$1"; return; fi
  fi
  if [ $r = 0 ] && [ "$6" != - ]; then $SU chmod -- "$6" "$t" 2>/dev/null; r=$?; fi
  if [ $r != 0 ]; then sclean; printf 'FAIL\t%s\twrite\n' "$1"; return; fi
  sswap "$1" "$2" "$3"
}
schm() {
  walk "$2" 0; ok "$1" || return
  suok || { printf 'FAIL\t%s\t%s\n' "$1" "$sux"; return; }
  if [ -L "$3" ] || [ ! -f "$3" ]; then printf 'FAIL\t%s\tnot-file\n' "$1"; return; fi
  $SU chmod -- "$4" "./$3" 2>/dev/null || { printf 'FAIL\t%s\tchmod\n' "$1"; return; }
  printf 'OK\t%s\t\n' "$1"; eval "o$1=1"
}
srmv() {
  walk "$2" 0
  case $w in ok) ;; no-dir) printf 'GONE\t%s\n' "$1"; return;; *) ok "$1"; return;; esac
  if [ ! -e "$3" ] && [ ! -L "$3" ]; then printf 'GONE\t%s\n' "$1"; return; fi
  if [ -L "$3" ] || [ ! -f "$3" ]; then printf 'CHANGED\t%s\n' "$1"; return; fi
  suok || { printf 'FAIL\t%s\t%s\n' "$1" "$sux"; return; }
  h=$($SU $HC -- "./$3" 2>/dev/null </dev/null); h=${h#\\}; h=${h%% *}
  if [ "$h" != "$4" ]; then printf 'CHANGED\t%s\n' "$1"; return; fi
  td=$PWD
  sbk "$1" "$2" "$3" remove || return
  $SU rm -f -- "$td/$3" 2>/dev/null || { printf 'FAIL\t%s\tremove\n' "$1"; return; }
  printf 'OK\t%s\tB\n' "$1"; eval "o$1=1"
}
sscx=
ssc() {
  i=$1; g=$2; shift 2
  if [ -n "$sscx" ]; then printf 'FAIL\t%s\tnot run: systemctl %s failed before it\n' "$i" "$sscx"; return; fi
  if ! suok; then [ "$g" = 1 ] && sscx=$1; printf 'FAIL\t%s\t%s\n' "$i" "$sux"; return; fi
  e=$($SU ` + systemctlSystem + ` "$@" 2>&1 </dev/null); r=$?
  if [ $r = 0 ]; then printf 'OK\t%s\t\n' "$i"; eval "o$i=1"; return; fi
  [ "$g" = 1 ] && sscx=$1
  printf 'FAIL\t%s\t%ssystemctl %s: exit %s: %s\n' "$i" "${SU:+sudo -n }" "$1" "$r" "$(printf '%s' "$e" | head -n 1 | tr '\t' ' ')"
}
`

// modeArgs are the umask and chmod arguments of a file made with mode (0:
// 0644): the umask that makes it, or "" and the mode to chmod.
func modeArgs(mode os.FileMode) (string, string) {
	if mode == 0 {
		mode = 0o644
	}
	um, chmod := umaskFor(mode), "-"
	if um == "" {
		chmod = fmt.Sprintf("%04o", mode&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	}
	return um, chmod
}

// Write implements Remote.
func (s *SSH) Write(ctx context.Context, n RemoteNode, backupDir string, ops []RemoteWrite) ([]RemoteResult, error) {
	out, err := s.run(ctx, n, []byte(writeScript(n, backupDir, ops)))
	res, perr := parseWrites(out, backupDir, ops)
	if err != nil {
		return res, err
	}
	return res, perr
}

// systemWriteFailures are writeFailures of a file in the node's
// /etc/systemd/system, whose walk starts there, not at the home.
var systemWriteFailures = map[string]string{
	"no-dir": "no " + SystemUnitDir + " on the node; nothing was changed",
	"escape": "outside the node's home only the files directly in " + SystemUnitDir + " are written, and only while it is itself (no symlink on its way); refused before any write",
}

// writeFailures say why the node did not carry out an op.
var writeFailures = map[string]string{
	"write":          "the node could not write it (disk full, read-only, or in the way); what was there is untouched",
	"symlink":        "it is a symlink on the node; refusing to write through it",
	"not-file":       "it is not a regular file on the node (a directory, FIFO or device); refused, not opened",
	"escape":         "a directory on its way is a symlink leading out of the node's home; refused before any write",
	"not-dir":        "a component of its directory is not a directory on the node",
	"denied":         "its directory cannot be entered on the node",
	"mkdir":          "its directory could not be made on the node",
	"gone":           "the node's home could not be entered",
	"backup":         "the node could not back up what is there; nothing was changed",
	"backup-escape":  "the node's backup directory leads out of its home through a symlink; nothing was changed",
	"backup-not-dir": "the node's backup directory is in the way of a file; nothing was changed",
	"backup-mkdir":   "the node's backup directory could not be made; nothing was changed",
	"backup-denied":  "the node's backup directory cannot be entered; nothing was changed",
	"chmod":          "the node could not change its mode",
	"remove":         "the node could not move it into the backups",
	"no-backup":      "the run's backup of it is not on the node (pruned there, or not a regular file); nothing was changed",
	"no-dir":         "its directory is not on the node; nothing was changed",
}

// sudoRefused says what a node user refused by sudo -n needs.
const sudoRefused = " (the node user is not root: the system's units are changed through sudo -n, which needs sudo without a password for this user)"

func parseWrites(out []byte, backupDir string, ops []RemoteWrite) ([]RemoteResult, error) {
	var res []RemoteResult
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if f[0] == "END" {
			return res, nil
		}
		if len(f) < 2 {
			continue
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 0 || i >= len(ops) {
			continue
		}
		r := RemoteResult{Index: i, Path: ops[i].label()}
		switch f[0] {
		case "OK":
			r.Status = "ok"
			if len(f) > 2 && f[2] == "B" {
				r.Backup = path.Join(backupDir, ops[i].Path)
			}
		case "SKIP":
			r.Status = "skipped"
		case "GONE":
			r.Status = "gone"
		case "CHANGED":
			r.Status = "changed"
		case "FAIL":
			r.Status = "failed"
			if len(f) > 2 {
				r.Reason = writeFailures[f[2]]
				if why, ok := systemWriteFailures[f[2]]; ok && path.IsAbs(ops[i].Path) {
					r.Reason = why
				}
				switch {
				case r.Reason != "":
				case strings.HasPrefix(f[2], "sudo -n: "):
					r.Reason = f[2] + sudoRefused
				default:
					r.Reason = f[2]
				}
			}
		default:
			continue
		}
		res = append(res, r)
	}
	return res, &RemoteError{Kind: ErrRemote, Detail: "the session ended before the node confirmed every file"}
}
