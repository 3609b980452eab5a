package drift

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// SecretSentinel is what the twin of a catalog renders in place of every
// secret (desired.LoadTwin): a word that no encoder changes (XML, YAML,
// JSON, URL), so a line of a render that differs from the same line of
// the twin's render is one that took a value from a secret.
const SecretSentinel = "SanctumSecretSentinel7Q"

// Masked lines of a secret diff: the line as the twin renders it, each
// secret as ***, or its indentation and *** when the twin has no such line.
const (
	secretMask    = "***"
	noteChanged   = " (secret changed)"
	noteUnchanged = " (secret unchanged)"
)

// Markers that keep a changed masked line different from its masked
// counterpart on the other side, so that the diff shows the change; they
// become the notes once the diff is made.
const (
	markBefore    = "\x00secret-"
	markAfter     = "\x00secret+"
	markUnchanged = "\x00secret="
	markBeforeEq  = "\x00secret-="
	markAfterEq   = "\x00secret+="
)

// maxSecretDiffCells bounds the line alignment of a secret diff (lines
// before times lines after); beyond it the diff is withheld.
const maxSecretDiffCells = 4 << 20

// SecretDiff is Diff for a secret-bearing target, masked by position, not
// by value. twin is the target as the twin catalog renders it (nil when
// there is none): a line of new that the twin renders differently took a
// value from a secret. Such a line shows as its twin with each secret as
// ***; a line of old shows as *** when it sits in a changed hunk that
// holds or borders a secret line of new, at the key of one (a YAML key, the
// line after a plist <key>), or inside a <string> so masked. With no twin
// every changed line is masked. Notes say "(secret changed)" or "(secret
// unchanged)". However an old value was spelt, no line that held it shows.
func SecretDiff(path string, old, new, twin []byte) string {
	return secretUnified(side("a", path), side("b", path), old, new, twin, false)
}

// SecretDiffOld is SecretDiff for a target whose old bytes held a secret
// whose place is unknown: a file written when it took a secret that was
// since rotated, or is no longer templated into it. Every changed line of
// old is masked; new is masked by its twin as SecretDiff masks it (a
// twin equal to new: nothing of new is).
func SecretDiffOld(path string, old, new, twin []byte) string {
	return secretUnified(side("a", path), side("b", path), old, new, twin, true)
}

// SecretCreatedDiff is CreatedDiff for a secret-bearing target, masked as
// SecretDiff masks.
func SecretCreatedDiff(path string, new, twin []byte) string {
	return secretUnified("/dev/null", side("b", path), nil, new, twin, false)
}

// SecretDeletedDiff is DeletedDiff for a file that held a secret: every
// line is masked, whatever value it held.
func SecretDeletedDiff(path string, old []byte) string {
	return secretUnified(side("a", path), "/dev/null", old, nil, nil, true)
}

func secretUnified(from, to string, old, new, twin []byte, oldAll bool) string {
	if bytes.Equal(old, new) {
		return ""
	}
	o, oEnd := splitLines(old)
	n, nEnd := splitLines(new)
	tw, _ := splitLines(twin)
	if len(o)*len(n) > maxSecretDiffCells || len(n)*len(tw) > maxSecretDiffCells {
		return fmt.Sprintf("--- %s\n+++ %s\n@@ secret-bearing: %d lines before, %d after, not shown @@\n", from, to, len(o), len(n))
	}
	all := twin == nil
	secret := make([]bool, len(n))
	shown := make([]string, len(n))
	twinOf := make([]string, len(n)) // the twin's line of a secret line, if paired
	if !all {
		mn, _ := alignLines(n, tw)
		eachHunk(mn, len(tw), func(a0, a1, b0, b1 int) {
			for k := a0; k < a1; k++ {
				secret[k] = true
				if b0+k-a0 < b1 {
					twinOf[k] = tw[b0+k-a0]
					shown[k] = strings.ReplaceAll(twinOf[k], SecretSentinel, secretMask)
				} else {
					shown[k] = indent(n[k]) + secretMask
				}
			}
		})
	}
	mo, mnOld := alignLines(o, n)
	if all {
		for j := range n {
			if mnOld[j] < 0 {
				secret[j], shown[j] = true, indent(n[j])+secretMask
			}
		}
	}
	outNew := make([]string, len(n))
	for j := range n {
		switch {
		case !secret[j]:
			outNew[j] = n[j]
		case mnOld[j] >= 0:
			outNew[j] = shown[j] + markUnchanged
		default:
			outNew[j] = shown[j] + markAfter
		}
	}
	keys, after := secretKeys(tw)
	outOld := make([]string, len(o))
	masked := make([]bool, len(o))
	for i := range o {
		if mo[i] >= 0 {
			outOld[i] = outNew[mo[i]]
		} else {
			outOld[i] = o[i]
		}
	}
	eachHunk(mo, len(n), func(a0, a1, b0, b1 int) {
		touches := all || oldAll || (b0 > 0 && secret[b0-1]) || (b1 < len(n) && secret[b1])
		for j := b0; j < b1 && !touches; j++ {
			touches = secret[j]
		}
		for i := a0; i < a1; i++ {
			if !touches && !keys[yamlKey(o[i])] && (i == 0 || !after[o[i-1]]) {
				continue
			}
			masked[i] = true
			j := b0 + i - a0
			if j < b1 && secret[j] && twinOf[j] != "" {
				// The old line in the twin's frame: what it holds before
				// and after the secret's place shows, so an edit there
				// does; the note says whether the secret itself changed.
				oh, om, ot := frame(o[i], twinOf[j])
				_, nm, _ := frame(n[j], twinOf[j])
				outOld[i] = oh + secretMask + ot + markBefore
				if om == nm {
					outOld[i] = oh + secretMask + ot + markBeforeEq
					if strings.HasSuffix(outNew[j], markAfter) {
						outNew[j] = strings.TrimSuffix(outNew[j], markAfter) + markAfterEq
					}
				}
			} else if j < b1 && secret[j] {
				outOld[i] = shown[j] + markBefore
			} else if key := yamlKey(o[i]); keys[key] {
				outOld[i] = key + " " + secretMask + markBefore
			} else {
				outOld[i] = indent(o[i]) + secretMask + markBefore
			}
		}
	})
	// A masked plist <string> that the file continues on later lines (a
	// multi-line value) is masked to its end.
	for i := 0; i < len(o); i++ {
		if !masked[i] || !strings.Contains(o[i], "<string>") || strings.Contains(o[i], "</string>") {
			continue
		}
		for i++; i < len(o) && mo[i] < 0; i++ {
			masked[i], outOld[i] = true, indent(o[i])+secretMask+markBefore
			if strings.Contains(o[i], "</string>") {
				break
			}
		}
	}
	d := udiff.Unified(from, to, joinLines(outOld, oEnd), joinLines(outNew, nEnd))
	if d == "" {
		return fmt.Sprintf("--- %s\n+++ %s\n@@ secret-bearing: differs in line endings only @@\n", from, to)
	}
	if !strings.HasSuffix(d, "\n") {
		d += "\n"
	}
	return strings.NewReplacer(markBeforeEq, noteUnchanged, markAfterEq, noteUnchanged,
		markBefore, noteChanged, markAfter, noteChanged, markUnchanged, noteUnchanged).Replace(d)
}

// frame splits a line at the place of the secrets in its twin's line: the
// head it shares with the twin before the first secret, the tail from the
// last place the text that follows the last secret in the twin (its first
// 8 bytes) occurs, and the middle between them, which holds the secret.
// Head and tail never hold a secret: the head is the twin's own text, and
// the tail begins after the secret's end as the twin delimits it.
func frame(line, twin string) (head, mid, tail string) {
	k := strings.Index(twin, SecretSentinel)
	if k < 0 {
		return indent(line), line[len(indent(line)):], ""
	}
	h := 0
	for h < k && h < len(line) && line[h] == twin[h] {
		h++
	}
	head, rest := line[:h], line[h:]
	after := twin[strings.LastIndex(twin, SecretSentinel)+len(SecretSentinel):]
	if anchor := after[:min(8, len(after))]; anchor != "" {
		if i := strings.LastIndex(rest, anchor); i >= 0 {
			return head, rest[:i], rest[i:]
		}
	}
	return head, rest, ""
}

// secretKeys are the positions of the twin's secret lines that a line of
// the file on the host can be recognised by: their YAML keys, and the
// lines just before them (a plist's <key>) when those hold no secret.
func secretKeys(tw []string) (keys, after map[string]bool) {
	keys, after = make(map[string]bool), make(map[string]bool)
	for k, line := range tw {
		if !strings.Contains(line, SecretSentinel) {
			continue
		}
		if key := yamlKey(line); key != "" && !strings.Contains(key, SecretSentinel) {
			keys[key] = true
		}
		if k > 0 && !strings.Contains(tw[k-1], SecretSentinel) && strings.TrimSpace(tw[k-1]) != "" {
			after[tw[k-1]] = true
		}
	}
	delete(keys, "")
	return keys, after
}

var yamlKeyRE = regexp.MustCompile(`^\s*(?:- )?(?:[A-Za-z0-9_./-]+|"[^"\n]*"|'[^'\n]*'):(?:\s|$)`)

// yamlKey is a line's indentation and YAML mapping key ("  liveness:"), or "".
func yamlKey(line string) string {
	return strings.TrimRight(yamlKeyRE.FindString(line), " \t")
}

func indent(line string) string { return line[:len(line)-len(strings.TrimLeft(line, " \t"))] }

// splitLines splits b into lines without their newlines, and says whether
// the last one ended with one.
func splitLines(b []byte) ([]string, bool) {
	if len(b) == 0 {
		return nil, true
	}
	s := string(b)
	end := strings.HasSuffix(s, "\n")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n"), end
}

func joinLines(lines []string, end bool) string {
	if len(lines) == 0 {
		return ""
	}
	s := strings.Join(lines, "\n")
	if end {
		s += "\n"
	}
	return s
}

// alignLines is a longest common subsequence of two line lists: for each
// line of a the index of its partner in b or -1, and the same for b.
func alignLines(a, b []string) (ma, mb []int) {
	ma, mb = make([]int, len(a)), make([]int, len(b))
	for i := range ma {
		ma[i] = -1
	}
	for j := range mb {
		mb[j] = -1
	}
	lo := 0
	for lo < len(a) && lo < len(b) && a[lo] == b[lo] {
		ma[lo], mb[lo] = lo, lo
		lo++
	}
	ha, hb := len(a), len(b)
	for ha > lo && hb > lo && a[ha-1] == b[hb-1] {
		ha, hb = ha-1, hb-1
		ma[ha], mb[hb] = hb, ha
	}
	ra, rb := a[lo:ha], b[lo:hb]
	w := len(rb) + 1
	t := make([]int32, (len(ra)+1)*w)
	for i := len(ra) - 1; i >= 0; i-- {
		for j := len(rb) - 1; j >= 0; j-- {
			if ra[i] == rb[j] {
				t[i*w+j] = t[(i+1)*w+j+1] + 1
			} else {
				t[i*w+j] = max(t[(i+1)*w+j], t[i*w+j+1])
			}
		}
	}
	for i, j := 0, 0; i < len(ra) && j < len(rb); {
		switch {
		case ra[i] == rb[j]:
			ma[lo+i], mb[lo+j] = lo+j, lo+i
			i, j = i+1, j+1
		case t[(i+1)*w+j] >= t[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	return ma, mb
}

// eachHunk calls fn with every run of unpartnered lines of a, [a0, a1),
// and the run of b between the same partnered lines, [b0, b1); either may
// be empty, not both.
func eachHunk(ma []int, lenB int, fn func(a0, a1, b0, b1 int)) {
	i, j := 0, 0
	for {
		a0, b0 := i, j
		for i < len(ma) && ma[i] < 0 {
			i++
		}
		b1 := lenB
		if i < len(ma) {
			b1 = ma[i]
		}
		if a0 < i || b0 < b1 {
			fn(a0, i, b0, b1)
		}
		if i >= len(ma) {
			return
		}
		j = ma[i] + 1
		i++
	}
}
