package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

type textChunk struct {
	Data string
	Line int
}

func TestDocumentChunks(t *testing.T) {
	tests := []struct {
		name string
		in   string
		size int
		want []textChunk
	}{
		{"small stays whole", "a: 1\n---\nb: 2\n", 100, []textChunk{{"a: 1\n---\nb: 2\n", 0}}},
		{"split at markers", "a: 1\n---\nb: 2\n--- \nc: 3\n", 1,
			[]textChunk{{"a: 1\n", 0}, {"---\nb: 2\n", 1}, {"--- \nc: 3\n", 3}}},
		{"not a marker", "a: 1\n---x\n----\n - ---\nb: 2\n---\nc: 3", 1,
			[]textChunk{{"a: 1\n---x\n----\n - ---\nb: 2\n", 0}, {"---\nc: 3", 5}}},
		{"about size bytes", "a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n", 12,
			[]textChunk{{"a: 1\n---\nb: 2\n", 0}, {"---\nc: 3\n---\nd: 4\n", 3}}},
		{"directives stay whole", "a: 1\n...\n%YAML 1.2\n---\nb: 2\n", 1, []textChunk{{"a: 1\n...\n%YAML 1.2\n---\nb: 2\n", 0}}},
		{"crlf marker", "a: 1\r\n---\r\nb: 2\r\n", 1, []textChunk{{"a: 1\r\n", 0}, {"---\r\nb: 2\r\n", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []textChunk
			for _, c := range documentChunks([]byte(tt.in), tt.size) {
				got = append(got, textChunk{string(c.data), c.line})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
		})
	}
}

// sequential is how a stream parses in one piece.
func sequential(data []byte) ([]*yaml.Node, error) {
	var out []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, doc)
	}
}

// A stream parsed in chunks gives the same documents, lines and first
// syntax error as parsed in one piece, whatever the chunk size.
func TestParseDocumentsMatchesSequential(t *testing.T) {
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, "---\n# object %d\napiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: s%d}\nspec:\n  script: |\n    echo ---\n    --- indented\n  list: [a, b]\n  anchor: &x {k: %d}\n  alias: *x\n", i, i, i)
		if i%7 == 0 {
			b.WriteString("---\n")
		}
		if i%11 == 0 {
			b.WriteString("...\n")
		}
	}
	good := b.String()
	bad := good + "---\nkind: Service\nspec: {a: [1, 2}\n---\nkind: Never\n"
	broken := strings.Replace(good, "metadata: {name: s31}", "metadata: {name: s31", 1)
	for _, in := range []string{good, bad, broken} {
		want, wantErr := sequential([]byte(in))
		for _, size := range []int{1, 100, 1000, 1 << 20} {
			var got []*yaml.Node
			err := parseDocuments([]byte(in), size, func(n *yaml.Node) { got = append(got, n) })
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("size %d: error %v, want %v", size, err, wantErr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("size %d: documents differ (-want +got):\n%s", size, diff)
			}
		}
	}
}

// panickyDecoder decodes with yaml.v3 until it meets a document holding
// "explode", then panics as a parser bug would.
type panickyDecoder struct{ dec *yaml.Decoder }

func (d panickyDecoder) Decode(v any) error {
	if err := d.dec.Decode(v); err != nil {
		return err
	}
	if n, ok := v.(*yaml.Node); ok && holdsValue(n, "explode") {
		panic("internal error: attempted to parse unknown event (please report): none")
	}
	return nil
}

func holdsValue(n *yaml.Node, v string) bool {
	if n.Value == v {
		return true
	}
	for _, c := range n.Content {
		if holdsValue(c, v) {
			return true
		}
	}
	return false
}

// A panic of the parser on a worker goroutine comes back as the chunk's
// error at its first line, after the documents before it: it never ends
// the process (issue 13).
func TestParseDocumentsPanicIsAnError(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "---\nkind: Service\nmetadata: {name: s%d}\n", i)
	}
	b.WriteString("---\nkind: Service\nmetadata: {name: explode}\n")
	for i := range 40 {
		fmt.Fprintf(&b, "---\nkind: Service\nmetadata: {name: t%d}\n", i)
	}
	in := []byte(b.String())
	explodes := bytes.Count(in[:bytes.Index(in, []byte("explode"))], []byte("\n")) + 1
	newDecoder := func(r io.Reader) nodeDecoder { return panickyDecoder{yaml.NewDecoder(r)} }
	for _, size := range []int{1, 100, 1 << 20} {
		var got int
		err := parseDocumentsWith(in, size, newDecoder, func(*yaml.Node) { got++ })
		if err == nil || !strings.Contains(err.Error(), "panic: internal error") {
			t.Fatalf("size %d: error %v, want the parser's panic as an error", size, err)
		}
		var line int
		if _, serr := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); serr != nil || line < 1 || line > explodes {
			t.Errorf("size %d: error %q: want a line at or before %d", size, err, explodes)
		}
		if got > 40 {
			t.Errorf("size %d: %d documents delivered, want at most the 40 before the panic", size, got)
		}
	}
}
