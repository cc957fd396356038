package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// jsonWriter writes an indented JSON document whose big arrays are streamed
// element by element, so documents with an array per finding (SARIF) need
// not be built in memory. It remembers the first error and ignores the rest.
type jsonWriter struct {
	bw    *bufio.Writer
	err   error
	first []bool // per open container: nothing written in it yet
}

func newJSONWriter(w io.Writer) *jsonWriter {
	return &jsonWriter{bw: bufio.NewWriterSize(w, 64<<10)}
}

func (j *jsonWriter) indent() string { return strings.Repeat("  ", len(j.first)) }

// sep writes the comma and newline before a container's next member.
func (j *jsonWriter) sep() {
	if n := len(j.first); n > 0 {
		if !j.first[n-1] {
			j.bw.WriteString(",")
		}
		j.first[n-1] = false
		j.bw.WriteString("\n")
		j.bw.WriteString(j.indent())
	}
}

func (j *jsonWriter) key(name string) {
	j.sep()
	b, _ := json.Marshal(name)
	j.bw.Write(b)
	j.bw.WriteString(": ")
}

// Open starts an object or array, as a named member when name is not empty.
func (j *jsonWriter) Open(name string, delim byte) {
	if name != "" {
		j.key(name)
	} else {
		j.sep()
	}
	j.bw.WriteByte(delim)
	j.first = append(j.first, true)
}

// Close ends the innermost container.
func (j *jsonWriter) Close(delim byte) {
	empty := j.first[len(j.first)-1]
	j.first = j.first[:len(j.first)-1]
	if !empty {
		j.bw.WriteString("\n")
		j.bw.WriteString(j.indent())
	}
	j.bw.WriteByte(delim)
}

// Field writes one member (name set) or array element (name empty).
func (j *jsonWriter) Field(name string, v any) {
	if j.err != nil {
		return
	}
	b, err := json.MarshalIndent(v, j.indent(), "  ")
	if err != nil {
		j.err = fmt.Errorf("encode %s: %w", name, err)
		return
	}
	if name != "" {
		j.key(name)
	} else {
		j.sep()
	}
	j.bw.Write(b)
}

// Finish ends the document and flushes it.
func (j *jsonWriter) Finish() error {
	j.bw.WriteString("\n")
	if j.err != nil {
		return j.err
	}
	return j.bw.Flush()
}
