package drift

import (
	"regexp"
	"strings"
)

// scrubShapes are token shapes masked in what status and graph print,
// whether or not the value is a known secret: keys, bearer tokens,
// passwords in URLs, token-like query parameters and assignments.
var scrubShapes = []*regexp.Regexp{
	regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)`),
	regexp.MustCompile(`\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}`),
	regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`),
	regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`),
	regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`),
	regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`),
}

var (
	bearerShape  = regexp.MustCompile(`(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}`)
	urlPassword  = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(@)`)
	secretParam  = regexp.MustCompile(`(?i)([?&](?:token|access_token|api_key|apikey|key|secret|password|passwd|auth)=)[^&\s'"]+`)
	secretAssign = regexp.MustCompile(`(?i)\b([a-z0-9_]*(?:token|secret|password|passwd|api_key|apikey)[a-z0-9_]*"?\s*[=:]\s*)("[^"\n]*"|'[^'\n]*'|[^\s"'&,}]+)`)
)

// Scrub masks known secret values (through the redactor) and obvious token
// shapes in text shown by status and graph.
func (r *Redactor) Scrub(s string) string {
	s = r.String(s)
	// A value assigned to a secret-looking name (API_TOKEN=..., "api_key":
	// "...", PASSWORD="two words") is masked, quotes kept, and wherever
	// else it shows too, such as a command's echo of it.
	var values []string
	s = secretAssign.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretAssign.FindStringSubmatch(m)
		v, q := sub[2], ""
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			q, v = v[:1], v[1:len(v)-1]
		}
		if v == "" || v == Mask {
			return m
		}
		if len(v) >= 6 {
			values = append(values, v)
		}
		return sub[1] + q + Mask + q
	})
	for _, v := range values {
		s = strings.ReplaceAll(s, v, Mask)
	}
	for _, re := range scrubShapes {
		s = re.ReplaceAllString(s, Mask)
	}
	s = bearerShape.ReplaceAllString(s, "${1}"+Mask)
	s = urlPassword.ReplaceAllString(s, "${1}"+Mask+"${2}")
	s = secretParam.ReplaceAllString(s, "${1}"+Mask)
	return s
}
