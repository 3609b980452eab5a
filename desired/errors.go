package desired

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Error is one problem with the catalog, located in its file.
type Error struct {
	File   string // catalog-relative, e.g. sanctum/catalog.yaml
	Line   int
	Column int
	Object string // Kind/name when known
	Field  string // field path such as spec.dependsOn[0]
	Msg    string
	// Cause is the error behind Msg when callers decide on it
	// (ErrHomeMissing); nil otherwise.
	Cause error `json:"-"`
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Cause }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// locator finds where a field path is in an object's document.
type locator interface {
	locate(path string) (line, col int)
}

// nodeLocator locates in a whole document tree.
type nodeLocator struct{ root *yaml.Node }

func (n nodeLocator) locate(p string) (int, int) { return locate(n.root, p) }

// posIndex keeps the positions of an object's shallow fields (metadata.name,
// spec.port, spec.dependsOn[1], ...) once its tree is gone: checks across
// objects run after every document was decoded, and keeping every tree for
// them would cost more memory than the objects themselves.
type posIndex struct {
	line, col int
	at        map[string][2]int
}

// indexDepth is how deep posIndex looks: deep enough for every path the
// cross-object checks report.
const indexDepth = 4

// indexed are the fields whose positions the cross-object checks report
// (list items under them are kept too; * stands for any list index):
// nothing else is worth the memory.
var indexed = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{"metadata", "metadata.name", "spec", "spec.port", "spec.instanceKey", "spec.dependsOn",
		"spec.launchAgent", "spec.launchAgent.label", "spec.launchAgent.fileName", "spec.label", "spec.fileName",
		"spec.nodes", "spec.receives", "spec.receives.personas", "spec.catalogHost",
		"spec.programArguments", "spec.launchAgent.programArguments", "spec.wrapper", "spec.wrapper.target",
		"spec.helpers", "spec.helpers.*.name", "spec.helpers.*.source",
		"spec.source", "spec.source.catalog", "spec.files", "spec.allowSecrets"} {
		m["\x00"+strings.ReplaceAll(p, ".", "\x00")] = true
	}
	return m
}()

func indexPositions(doc *yaml.Node) *posIndex {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	x := &posIndex{line: n.Line, col: n.Column, at: make(map[string][2]int)}
	// key is the path with list indexes, pattern the same with * for them.
	var walk func(n *yaml.Node, key, pattern string, depth int)
	walk = func(n *yaml.Node, key, pattern string, depth int) {
		if depth == 0 {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := pattern + "\x00" + n.Content[i].Value
				if !indexed[p] {
					continue
				}
				next, at := child(n, n.Content[i].Value)
				if next == nil {
					continue
				}
				k := key + "\x00" + n.Content[i].Value
				x.at[k] = [2]int{at.Line, at.Column}
				walk(next, k, p, depth-1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				k := key + "\x00" + strconv.Itoa(i)
				x.at[k] = [2]int{c.Line, c.Column}
				walk(c, k, pattern+"\x00*", depth-1)
			}
		}
	}
	walk(n, "", "", indexDepth)
	return x
}

func (x *posIndex) locate(p string) (int, int) {
	segs := splitPath(p)
	for k := len(segs); k > 0; k-- {
		if v, ok := x.at["\x00"+strings.Join(segs[:k], "\x00")]; ok {
			return v[0], v[1]
		}
	}
	return x.line, x.col
}

// fieldErrors turns validation errors into located errors.
func fieldErrors(file, object string, where locator, errs field.ErrorList) []*Error {
	out := make([]*Error, 0, len(errs))
	for _, fe := range errs {
		line, col := where.locate(fe.Field)
		msg := fe.ErrorBody() + unsupportedHint(fe)
		out = append(out, &Error{File: file, Line: line, Column: col, Object: object, Field: fe.Field, Msg: msg})
	}
	return out
}

// quoted are the quoted values of a field.NotSupported detail
// (supported values: "mac", "vm").
var quoted = regexp.MustCompile(`"([^"\\]*)"`)

// unsupportedHint is " (did you mean "x"?)" for a value not among the
// supported ones when one of them is close, else "".
func unsupportedHint(fe *field.Error) string {
	bad, ok := fe.BadValue.(string)
	if fe.Type != field.ErrorTypeNotSupported || !ok || !strings.HasPrefix(fe.Detail, "supported values: ") {
		return ""
	}
	var supported []string
	for _, m := range quoted.FindAllStringSubmatch(fe.Detail, -1) {
		supported = append(supported, m[1])
	}
	return DidYouMean(bad, supported)
}

// locate finds the position of a field path such as spec.dependsOn[0] or
// services[voice_agent].port in a decoded document; when the path does not
// exist (a required field is missing) it returns the deepest node that does.
func locate(root *yaml.Node, path string) (int, int) {
	if root == nil {
		return 0, 0
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, col := n.Line, n.Column
	for _, seg := range splitPath(path) {
		next, at := child(n, seg)
		if next == nil {
			break
		}
		n = next
		line, col = at.Line, at.Column
	}
	return line, col
}

// child descends one segment and returns the node to descend further and the
// node whose position to report: a scalar points at itself, a nested block at
// its key, which is where a reader looks.
func child(n *yaml.Node, seg string) (next, at *yaml.Node) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				v := n.Content[i+1]
				if v.Kind == yaml.ScalarNode || v.Style&yaml.FlowStyle != 0 {
					return v, v
				}
				return v, n.Content[i]
			}
		}
	case yaml.SequenceNode:
		if idx, err := strconv.Atoi(seg); err == nil && idx >= 0 && idx < len(n.Content) {
			return n.Content[idx], n.Content[idx]
		}
	}
	return nil, nil
}

// splitPath splits "spec.a[0].b[key]" into spec, a, 0, b, key.
func splitPath(p string) []string {
	var segs []string
	for len(p) > 0 {
		switch p[0] {
		case '.':
			p = p[1:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return append(segs, p[1:])
			}
			segs = append(segs, p[1:end])
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				return append(segs, p)
			}
			segs = append(segs, p[:end])
			p = p[end:]
		}
	}
	return segs
}
