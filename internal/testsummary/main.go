// Command testsummary reads `go test -json` on stdin and prints what a
// plain `go test` run would (package results, and the output of failing
// tests), then one line counting passed, failed and skipped tests and
// saying why each group was skipped, so a skip is never mistaken for a
// pass. It exits 1 when any test or package failed or a build broke.
//
// Used by `make test`: go test -race -json ./... | go run ./internal/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output / build-fail
	FailedBuild string
}

type summary struct {
	passed, failed, skipped int
	reasons                 map[string][]string // reason -> tests
	// broken: a build failed or a package failed (a failing test, a
	// panic, a timeout); pkgFailed counts the packages.
	broken    bool
	pkgFailed int
}

func main() {
	s, err := run(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if s.broken || s.failed > 0 {
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) (*summary, error) {
	s := &summary{reasons: map[string][]string{}}
	// Output of each running test, kept until it ends: printed only if it
	// fails, mined for the reason if it skips.
	buf := map[string]*strings.Builder{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (e.g. a build error printed as text): pass it on.
			fmt.Fprintln(out, string(line))
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(out, e.Output)
		case e.Action == "build-fail":
			s.broken = true
		case e.Test == "" && e.Action == "output":
			fmt.Fprint(out, e.Output)
		case e.Test == "" && e.Action == "fail":
			s.broken = true
			s.pkgFailed++
		case e.Test == "":
		case e.Action == "output":
			b := buf[key]
			if b == nil {
				b = &strings.Builder{}
				buf[key] = b
			}
			b.WriteString(e.Output)
		case e.Action == "pass":
			s.passed++
			delete(buf, key)
		case e.Action == "fail":
			s.failed++
			if b := buf[key]; b != nil {
				fmt.Fprint(out, b.String())
			}
			delete(buf, key)
		case e.Action == "skip":
			s.skipped++
			r := reason(buf[key])
			s.reasons[r] = append(s.reasons[r], shortPkg(e.Package)+"."+e.Test)
			delete(buf, key)
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	fmt.Fprintln(out, s.line())
	return s, nil
}

// reason is the skip message a test logged (the last line before its
// "--- SKIP" line), without the file:line prefix.
func reason(b *strings.Builder) string {
	if b == nil {
		return "no reason given"
	}
	var last string
	for _, l := range strings.Split(b.String(), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		last = t
	}
	if i := strings.Index(last, ".go:"); i >= 0 {
		if j := strings.Index(last[i:], ": "); j >= 0 {
			last = last[i+j+2:]
		}
	}
	if last == "" {
		return "no reason given"
	}
	if len(last) > 120 {
		last = last[:117] + "..."
	}
	return last
}

func shortPkg(p string) string {
	if i := strings.LastIndex(p, "/internal/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// line is the one summary line: counts, then each skip reason with how
// many tests it covers.
func (s *summary) line() string {
	l := fmt.Sprintf("tests: %d passed, %d failed, %d skipped", s.passed, s.failed, s.skipped)
	if s.pkgFailed > 0 {
		l += fmt.Sprintf(", %d package(s) failed", s.pkgFailed)
	} else if s.broken {
		l += ", a build failed"
	}
	if len(s.reasons) == 0 {
		return l
	}
	rs := make([]string, 0, len(s.reasons))
	for r := range s.reasons {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
		if a, b := len(s.reasons[rs[i]]), len(s.reasons[rs[j]]); a != b {
			return a > b
		}
		return rs[i] < rs[j]
	})
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		ts := s.reasons[r]
		name := ts[0]
		if len(ts) > 1 {
			name = fmt.Sprintf("%s and %d more", ts[0], len(ts)-1)
		}
		parts = append(parts, fmt.Sprintf("%d (%s): %s", len(ts), name, r))
	}
	return l + " — skipped because: " + strings.Join(parts, "; ")
}
