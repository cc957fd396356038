package lint

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func cmdWords(script string) [][]string {
	var out [][]string
	for _, c := range commands(lexShell(script)) {
		var ws []string
		for _, w := range c.words {
			ws = append(ws, w.text)
		}
		out = append(out, ws)
	}
	return out
}

func TestLexShell(t *testing.T) {
	cases := []struct {
		script string
		want   string
	}{
		{"docker push a && docker push b", "[[docker push a] [docker push b]]"},
		{"docker buildx build \\\n  -t x \\\n  --push .", "[[docker buildx build -t x --push .]]"},
		{"echo \"a b\" 'c d' # comment\nnext", "[[echo \"a b\" 'c d'] [next]]"},
		{"cat <<EOF\ndocker push hidden\nEOF\ndocker push shown", "[[cat] [docker push shown]]"},
		{"cat <<-\"X\" >f\n\tdocker push hidden\n\tX\nok", "[[cat] [ok]]"},
		{"docker push ${{ env.IMAGE }}:${{ github.sha }}", "[[docker push ${{ env.IMAGE }}:${{ github.sha }}]]"},
		{"x=$(docker images | grep a)\ny", "[[x=$(docker images | grep a)] [y]]"},
		{"docker push a 2>&1 | tee log", "[[docker push a] [tee log]]"},
		{"if true; then docker push a; fi", "[[if true] [then docker push a] [fi]]"},
		{"echo 'unterminated", "[[echo 'unterminated]]"},
		{"a=\"${B:-c d}\" e", "[[a=\"${B:-c d}\" e]]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(cmdWords(c.script)); got != c.want {
			t.Errorf("%q\n got %s\nwant %s", c.script, got, c.want)
		}
	}
}

func TestExpandWord(t *testing.T) {
	ctx := &evalCtx{env: []map[string]varDef{{"IMAGE": {value: "ghcr.io/acme/app"}, "REG": {value: "ghcr.io"}}}}
	x := &shExpander{ctx: ctx, vars: map[string]varDef{"TAG": {value: "v1"}, "UP": {value: "Acme/App"}}}
	cases := map[string]string{
		`$IMAGE`:                      "ghcr.io/acme/app",
		`"${IMAGE}:${TAG}"`:           "ghcr.io/acme/app:v1",
		`'$IMAGE'`:                    "$IMAGE",
		`${REG}/${UP,,}`:              "ghcr.io/acme/app",
		`${MISSING:-ghcr.io/x}`:       "ghcr.io/x",
		`$MISSING`:                    unknownStr,
		`ghcr.io/$(cat f)`:            "ghcr.io/" + unknownStr,
		`${{ env.IMAGE }}`:            "ghcr.io/acme/app",
		`${{ github.repository }}`:    safeStr,
		`${GITHUB_REPOSITORY}`:        safeStr,
		`a\ b`:                        "a b",
		`"a\"b"`:                      `a"b`,
		`${{ secrets.X }}`:            unknownStr,
		`"$1"`:                        unknownStr,
		`${{ steps.x.outputs.y }}:v1`: unknownStr + ":v1",
	}
	for raw, want := range cases {
		if got := x.word(raw); got != want {
			t.Errorf("word(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestClassifyRef(t *testing.T) {
	mut := map[string]bool{"dev": true}
	cases := []struct {
		ref  string
		want refClass
	}{
		{"ghcr.io/acme/app", refImplicit},
		{"app", refImplicit},
		// A registry on the runner is thrown away with the job.
		{"localhost:5000/app", refFine},
		{"localhost:5000/app:latest", refFine},
		{"registry.localhost:5000/acme/app:latest", refFine},
		{"kind.local/app", refFine},
		{"registry.local:5000/policy-controller:latest", refFine},
		{"localhostess.io/app:latest", refLatest},
		{"myregistry.com:5000/app", refImplicit},
		{"ghcr.io/acme/app:latest", refLatest},
		{"ghcr.io/acme/app:dev", refMutable},
		{"ghcr.io/acme/app:v1.2.3", refFine},
		{"localhost:5000/app:1", refFine},
		{"ghcr.io/acme/app@sha256:abc", refFine},
		{"ghcr.io/" + safeStr, refImplicit},
		{unknownStr + "/app", refImplicit},
		{"ghcr.io/" + unknownStr, refUnknown},
		{"ghcr.io/acme/app:" + unknownStr, refUnknown},
		{unknownStr, refUnknown},
		{"two words", refUnknown},
		{"--flag", refUnknown},
		{"ghcr.io/acme/app:", refUnknown},
		{"{not}a/ref", refUnknown},
	}
	for _, c := range cases {
		if got, _ := classifyRef(c.ref, mut); got != c.want {
			t.Errorf("classifyRef(%q) = %d, want %d", display(c.ref), got, c.want)
		}
	}
}

func lintOne(t *testing.T, src string) []Finding {
	t.Helper()
	fs, err := LintBytes("w.yml", []byte(src), testCfg)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestShellPositions pins exact columns: they are what SARIF annotates.
func TestShellPositions(t *testing.T) {
	src := "on: push\nenv:\n  IMAGE: ghcr.io/acme/app\njobs:\n  j:\n    steps:\n      - run: |\n          set -e\n          docker push \"$IMAGE\"\n      - run: docker push ghcr.io/é/x:latest\n"
	fs := lintOne(t, src)
	if len(fs) != 2 {
		t.Fatalf("want 2 findings, got %+v", fs)
	}
	if f := fs[0]; f.Line != 9 || f.Column != 23 || f.EndColumn != 31 || f.RuleID != RuleImplicitLatest {
		t.Errorf("first finding at %d:%d-%d %s, want 9:23-31 implicit-latest", f.Line, f.Column, f.EndColumn, f.RuleID)
	}
	// Columns count code points: é is one column.
	if f := fs[1]; f.Line != 10 || f.Column != 26 || f.EndColumn != 44 || f.RuleID != RuleExplicitLatest {
		t.Errorf("second finding at %d:%d-%d %s, want 10:26-44 explicit-latest", f.Line, f.Column, f.EndColumn, f.RuleID)
	}
}

// TestShellFixesExpand applies each fix and checks, by expanding the new
// word the way the shell would, that the pushed reference carries the
// commit sha, quotes and all.
func TestShellFixesExpand(t *testing.T) {
	cases := []struct {
		name, cmd string
		want      string
	}{
		{"bare", "docker push ghcr.io/acme/app", "ghcr.io/acme/app:SHA"},
		{"double quoted", `docker push "ghcr.io/acme/app"`, "ghcr.io/acme/app:SHA"},
		{"single quoted", `docker push 'ghcr.io/acme/app'`, "ghcr.io/acme/app:SHA"},
		{"latest single quoted", `docker push 'ghcr.io/acme/app:latest'`, "ghcr.io/acme/app:SHA"},
		{"latest double quoted", `docker push "ghcr.io/acme/app:latest"`, "ghcr.io/acme/app:SHA"},
		{"variable", `docker push "$REF"`, "ghcr.io/acme/ref:SHA"},
		{"expression", `docker push ${{ env.REF }}`, "ghcr.io/acme/ref:SHA"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "on: push\nenv:\n  REF: ghcr.io/acme/ref\njobs:\n  j:\n    steps:\n      - run: |\n          " + c.cmd + "\n"
			fs := lintOne(t, src)
			if len(fs) != 1 || fs[0].Fix == nil || len(fs[0].Fix.Edits) != 1 {
				t.Fatalf("want one finding with one edit, got %+v", fs)
			}
			e := fs[0].Fix.Edits[0]
			if e.Line != 8 || len(e.New) != 1 {
				t.Fatalf("edit %+v", e)
			}
			words := commands(lexShell(strings.TrimSpace(e.New[0])))
			if len(words) != 1 || len(words[0].words) != 3 {
				t.Fatalf("fixed command %q does not lex as one command of 3 words", e.New[0])
			}
			x := &shExpander{ctx: &evalCtx{env: []map[string]varDef{{"REF": {value: "ghcr.io/acme/ref"}, "GITHUB_SHA": {value: "SHA"}}}}, vars: map[string]varDef{}}
			raw := strings.ReplaceAll(words[0].words[2].text, "${{ github.sha }}", "SHA")
			if got := x.word(raw); got != c.want {
				t.Errorf("fixed word %q expands to %q, want %q", words[0].words[2].text, got, c.want)
			}
		})
	}
}

// TestFixEditsVariableDefinition: when the tag comes from a variable, the
// definition is what changes.
func TestFixEditsVariableDefinition(t *testing.T) {
	src := "on: push\nenv:\n  IMAGE: ghcr.io/acme/app:latest\njobs:\n  j:\n    steps:\n      - run: |\n          REF=ghcr.io/acme/tool:dev\n          docker push $IMAGE\n          docker push \"$REF\"\n"
	fs := lintOne(t, src)
	if len(fs) != 2 {
		t.Fatalf("want 2 findings, got %+v", fs)
	}
	want := []Edit{{Line: 3, Old: "  IMAGE: ghcr.io/acme/app:latest", New: []string{"  IMAGE: ghcr.io/acme/app:${{ github.sha }}"}}}
	if fmt.Sprint(fs[0].Fix.Edits) != fmt.Sprint(want) {
		t.Errorf("env fix %+v, want %+v", fs[0].Fix.Edits, want)
	}
	want = []Edit{{Line: 8, Old: "          REF=ghcr.io/acme/tool:dev", New: []string{"          REF=ghcr.io/acme/tool:${GITHUB_SHA}"}}}
	if fs[1].RuleID != RuleMutableTag || fmt.Sprint(fs[1].Fix.Edits) != fmt.Sprint(want) {
		t.Errorf("shell variable fix %s %+v, want %+v", fs[1].RuleID, fs[1].Fix.Edits, want)
	}
}

func TestApplyEdits(t *testing.T) {
	src := []byte("a\r\nb\r\nc\r\n")
	out, err := ApplyEdits(src, []Edit{{Line: 2, Old: "b", New: []string{"b1", "b2"}}, {Line: 3, Old: "c", New: []string{}}, {Line: 2, Old: "b", New: []string{"b1", "b2"}}})
	if err != nil || string(out) != "a\r\nb1\r\nb2\r\n" {
		t.Errorf("got %q %v", out, err)
	}
	if _, err := ApplyEdits(src, []Edit{{Line: 2, Old: "x", New: nil}}); err == nil {
		t.Error("a stale edit applied")
	}
	if _, err := ApplyEdits(src, []Edit{{Line: 2, Old: "b", New: []string{"1"}}, {Line: 2, Old: "b", New: []string{"2"}}}); err == nil {
		t.Error("conflicting edits applied")
	}
	if _, err := ApplyEdits(src, []Edit{{Line: 9, Old: "", New: nil}}); err == nil {
		t.Error("edit past the end applied")
	}
}

func TestCRLFWorkflow(t *testing.T) {
	src := strings.ReplaceAll("on: push\njobs:\n  j:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          push: true\n          tags: |\n            ghcr.io/acme/app:latest\n            ghcr.io/acme/app:v1\n", "\n", "\r\n")
	fs := lintOne(t, src)
	if len(fs) != 1 || fs[0].Line != 9 || fs[0].Column != 13 {
		t.Fatalf("got %+v", fs)
	}
	out, err := ApplyEdits([]byte(src), fs[0].Fix.Edits)
	if err != nil || strings.Contains(string(out), "latest") || strings.Count(string(out), "\r\n") != 9 {
		t.Errorf("fixed: %q %v", out, err)
	}
}

func TestSuppressionParsing(t *testing.T) {
	src := newSource("f", []byte(strings.Join([]string{
		"# immutag-lint ignore explicit-latest: reason here",
		"",
		"# another comment",
		"target: 1 # immutag-lint ignore mutable-tag, implicit-latest : two rules",
		"x: 1 #immutag-lint ignore explicit-latest",
		"y: 1 # immutag-lint ignore nope: r",
		"z: '#immutag-lint ignore inside a string is a comment only after a space'",
	}, "\n")))
	got := parseIgnores(src)
	if len(got) != 4 {
		t.Fatalf("want 4 comments, got %+v", got)
	}
	if c := got[0]; c.target != 4 || !slices.Equal(c.rules, []string{"explicit-latest"}) || c.reason != "reason here" || c.problem != "" {
		t.Errorf("comment above: %+v", c)
	}
	if c := got[1]; c.target != 4 || !slices.Equal(c.rules, []string{"mutable-tag", "implicit-latest"}) || c.reason != "two rules" || c.col != 11 {
		t.Errorf("trailing comment: %+v", c)
	}
	if c := got[2]; c.problem != "gives no reason" {
		t.Errorf("no reason: %+v", c)
	}
	if c := got[3]; !strings.Contains(c.problem, "unknown rule") {
		t.Errorf("unknown rule: %+v", c)
	}
}

// TestFixAvoidsDuplicatePush: when the job already pushes the sha tag, the
// latest push is deleted rather than turned into a second push of the same
// tag (which an immutable registry rejects).
func TestFixAvoidsDuplicatePush(t *testing.T) {
	src := "on: push\njobs:\n  j:\n    steps:\n      - run: |\n" +
		"          docker push ghcr.io/acme/app:${GITHUB_SHA}\n" +
		"          docker tag ghcr.io/acme/app:${GITHUB_SHA} ghcr.io/acme/app:latest\n" +
		"          docker push \\\n            ghcr.io/acme/app:latest\n" +
		"          docker push ghcr.io/acme/b:${{ github.sha }}\n" +
		"          make && docker push ghcr.io/acme/b # implicit\n" +
		"          if true; then docker push ghcr.io/acme/b; fi\n"
	fs := lintOne(t, src)
	if len(fs) != 3 {
		t.Fatalf("want 3 findings, got %+v", fs)
	}
	want := fmt.Sprint([]Edit{
		{Line: 7, Old: "          docker tag ghcr.io/acme/app:${GITHUB_SHA} ghcr.io/acme/app:latest", New: []string{"          docker tag ghcr.io/acme/app:${GITHUB_SHA} ghcr.io/acme/app:${GITHUB_SHA}"}},
		{Line: 8, Old: "          docker push \\", New: []string{}},
		{Line: 9, Old: "            ghcr.io/acme/app:latest", New: []string{}},
	})
	if got := fmt.Sprint(fs[0].Fix.Edits); got != want {
		t.Errorf("latest fix\n got %s\nwant %s", got, want)
	}
	want = fmt.Sprint([]Edit{
		{Line: 11, Old: "          make && docker push ghcr.io/acme/b # implicit", New: []string{"          make # implicit"}},
		{Line: 12, Old: "          if true; then docker push ghcr.io/acme/b; fi", New: []string{"          if true; then docker push ghcr.io/acme/b:${GITHUB_SHA}; fi"}},
	})
	if got := fmt.Sprint(fs[1].Fix.Edits); got != want || fmt.Sprint(fs[2].Fix.Edits) != want {
		t.Errorf("implicit fix\n got %s\nwant %s", got, want)
	}
}

// A fuzz run in CI found that the YAML parser counts a lone CR as a line
// break while every other position here counts LF: such files are refused
// with the line of the first odd break, and parser positions past the text
// are brought back to the last line.
func TestOddLineBreaksRefused(t *testing.T) {
	cases := []struct {
		src  string
		line int
		msg  string
	}{
		{"a: [\r\r\r", 1, "lone carriage return"},
		{"on: push\njobs:\u2028  j: {}\n", 2, "U+2028"},
		{"on: push\n\n# x\u0085\n", 3, "U+0085"},
		{"a: b\u2029\n", 1, "U+2029"},
		{"a: [\n\n\n\n", 4, "invalid YAML"},
	}
	for _, c := range cases {
		fs, err := LintBytes("w.yml", []byte(c.src), testCfg)
		fe, ok := err.(*FileError)
		if !ok || len(fs) != 0 {
			t.Fatalf("%q: want only a *FileError, got %v %v", c.src, fs, err)
		}
		if fe.Line != c.line || !strings.Contains(fe.Message, c.msg) {
			t.Errorf("%q: got line %d %q, want line %d containing %q", c.src, fe.Line, fe.Message, c.line, c.msg)
		}
	}
	// CRLF stays accepted.
	if _, err := LintBytes("w.yml", []byte("on: push\r\njobs: {}\r\n"), testCfg); err != nil {
		t.Errorf("CRLF file refused: %v", err)
	}
}
