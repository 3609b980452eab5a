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
	re   *regexp.Regexp
}{
	{"a private key", regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----`)},
	{"an Anthropic API key", regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`)},
	{"an OpenAI-style API key", regexp.MustCompile(`\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}`)},
	{"a GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})`)},
	{"an AWS access key id", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"a Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"a bearer token", regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*`)},
	{"a password in a URL", regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
}

// SecretMaterial finds the first obvious secret in b and says what it looks
// like and on which line (1-based); ok is false when there is none.
func SecretMaterial(b []byte) (what string, line int, ok bool) {
	first := -1
	for _, s := range secretShapes {
		if loc := s.re.FindIndex(b); loc != nil && (first < 0 || loc[0] < first) {
			first, what = loc[0], s.what
		}
	}
	if first < 0 {
		return "", 0, false
	}
	return what, bytes.Count(b[:first], []byte("\n")) + 1, true
}
