package desired

import (
	"context"
	"fmt"
	"text/template"
	"text/template/parse"
	"time"

	"gopkg.in/yaml.v3"
)

// What one catalog may make a load compute. A catalog is text written by
// people; a loop, a doubling variable or an aliased string must end as a
// located catalog error, at validate time too, never as minutes of CPU or
// gigabytes of memory. These are documented in the issue 13 closing note.
const (
	// MaxTemplateValue bounds every string a template builds (the output
	// of one templated value, and each result of printf, print, println,
	// html, js and urlquery, which is how a variable grows).
	MaxTemplateValue = 1 << 20
	// MaxTemplateSteps bounds, per object, range iterations plus template
	// invocations (each counted as templateCallSteps: recursion grows the
	// stack): the two ways a template repeats. text/template has no step
	// limit of its own, and `range 100000000000` with an empty body writes
	// nothing a capped writer could catch.
	MaxTemplateSteps  = 100_000
	templateCallSteps = 10
	// MaxTemplateTime is a backstop per object for work no step counts
	// (eq over long strings in a loop): checked at every step and call.
	MaxTemplateTime = 500 * time.Millisecond
	// MaxObjectBytes bounds one object's scalars with every YAML alias
	// expanded, counted in bytes (yaml.v3 counts aliases in nodes, so a
	// few big strings aliased many times pass it), and separately the
	// bytes its templates build.
	MaxObjectBytes = 16 << 20
	// MaxPassBytes bounds the same two sums over the whole catalog.
	MaxPassBytes = 256 << 20
)

// BudgetError is a catalog that exceeds one of the budgets above.
type BudgetError struct{ Msg string }

func (e *BudgetError) Error() string { return e.Msg }

// budget counts one load's work: per object (reset by object) and per pass.
type budget struct {
	ctx      context.Context
	now      func() time.Time
	deadline time.Time
	steps    int
	bytes    int64 // template-built bytes of the current object
	pass     int64 // template-built bytes of the load
	expanded int64 // alias-expanded bytes of the load's objects
}

func newBudget(ctx context.Context) *budget {
	return &budget{ctx: ctx, now: time.Now}
}

// object starts the template budget of one object.
func (b *budget) object() {
	b.steps, b.bytes = 0, 0
	b.deadline = b.now().Add(MaxTemplateTime)
}

// check is called at every step and every counted call.
func (b *budget) check() error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	if b.now().After(b.deadline) {
		return &BudgetError{fmt.Sprintf("takes more than %v to render (the time budget of one object)", MaxTemplateTime)}
	}
	return nil
}

// step counts one range iteration; call one template invocation.
func (b *budget) step() (string, error) { return b.count(1) }
func (b *budget) call() (string, error) { return b.count(templateCallSteps) }

func (b *budget) count(n int) (string, error) {
	if b.steps += n; b.steps > MaxTemplateSteps {
		return "", &BudgetError{fmt.Sprintf("repeats more than %d times (range iterations and template calls per object)", MaxTemplateSteps)}
	}
	return "", b.check()
}

// built counts n bytes a template built.
func (b *budget) built(n int) error {
	if n > MaxTemplateValue {
		return &BudgetError{fmt.Sprintf("builds a string of more than %d KiB", MaxTemplateValue>>10)}
	}
	b.bytes += int64(n)
	b.pass += int64(n)
	switch {
	case b.bytes > MaxObjectBytes:
		return &BudgetError{fmt.Sprintf("builds more than %d MiB in one object", MaxObjectBytes>>20)}
	case b.pass > MaxPassBytes:
		return &BudgetError{fmt.Sprintf("builds more than %d MiB in the catalog", MaxPassBytes>>20)}
	}
	return b.check()
}

// stringsIn is a lower bound of what formatting args will write: refusing
// before formatting keeps the doubling variable from allocating at all.
func stringsIn(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		}
	}
	return n
}

// funcs returns counted versions of the builtins that make strings; a
// FuncMap entry shadows the builtin of the same name. stepFunc is the name
// of the function instrument inserts into every loop.
func (b *budget) funcs() template.FuncMap {
	counted := func(f func(...any) string) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			if err := b.built(stringsIn(args)); err != nil {
				return "", err
			}
			s := f(args...)
			return s, b.built(len(s))
		}
	}
	return template.FuncMap{
		stepFunc: b.step,
		callFunc: b.call,
		"printf": func(format string, args ...any) (string, error) {
			if err := b.built(len(format) + stringsIn(args)); err != nil {
				return "", err
			}
			s := fmt.Sprintf(format, args...)
			return s, b.built(len(s))
		},
		"print":    counted(fmt.Sprint),
		"println":  counted(fmt.Sprintln),
		"html":     counted(template.HTMLEscaper),
		"js":       counted(template.JSEscaper),
		"urlquery": counted(template.URLQueryEscaper),
	}
}

const (
	stepFunc = "_reconcile_step"
	callFunc = "_reconcile_call"
)

// instrument puts a call of callFunc at the start of every template body
// (so recursion through define/template counts) and of stepFunc at the
// start of every range body (so a loop counts, even one that writes
// nothing). The inserted actions print nothing; an error from one ends the
// execution.
func instrument(t *template.Template) error {
	noop := func() string { return "" }
	probe, err := template.New("step").Funcs(template.FuncMap{stepFunc: noop, callFunc: noop}).
		Parse("{{" + stepFunc + "}}{{" + callFunc + "}}")
	if err != nil {
		return err
	}
	step, call := probe.Tree.Root.Nodes[0], probe.Tree.Root.Nodes[1]
	var walk func(l *parse.ListNode)
	walk = func(l *parse.ListNode) {
		if l == nil {
			return
		}
		for _, n := range l.Nodes {
			switch n := n.(type) {
			case *parse.RangeNode:
				if n.List == nil {
					n.List = &parse.ListNode{NodeType: parse.NodeList}
				}
				walk(n.List)
				walk(n.ElseList)
				n.List.Nodes = append([]parse.Node{step}, n.List.Nodes...)
			case *parse.IfNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.WithNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.ListNode:
				walk(n)
			}
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		walk(tt.Tree.Root)
		tt.Tree.Root.Nodes = append([]parse.Node{call}, tt.Tree.Root.Nodes...)
	}
	return nil
}

// expandedBytes counts the bytes of n's scalars with every alias expanded,
// without expanding anything: a subtree's size is computed once and reused
// by every alias of it. It returns the first node (and its field path)
// where the object's total passes MaxObjectBytes or the load's passes
// MaxPassBytes.
func (b *budget) expandedBytes(n *yaml.Node) (at *yaml.Node, path, msg string) {
	sizes := make(map[*yaml.Node]int64)
	var size func(n *yaml.Node, depth int) int64
	size = func(n *yaml.Node, depth int) int64 {
		if s, ok := sizes[n]; ok {
			return s
		}
		if depth > 10_000 {
			return MaxObjectBytes + 1
		}
		sizes[n] = 0 // an alias of its own ancestor counts nothing more
		var s int64
		switch n.Kind {
		case yaml.AliasNode:
			if n.Alias != nil {
				s = size(n.Alias, depth+1)
			}
		case yaml.ScalarNode:
			s = int64(len(n.Value))
		default:
			for _, c := range n.Content {
				if s += size(c, depth+1); s > MaxPassBytes {
					break
				}
			}
		}
		sizes[n] = s
		return s
	}
	var total int64
	var walk func(n *yaml.Node, p string) bool
	walk = func(n *yaml.Node, p string) bool {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if !walk(c, p) {
					return false
				}
			}
			return true
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				total += int64(len(n.Content[i].Value))
				if !walk(n.Content[i+1], joinPath(p, n.Content[i].Value)) {
					return false
				}
			}
			return true
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if !walk(c, fmt.Sprintf("%s[%d]", p, i)) {
					return false
				}
			}
			return true
		}
		total += size(n, 0)
		switch {
		case total > MaxObjectBytes:
			at, path, msg = n, p, fmt.Sprintf("the object expands to more than %d MiB (YAML aliases counted in bytes)", MaxObjectBytes>>20)
		case b.expanded+total > MaxPassBytes:
			at, path, msg = n, p, fmt.Sprintf("the catalog expands to more than %d MiB (YAML aliases counted in bytes)", MaxPassBytes>>20)
		default:
			return true
		}
		return false
	}
	walk(n, "")
	b.expanded += total
	return at, path, msg
}
