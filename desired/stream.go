package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"gopkg.in/yaml.v3"
)

// A big object file is parsed in chunks of whole documents on every core,
// while the loader consumes them in file order: parsing is most of a load.

// chunkSize is about how many bytes of documents one chunk holds.
const chunkSize = 32 << 10

// chunk is a run of whole documents of a file; line is the 0-based line of
// the file it starts at.
type chunk struct {
	data []byte
	line int
}

// documentChunks splits a YAML stream at document start markers ("---" at
// the start of a line, then a blank or the end of the line) into chunks of
// about size bytes. YAML forbids such a line inside any document's content,
// so a chunk holds whole documents and parses as the stream would. A stream
// with directives ("%YAML") stays in one chunk: a directive belongs to the
// document after it.
func documentChunks(data []byte, size int) []chunk {
	if len(data) <= size || data[0] == '%' || bytes.Contains(data, []byte("\n%")) {
		return []chunk{{data: data}}
	}
	var out []chunk
	start, startLine, line := 0, 0, 0
	for off := 0; off < len(data); line++ {
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		if off-start >= size && isDocumentStart(data[off:next]) {
			out = append(out, chunk{data: data[start:off], line: startLine})
			start, startLine = off, line
		}
		off = next
	}
	return append(out, chunk{data: data[start:], line: startLine})
}

// isDocumentStart reports whether a line is a "---" marker.
func isDocumentStart(line []byte) bool {
	if len(line) < 3 || line[0] != '-' || line[1] != '-' || line[2] != '-' {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' || line[3] == '\n'
}

// parsedChunk is what parsing one chunk gave: its documents up to the first
// syntax error, and that error with its line already made the file's.
type parsedChunk struct {
	docs []*yaml.Node
	err  error
	done chan struct{}
}

// nodeDecoder decodes the documents of a chunk one by one: yaml.v3's
// Decoder, or in tests one that fails the way a parser bug would.
type nodeDecoder interface{ Decode(v any) error }

func yamlDecoder(r io.Reader) nodeDecoder { return yaml.NewDecoder(r) }

// parseChunk parses every document of a chunk, with lines of the file. It
// runs on a worker goroutine: a panic of the parser (yaml.v3 re-panics
// what is not its own error) would end the process from there, past the
// CLI's recover, so it becomes the chunk's error, located at the chunk's
// first line; the loader names the file.
func parseChunk(c chunk, out *parsedChunk, newDecoder func(io.Reader) nodeDecoder) {
	defer close(out.done)
	defer func() {
		if r := recover(); r != nil {
			out.docs = nil
			out.err = fmt.Errorf("yaml: line %d: the YAML parser failed on the documents from here on (panic: %v)", c.line+1, r)
		}
	}()
	dec := newDecoder(bytes.NewReader(c.data))
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			out.err = shiftError(err, c.line)
			return
		}
		if c.line != 0 {
			shiftLines(doc, c.line)
		}
		out.docs = append(out.docs, doc)
	}
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// shiftError moves the line of a yaml.v3 syntax error ("yaml: line 3: ...")
// from the chunk's to the file's.
func shiftError(err error, by int) error {
	msg := err.Error()
	var line int
	if by == 0 || !strings.HasPrefix(msg, "yaml: line ") {
		return err
	}
	if n, _ := fmt.Sscanf(msg, "yaml: line %d:", &line); n != 1 {
		return err
	}
	rest := msg[strings.IndexByte(msg[len("yaml: line "):], ':')+len("yaml: line "):]
	return fmt.Errorf("yaml: line %d%s", line+by, rest)
}

// parseDocuments parses a file's documents, in chunks of about size bytes,
// on up to GOMAXPROCS workers, and calls each(doc) in file order; a syntax
// error stops it, after the documents before it, and is returned. Only a
// few chunks are parsed ahead of each, so memory stays that of a few chunks.
func parseDocuments(data []byte, size int, each func(*yaml.Node)) error {
	return parseDocumentsWith(data, size, yamlDecoder, each)
}

// parseDocumentsWith is parseDocuments with the decoder of each chunk.
func parseDocumentsWith(data []byte, size int, newDecoder func(io.Reader) nodeDecoder, each func(*yaml.Node)) error {
	chunks := documentChunks(data, size)
	results := make([]*parsedChunk, len(chunks))
	for i := range results {
		results[i] = &parsedChunk{done: make(chan struct{})}
	}
	var ahead chan struct{} // a token per chunk handed out, not yet consumed
	if len(chunks) == 1 {
		parseChunk(chunks[0], results[0], newDecoder)
	} else {
		workers := min(runtime.GOMAXPROCS(0), len(chunks))
		ahead = make(chan struct{}, 2*workers)
		stop := make(chan struct{})
		defer close(stop) // an early return ends the feeder, then the workers
		jobs := make(chan int)
		go func() {
			defer close(jobs)
			for i := range chunks {
				select {
				case ahead <- struct{}{}:
				case <-stop:
					return
				}
				select {
				case jobs <- i:
				case <-stop:
					return
				}
			}
		}()
		for range workers {
			go func() {
				for i := range jobs {
					parseChunk(chunks[i], results[i], newDecoder)
				}
			}()
		}
	}
	for _, r := range results {
		<-r.done
		docs, err := r.docs, r.err
		r.docs = nil
		for _, doc := range docs {
			each(doc)
		}
		if err != nil {
			return err
		}
		if ahead != nil {
			<-ahead
		}
	}
	return nil
}
