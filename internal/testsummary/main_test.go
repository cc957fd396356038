package main

import (
	"strings"
	"testing"
)

func TestSummaryCountsSkipsWithReasons(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"m/internal/a","Test":"TestOK"}`,
		`{"Action":"pass","Package":"m/internal/a","Test":"TestOK"}`,
		`{"Action":"run","Package":"m/internal/a","Test":"TestSpec"}`,
		`{"Action":"output","Package":"m/internal/a","Test":"TestSpec","Output":"=== RUN   TestSpec\n"}`,
		`{"Action":"output","Package":"m/internal/a","Test":"TestSpec","Output":"    spec_test.go:12: contract test skipped: hub.yaml not found\n"}`,
		`{"Action":"output","Package":"m/internal/a","Test":"TestSpec","Output":"--- SKIP: TestSpec (0.00s)\n"}`,
		`{"Action":"skip","Package":"m/internal/a","Test":"TestSpec"}`,
		`{"Action":"run","Package":"m/internal/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"m/internal/b","Test":"TestBad","Output":"    b_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"m/internal/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"m/internal/b","Output":"FAIL\tm/internal/b\t0.1s\n"}`,
		`{"Action":"fail","Package":"m/internal/b"}`,
	}, "\n")
	var out strings.Builder
	s, err := run(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.passed != 1 || s.failed != 1 || s.skipped != 1 || !s.broken {
		t.Fatalf("summary %+v", s)
	}
	o := out.String()
	last := o[strings.LastIndex(strings.TrimSuffix(o, "\n"), "\n")+1:]
	if !strings.HasPrefix(last, "tests: 1 passed, 1 failed, 1 skipped, 1 package(s) failed") || !strings.Contains(last, "1 (internal/a.TestSpec): contract test skipped: hub.yaml not found") {
		t.Errorf("last line %q", last)
	}
	if !strings.Contains(o, "boom") || strings.Contains(o, "=== RUN") {
		t.Errorf("output:\n%s", o)
	}
}
