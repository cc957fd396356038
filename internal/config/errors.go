package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a configuration mistake, located as precisely as the loader
// could: the file, the 1-based line, and the key path (providers[1].kind).
// Its text is one line so the CLI can print it as is and exit 1.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

// Error renders "FILE:LINE: KEY: MSG", leaving out the parts that are unknown.
func (e *Error) Error() string {
	var parts []string
	switch {
	case e.File != "" && e.Line > 0:
		parts = append(parts, e.File+":"+strconv.Itoa(e.Line))
	case e.File != "":
		parts = append(parts, e.File)
	case e.Line > 0:
		parts = append(parts, "line "+strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		parts = append(parts, e.Key)
	}
	if e.Msg != "" {
		parts = append(parts, e.Msg)
	}
	return clip(oneLine(strings.Join(parts, ": ")), maxErrorLen)
}

// Bounds on what an error repeats of the file: a 50 MB provider name must
// not come back in full.
const (
	maxValueLen = 120
	maxErrorLen = 1024
)

// clip cuts s to at most n bytes (on a rune boundary) and says so.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes cut)", len(s)-cut)
}

// clipArgs cuts the string values an error message quotes.
func clipArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = clip(s, maxValueLen)
		}
		out[i] = a
	}
	return out
}

// oneLine folds a message onto one line: library errors (yaml's type errors
// in particular) can span several, and the CLI prints exactly one.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}
