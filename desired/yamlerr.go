package desired

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// yaml.v3 names the line where the construct the parser was in began (a
// block mapping that started lines above) rather than the line it choked
// on, and never a column. locateYAMLError finds the line: the first line
// whose prefix of the document no longer parses, with the same problem;
// and a column on it: where the problem's character is.

// maxLocateLines bounds how many lines are tried, each a parse of a prefix
// of one document: an error path only, on documents people write.
const maxLocateLines = 2000

// syntaxProblem is a located YAML syntax error.
type syntaxProblem struct {
	line, col int // 1-based; 0 when unknown
	msg       string
}

// locateYAMLError locates a yaml.v3 syntax error ("yaml: line N: msg") in
// data, the whole file the error came from.
func locateYAMLError(data []byte, err error) syntaxProblem {
	reported, msg := splitYAMLError(err)
	p := syntaxProblem{line: reported, msg: msg}
	if reported <= 0 {
		return p
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if reported > len(lines) {
		return p
	}
	// The document the reported line is in: from the "---" at or above it
	// to the next one. The problem is at or below the reported line.
	start := 0
	for i := reported - 1; i >= 0; i-- {
		if isDocumentStart(lines[i]) {
			start = i
			break
		}
	}
	end := len(lines)
	for i := reported; i < len(lines); i++ {
		if isDocumentStart(lines[i]) {
			end = i
			break
		}
	}
	first := 0 // the first line whose prefix fails at all: the fallback
	for k := reported; k <= end && k-reported < maxLocateLines; k++ {
		prefix := bytes.Join(lines[start:k], nil)
		var n yaml.Node
		perr := yaml.Unmarshal(prefix, &n)
		if perr == nil {
			continue
		}
		if first == 0 {
			first = k
		}
		if _, m := splitYAMLError(perr); m == msg {
			p.line = k
			break
		}
	}
	if p.line == reported && first != 0 && first != reported {
		p.line = first
	}
	if p.line >= 1 && p.line <= len(lines) {
		text := strings.TrimRight(string(lines[p.line-1]), "\r\n")
		p.col = problemColumn(text, msg)
		if at := unquotedTemplate(text); at >= 0 {
			p.col = at + 1
			p.msg += `; a value that starts with a template must be quoted, as in key: "{{ ... }}"`
		}
	}
	return p
}

// splitYAMLError splits "yaml: line N: msg" into N and msg.
func splitYAMLError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.IndexByte(msg, ':')+1:])
	}
	return line, msg
}

// problemColumn guesses, from the problem, the 1-based column of a line
// where it is: a tab or a character no token starts with, the second
// mapping value's colon, else the first character of the line's content.
func problemColumn(line, msg string) int {
	switch {
	case strings.Contains(msg, "found character that cannot start any token"),
		strings.Contains(msg, "found a tab character"):
		content := strings.TrimLeft(line, " ")
		if i := strings.IndexAny(content, "\t@`%"); i >= 0 {
			return len(line) - len(content) + i + 1
		}
	case strings.Contains(msg, "expected ',' or '}'"), strings.Contains(msg, "expected ',' or ']'"):
		// A flow collection not closed: where it opens.
		open := byte('{')
		if strings.HasSuffix(msg, "']'") {
			open = '['
		}
		if i := strings.IndexByte(line, open); i >= 0 {
			return i + 1
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		if i := strings.Index(line, ": "); i >= 0 {
			if j := strings.Index(line[i+2:], ":"); j >= 0 {
				return i + 2 + j + 1
			}
		}
	}
	return len(line) - len(strings.TrimLeft(line, " \t")) + 1
}

// unquotedTemplate returns where a line holds a value that starts with
// "{{" outside quotes and comments (YAML reads it as a flow mapping), or
// -1. Inside a plain value ("http://x/{{ .path }}") it is no problem.
func unquotedTemplate(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return -1 // a comment
		case c == '{' && i+1 < len(line) && line[i+1] == '{' && startsValue(line[:i]):
			return i
		}
	}
	return -1
}

// templateHint is what to add to a type error at a node that is an
// unquoted template: {{ .x }} parses as a mapping whose key is a mapping.
func templateHint(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle != 0 && len(n.Content) > 0 &&
		n.Content[0].Kind == yaml.MappingNode && n.Content[0].Style&yaml.FlowStyle != 0 {
		return `; it reads as a template written without quotes: quote the value, as in key: "{{ ... }}"`
	}
	return ""
}

// startsValue says whether what follows before ends where a value begins:
// after "key:", "- ", "[", "{", "," or the indentation.
func startsValue(before string) bool {
	t := strings.TrimRight(before, " \t")
	if t == "" {
		return true
	}
	switch t[len(t)-1] {
	case ':', '-', '[', '{', ',':
		return true
	}
	return false
}
