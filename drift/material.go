package drift

import (
	"bytes"
	"regexp"
)

// secretShapes are obvious shapes of secret material: what must never travel
// in a persona file or show in a status page. Each is specific enough that
// prose does not match it by accident.
var secretShapes = []struct {
	what string
	// hints: the regexp can only match where one of these is; most text
	// has none, and is then not scanned at all.
	hints []string
	re    *regexp.Regexp
}{
	{"a private key", []string{"PRIVATE KEY"}, regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----`)},
	{"an Anthropic API key", []string{"sk-ant-"}, regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`)},
	{"an OpenAI-style API key", []string{"sk-"}, regexp.MustCompile(`\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}`)},
	{"a GitHub token", []string{"_", "github_pat_"}, regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})`)},
	{"an AWS access key id", []string{"AKIA", "ASIA"}, regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a Slack token", []string{"xox"}, regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"a Google API key", []string{"AIza"}, regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"a bearer token", []string{"earer", "EARER"}, regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*`)},
	{"a password in a URL", []string{"://"}, regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
}

// SecretMaterial finds the first obvious secret in b and says what it looks
// like and on which line (1-based); ok is false when there is none.
func SecretMaterial(b []byte) (what string, line int, ok bool) {
	first := -1
	for _, s := range secretShapes {
		hinted := false
		for _, h := range s.hints {
			if bytes.Contains(b, []byte(h)) {
				hinted = true
				break
			}
		}
		if !hinted {
			continue
		}
		if loc := s.re.FindIndex(b); loc != nil && (first < 0 || loc[0] < first) {
			first, what = loc[0], s.what
		}
	}
	if first < 0 {
		return "", 0, false
	}
	return what, bytes.Count(b[:first], []byte("\n")) + 1, true
}
