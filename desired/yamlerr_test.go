package desired

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// TestLocateYAMLError: yaml.v3 names the line where the construct began;
// the problem's own line and column are found.
func TestLocateYAMLError(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want syntaxProblem
	}{
		{name: "a key indented off its mapping",
			src:  "a: 1\nb:\n  c: 1\n  d: 2\n e: 3\n",
			want: syntaxProblem{line: 5, col: 2, msg: "did not find expected key"}},
		{name: "in the second document, lines counted in the file",
			src:  "a: 1\n---\nb:\n  c: 1\n  d: 2\n e: 3\n",
			want: syntaxProblem{line: 6, col: 2, msg: "did not find expected key"}},
		{name: "a second mapping value on one line",
			src:  "a: 1\nb: c: d\n",
			want: syntaxProblem{line: 2, col: 5, msg: "mapping values are not allowed in this context"}},
		{name: "a tab where indentation is",
			src:  "a:\n\tb: 1\n",
			want: syntaxProblem{line: 2, col: 1, msg: "found character that cannot start any token"}},
		{name: "a flow mapping never closed",
			src:  "instance: {slug: t\npaths: [\n",
			want: syntaxProblem{line: 1, col: 11, msg: "did not find expected ',' or '}'"}},
		{name: "an unquoted template",
			src:  "spec:\n  host: mac\n  displayName: {{ .x }} voice\n",
			want: syntaxProblem{line: 3, col: 16, msg: `did not find expected key; a value that starts with a template must be quoted, as in key: "{{ ... }}"`}},
		{name: "a double quote not closed, stopped by the next quote",
			src:  "spec:\n  host: \"mac\n  port: 1\n  args: [\"x\"]\n",
			want: syntaxProblem{line: 2, col: 9, msg: "the quoted value that starts here is not closed: YAML reads on to line 4 and stops there (did not find expected key); close the quote on this line"}},
		{name: "a single quote not closed, stopped by the next document",
			src:  "a: 1\nb: 'x\nc: 2\n---\nd: 1\n",
			want: syntaxProblem{line: 2, col: 4, msg: "the quoted value that starts here is not closed: YAML reads on to line 4 and stops there (found unexpected document indicator); close the quote on this line"}},
		{name: "a quote not closed at the end of the file",
			src:  "a: 1\nb: \"x\nc: 2\n",
			want: syntaxProblem{line: 2, col: 4, msg: "the quoted value that starts here is not closed: YAML reads on to the end of the file and stops there (found unexpected end of stream); close the quote on this line"}},
		{name: "a quoted value over two lines is no problem: the error below is",
			src:  "a: \"x\n  y\"\nb: 1\n c: 2\n",
			want: syntaxProblem{line: 4, col: 2, msg: "mapping values are not allowed in this context"}},
		{name: "text after a quoted value",
			src:  "spec:\n  host: mac\n  name: \"a\" b\n",
			want: syntaxProblem{line: 3, col: 13, msg: "did not find expected key"}},
		{name: "an alias to no anchor",
			src:  "a: &x 1\nb: [*x, *y]\n",
			want: syntaxProblem{line: 2, col: 9, msg: "unknown anchor 'y' referenced"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every document, as the loader parses them.
			dec := yaml.NewDecoder(strings.NewReader(tt.src))
			var err error
			for err == nil {
				var n yaml.Node
				err = dec.Decode(&n)
			}
			if errors.Is(err, io.EOF) {
				t.Fatalf("%q parsed", tt.src)
			}
			got := locateYAMLError([]byte(tt.src), err)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(syntaxProblem{})); diff != "" {
				t.Errorf("locateYAMLError (-want +got):\n%s\n(yaml.v3 said %v)", diff, err)
			}
		})
	}
}

func TestOpenQuote(t *testing.T) {
	for line, want := range map[string]int{
		`  host: "mac`:          8,
		`  host: 'mac`:          8,
		`  host: "mac"`:         -1,
		`  name: it's`:          -1, // inside a plain value
		`  name: 'it''s`:        8,
		`  name: 'it''s'`:       -1,
		`  name: "a \" b`:       8,
		`  - "x`:                4,
		`  a: 1 # "not a value`: -1,
	} {
		if got := openQuote(line); got != want {
			t.Errorf("openQuote(%q) = %d, want %d", line, got, want)
		}
	}
}

func TestUnquotedTemplate(t *testing.T) {
	for line, want := range map[string]int{
		`  port: {{ .x }}`:            8,
		`  port: "{{ .x }}"`:          -1,
		`  port: '{{ .x }}'`:          -1,
		`  port: 1 # {{ .x }}`:        -1,
		`  args: ["a", {{ .x }}]`:     14,
		`  url: http://x/{{ .path }}`: -1, // inside a plain value: fine
		`{{ .x }}: 1`:                 0,
	} {
		if got := unquotedTemplate(line); got != want {
			t.Errorf("unquotedTemplate(%q) = %d, want %d", line, got, want)
		}
	}
}
