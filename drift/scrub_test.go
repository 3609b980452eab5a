package drift

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScrub(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{name: "no secrets unchanged",
			in:   "GET http://127.0.0.1:8080/health: status 503",
			want: "GET http://127.0.0.1:8080/health: status 503"},
		{name: "empty", in: "", want: ""},
		{name: "plain prose unchanged",
			in:   "port 127.0.0.1:2000: connection refused",
			want: "port 127.0.0.1:2000: connection refused"},
		{name: "known secret value",
			secrets: []string{"hunter2hunter2"},
			in:      "command \"curl -u me:hunter2hunter2 x\" failed",
			want:    "command \"curl -u me:*** x\" failed"},
		{name: "known secret everywhere",
			secrets: []string{"zebra-42"},
			in:      "zebra-42 and again zebra-42",
			want:    "*** and again ***"},
		{name: "longer known secret masked whole",
			secrets: []string{"abc", "abcdef"},
			in:      "x abcdef y abc",
			want:    "x *** y ***"},
		{name: "empty known secret ignored",
			secrets: []string{""},
			in:      "nothing here",
			want:    "nothing here"},
		{name: "bearer token",
			in:   "Authorization: Bearer abcdefgh12345678",
			want: "Authorization: Bearer ***"},
		{name: "bearer lower case",
			in:   "header authorization: bearer abcdefgh12345678 sent",
			want: "header authorization: bearer *** sent"},
		{name: "bearer too short is left",
			in:   "Bearer abc",
			want: "Bearer abc"},
		{name: "password in url",
			in:   "GET http://user:pw@host/: refused",
			want: "GET http://user:***@host/: refused"},
		{name: "password in https url with port",
			in:   "https://admin:s3cret@example.org:8443/x",
			want: "https://admin:***@example.org:8443/x"},
		{name: "url user without password unchanged",
			in:   "ssh://git@example.org/repo",
			want: "ssh://git@example.org/repo"},
		{name: "token query param",
			in:   "GET http://127.0.0.1:9000/v1?token=abc123 -> status 401",
			want: "GET http://127.0.0.1:9000/v1?token=*** -> status 401"},
		{name: "api_key query param after another",
			in:   "GET http://h/x?a=1&api_key=ZZZZ&b=2",
			want: "GET http://h/x?a=1&api_key=***&b=2"},
		{name: "assignment and its echo",
			in:   "command \"API_TOKEN=s3cr3tvalue sh -c 'echo s3cr3tvalue'\" failed: s3cr3tvalue",
			want: "command \"API_TOKEN=*** sh -c 'echo ***'\" failed: ***"},
		{name: "assignment with colon",
			in:   "password: hunter22 rejected",
			want: "password: *** rejected"},
		{name: "short assigned value masked in place only",
			in:   "SECRET=abc then abc",
			want: "SECRET=*** then abc"},
		{name: "quoted assignment",
			in:   `export OPENAI_API_KEY="qwertyuiop"; echo qwertyuiop`,
			want: `export OPENAI_API_KEY="***"; echo ***`},
		{name: "private key block",
			in:   "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n-----END OPENSSH PRIVATE KEY-----\ndone",
			want: "key:\n***\ndone"},
		{name: "rsa private key block",
			in:   "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
			want: "***"},
		{name: "private key block cut short",
			in:   "start -----BEGIN PRIVATE KEY-----\nMIIEabc\nMIIE",
			want: "start ***"},
		{name: "openai key",
			in:   "using sk-abcdefghijklmnop1234 now",
			want: "using *** now"},
		{name: "anthropic key",
			in:   "key=sk-ant-api03-abcdefghijklmnopqrst",
			want: "key=***"},
		{name: "short sk- is not a key",
			in:   "sk-short",
			want: "sk-short"},
		{name: "github token",
			in:   "remote: ghp_abcdefghijklmnopqrstuvwxyz0123456789 denied",
			want: "remote: *** denied"},
		{name: "github fine-grained token",
			in:   "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
			want: "***"},
		{name: "aws access key",
			in:   "aws id AKIAIOSFODNN7EXAMPLE in use",
			want: "aws id *** in use"},
		{name: "aws key embedded in a word is left",
			in:   "xAKIAIOSFODNN7EXAMPLE",
			want: "xAKIAIOSFODNN7EXAMPLE"},
		{name: "slack token",
			in:   "xoxb-1234567890-abcdef",
			want: "***"},
		{name: "several shapes together",
			secrets: []string{"known-value"},
			in:      "known-value Bearer abcdefgh12345678 http://u:p@h/ AKIAIOSFODNN7EXAMPLE",
			want:    "*** Bearer *** http://u:***@h/ ***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRedactor(tt.secrets).Scrub(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scrub(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestScrubWithoutKnownSecrets: a redactor of no values, and a nil one,
// still mask token shapes.
func TestScrubWithoutKnownSecrets(t *testing.T) {
	const in = "Authorization: Bearer abcdefgh12345678 API_TOKEN=s3cr3tvalue"
	const want = "Authorization: Bearer *** API_TOKEN=***"
	tests := []struct {
		name string
		r    *Redactor
	}{
		{name: "NewRedactor(nil)", r: NewRedactor(nil)},
		{name: "NewRedactor(empty values)", r: NewRedactor([]string{"", ""})},
		{name: "nil *Redactor", r: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(want, tt.r.Scrub(in)); diff != "" {
				t.Errorf("Scrub mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScrubIdempotent: scrubbing scrubbed text changes nothing.
func TestScrubIdempotent(t *testing.T) {
	for _, in := range []string{
		"API_TOKEN=s3cr3tvalue echo s3cr3tvalue",
		"Authorization: Bearer abcdefgh12345678",
		"http://user:pw@host/?token=x&api_key=y",
		"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
	} {
		r := NewRedactor([]string{"s3cr3tvalue"})
		once := r.Scrub(in)
		if diff := cmp.Diff(once, r.Scrub(once)); diff != "" {
			t.Errorf("Scrub(Scrub(%q)) mismatch (-want +got):\n%s", in, diff)
		}
	}
}

// TestScrubQuotedValueWithSpaces: a quoted value assigned to a secret-looking
// name is one value, spaces and all.
func TestScrubQuotedValueWithSpaces(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "double quoted passphrase",
			in:   `PASSWORD="correct horse battery staple"`,
			want: `PASSWORD="***"`},
		{name: "single quoted passphrase",
			in:   `DB_SECRET='open sesame please'`,
			want: `DB_SECRET='***'`},
		{name: "JSON fields",
			in:   `{"api_key": "abcdef123456", "token":"zzzzzzzz", "note": "abcdef123456 again"}`,
			want: `{"api_key": "***", "token":"***", "note": "*** again"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRedactor(nil).Scrub(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scrub(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
