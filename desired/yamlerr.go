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
		if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
			// An alias to an anchor never defined: yaml.v3 names no line.
			p.line, p.col = findAlias(data, strings.TrimSuffix(name, "' referenced"))
		}
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
	if q, ok := unclosedQuote(lines, start, end, p); ok {
		return q
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

// endOfStream is yaml.v3's problem with a text that ends inside a quoted
// value.
const endOfStream = "found unexpected end of stream"

// unclosedQuote recognises a quoted value left open: a quoted value may
// run over lines, so YAML reads on past the line where the closing quote
// was forgotten and stops further down (at the next quote, or the end of
// the document), where p is. When every prefix of the document from some
// line down to p's line ends inside a quoted value, and that line opens a
// quote it does not close, the problem is that quote: it is located there,
// saying where YAML stopped.
func unclosedQuote(lines [][]byte, start, end int, p syntaxProblem) (syntaxProblem, bool) {
	if p.line <= start || p.line > end {
		return p, false
	}
	fails := func(k int) bool {
		var n yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[start:k], nil), &n)
		if err == nil {
			return false
		}
		_, m := splitYAMLError(err)
		return m == endOfStream
	}
	k := p.line
	if !fails(k) {
		k--
	}
	open := 0
	for ; k > start && p.line-k < maxLocateLines && fails(k); k-- {
		open = k
	}
	if open == 0 {
		return p, false
	}
	text := strings.TrimRight(string(lines[open-1]), "\r\n")
	col := openQuote(text)
	if col < 0 {
		return p, false
	}
	stop := p.line
	if p.msg == "found unexpected document indicator" || p.msg == endOfStream {
		stop = end + 1 // the next document's "---", or the end of the file
	}
	where := fmt.Sprintf("line %d", stop)
	if stop > len(lines) || (stop == len(lines) && len(bytes.TrimSpace(lines[stop-1])) == 0) {
		where = "the end of the file"
	}
	return syntaxProblem{line: open, col: col + 1, msg: fmt.Sprintf(
		"the quoted value that starts here is not closed: YAML reads on to %s and stops there (%s); close the quote on this line", where, p.msg)}, true
}

// openQuote returns where a line opens a quote (" or ') it does not
// close, outside comments, or -1. A quote inside a plain value
// (it's) opens nothing.
func openQuote(line string) int {
	at, quote := -1, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++ // an escape
		case quote == '\'' && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++ // '' is a quote inside single quotes
		case quote != 0:
			if c == quote {
				quote, at = 0, -1
			}
		case (c == '"' || c == '\'') && startsValue(line[:i]):
			quote, at = c, i
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return -1
		}
	}
	return at
}

// afterQuoted returns where text follows a closed quoted value on a line
// (key: "a" b), outside comments, or -1.
func afterQuoted(line string) int {
	quote, closed := byte(0), false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				if quote == '\'' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				quote, closed = 0, true
			}
		case closed && (c == ' ' || c == '\t'):
		case closed && c == '#':
			return -1
		case closed && c != ',' && c != ']' && c != '}' && c != ':':
			return i
		case c == '"' || c == '\'':
			if startsValue(line[:i]) {
				quote = c
			}
			closed = false
		default:
			closed = false
		}
	}
	return -1
}

// findAlias locates the first alias *name (1-based line and column), or
// 0, 0.
func findAlias(data []byte, name string) (line, col int) {
	for i, text := range strings.Split(string(data), "\n") {
		for from := 0; ; {
			j := strings.Index(text[from:], "*"+name)
			if j < 0 {
				break
			}
			j += from
			end := j + 1 + len(name)
			if (j == 0 || strings.ContainsRune(" \t[{,:-", rune(text[j-1]))) &&
				(end == len(text) || strings.ContainsRune(" \t]},#\r", rune(text[end]))) {
				return i + 1, j + 1
			}
			from = j + 1
		}
	}
	return 0, 0
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
	case msg == "did not find expected key":
		// Text after a closed quoted value ("a" b): where it starts.
		if i := afterQuoted(line); i >= 0 {
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
