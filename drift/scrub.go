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
	secretAssign = regexp.MustCompile(`(?i)\b([A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY)[A-Z0-9_]*\s*[=:]\s*["']?)[^\s"'&]+`)
)

// Scrub masks known secret values (through the redactor) and obvious token
// shapes in text shown by status and graph.
func (r *Redactor) Scrub(s string) string {
	s = r.String(s)
	// A value assigned to a secret-looking name (API_TOKEN=...) is masked
	// wherever else it shows too, such as a command's echo of it.
	var values []string
	for _, m := range secretAssign.FindAllStringSubmatchIndex(s, -1) {
		if v := s[m[3]:m[1]]; len(v) >= 6 {
			values = append(values, v)
		}
	}
	for _, v := range values {
		s = strings.ReplaceAll(s, v, Mask)
	}
	for _, re := range scrubShapes {
		s = re.ReplaceAllString(s, Mask)
	}
	s = bearerShape.ReplaceAllString(s, "${1}"+Mask)
	s = urlPassword.ReplaceAllString(s, "${1}"+Mask+"${2}")
	s = secretParam.ReplaceAllString(s, "${1}"+Mask)
	s = secretAssign.ReplaceAllString(s, "${1}"+Mask)
	return s
}
