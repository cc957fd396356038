package lint

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// jobState follows run: steps through one job: shell variables, values
// written to $GITHUB_ENV/$GITHUB_OUTPUT, and every place an image reference
// is built, tagged or pushed, so a fix renames a reference everywhere the
// job uses it.
type jobState struct {
	l     *linter
	jc    *evalCtx
	sites []*refSite
	seen  map[string]bool
	// pending is a multi-line NAME<<DELIM value being written with one
	// echo per line.
	pending *pendingOut
	wrote   map[string]*step
	byValue map[string][]*refSite
}

type pendingOut struct {
	target, name, delim string
	lines               []string
}

type siteKind int

const (
	sitePush siteKind = iota
	siteTagSrc
	siteTagDst
	siteBuild
	siteImagetools
	// siteRename: a local name a fix must rename with the pushed
	// reference (docker manifest create/annotate), never reported itself.
	siteRename
	// siteDeploy: an image a deploy command runs (kubectl set image,
	// gcloud run deploy --image, helm --set image.tag=...).
	siteDeploy
)

type refSite struct {
	kind     siteKind
	pushed   bool
	label    string // command, for messages
	value    string // resolved
	raw      string
	sp       span
	from, to int // lines of the command, for ignore comments
	ctx      *evalCtx
	vars     map[string]varDef
	cmd      shCmd
	scr      *script
	nested   bool   // inside a compound command: never deleted by a fix
	tagOnly  bool   // a deployed tag given without its repository
	via      string // how the command was run (eval, sh -c, $CMD), for messages
}

var (
	assignRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\+?=`)
	shKeywords = map[string]bool{"if": true, "then": true, "elif": true, "else": true, "do": true, "while": true,
		"until": true, "!": true, "{": true, "}": true, "time": true, "fi": true, "done": true, "esac": true}
	shCompound = map[string]bool{"for": true, "case": true, "select": true, "function": true, "[[": true, "[": true}
)

// script is a run: value with the offsets of its lines.
type script struct {
	sc     *scalar
	starts []int
}

func newScript(sc *scalar) *script {
	s := &script{sc: sc, starts: []int{0}}
	for i := 0; i < len(sc.value); i++ {
		if sc.value[i] == '\n' {
			s.starts = append(s.starts, i+1)
		}
	}
	return s
}

func (s *script) span(t shTok) span {
	idx := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] > t.start }) - 1
	idx = max(idx, 0)
	sp := s.sc.spanAt(idx, t.start-s.starts[idx], t.end-s.starts[idx])
	if t.synthetic || strings.Contains(s.sc.value[t.start:t.end], "\n") {
		sp.exact = false
		sp.end = sp.start
	}
	if idx >= len(s.sc.lines) {
		sp.exact = false
	}
	return sp
}

func (j *jobState) runStep(st *step) {
	sc := j.l.src.scalarOf(st.run)
	if sc == nil {
		return
	}
	j.runScript(st, sc, &shExpander{ctx: st.ctx, vars: map[string]varDef{}})
}

// runScript follows one script with the shell state x (shared by the
// script: lines of a GitLab job). A script the parser rejects is read
// command by command with the lexer instead.
func (j *jobState) runScript(st *step, sc *scalar, x *shExpander) {
	scr := newScript(sc)
	if f, err := parseShell(sc.value); err == nil {
		w := &shWalker{j: j, st: st, scr: scr, src: sc.value}
		w.stmts(f.Stmts, x, "")
		return
	}
	for _, c := range commands(lexShell(sc.value)) {
		target := ""
		for _, r := range c.redirs {
			if (r.text == ">>" || r.text == ">") && r.target != nil {
				target = redirTarget(r.target.text)
			}
		}
		j.command(st, scr, x, c, target, true)
	}
}

func (j *jobState) command(st *step, scr *script, x *shExpander, c shCmd, target string, nested bool) {
	words := c.words
	for len(words) > 0 && shKeywords[words[0].text] {
		words = words[1:]
	}
	if len(words) == 0 || shCompound[words[0].text] {
		return
	}
	all := true
	for _, w := range words {
		all = all && assignRE.MatchString(w.text)
	}
	if all {
		for _, w := range words {
			j.assign(scr, x, w)
		}
		return
	}
	if st.kind == stepGitLab {
		nested = true // script: lines are joined by the runner: no line deletions
	}
	for len(words) > 0 && assignRE.MatchString(words[0].text) {
		words = words[1:]
	}
	if len(words) > 0 && bareRefRE.MatchString(words[0].text) {
		// $EXECUTOR --destination ... with EXECUTOR="/kaniko/executor
		// --flag": the command is the first word of the value. The words
		// it adds are options, never a tag, and keep the reference's place.
		if v := x.word(words[0].text); strings.ContainsAny(v, " \t") && !strings.ContainsRune(v, unknownRune) {
			var split []shTok
			for _, f := range strings.Fields(v) {
				split = append(split, shTok{kind: words[0].kind, text: "'" + strings.ReplaceAll(f, "'", "") + "'", start: words[0].start, end: words[0].end})
			}
			words = append(split, words[1:]...)
		}
	}
	for len(words) > 0 {
		name := path.Base(x.word(words[0].text))
		switch name {
		case "sudo", "command", "exec", "nohup", "time", "env":
			words = words[1:]
			for len(words) > 0 && (strings.HasPrefix(words[0].text, "-") || assignRE.MatchString(words[0].text)) {
				if words[0].text == "-u" || words[0].text == "-g" {
					words = words[1:]
				}
				if len(words) > 0 {
					words = words[1:]
				}
			}
			continue
		case "timeout", "nice":
			// timeout [-s SIG] [-k T] DURATION CMD, nice [-n N] CMD: the
			// command runs as written after them.
			words = words[1:]
			for len(words) > 0 && strings.HasPrefix(words[0].text, "-") {
				if f := words[0].text; (f == "-s" || f == "-k" || f == "-n" || f == "--signal" || f == "--kill-after" || f == "--adjustment") && len(words) > 1 {
					words = words[1:]
				}
				words = words[1:]
			}
			if name == "timeout" && len(words) > 0 {
				words = words[1:] // the duration
			}
			continue
		case "export", "declare", "typeset", "local", "readonly":
			for _, w := range words[1:] {
				if assignRE.MatchString(w.text) {
					j.assign(scr, x, w)
				}
			}
		case "echo", "printf":
			j.echo(st, scr, x, name, words[1:], target)
		case "docker", "podman", "buildah", "nerdctl":
			if len(words) > 2 && x.word(words[1].text) == "compose" {
				j.compose(st, x, words[2:])
				break
			}
			if len(words) > 2 && x.word(words[1].text) == "service" {
				j.deployCommand(st, scr, x, c, name, words, nested)
				break
			}
			j.docker(st, scr, x, c, name, words, nested)
		case "kubectl", "oc", "aws", "flyctl", "fly", "helm":
			j.deployCommand(st, scr, x, c, name, words, nested)
		case "az":
			j.deployCommand(st, scr, x, c, name, words, nested)
			j.publishCommand(st, scr, x, c, name, words, nested)
		case "goreleaser":
			var args []string
			for _, w := range words[1:] {
				args = append(args, x.word(w.text))
			}
			j.l.goreleaserRelease(args, "", j.callerNote(scr, words[0]))
		case "pack", "skaffold":
			j.publishCommand(st, scr, x, c, name, words, nested)
		case "depot":
			j.docker(st, scr, x, c, name, words, nested)
		case "make", "gmake":
			j.runMake(st, scr, x, c, words)
		case "task", "go-task":
			j.runTask(st, scr, x, c, words)
		case "just":
			j.runJust(st, scr, x, c, words)
		case "bash", "sh", "zsh", "source", ".":
			if len(words) > 1 && !strings.HasPrefix(words[1].text, "-") {
				if p := j.localScriptPath(x, words[1].text); p != "" {
					j.runLocalScript(st, scr, x, c, p, words[2:])
				}
			}
		case "docker-compose", "podman-compose":
			j.compose(st, x, words[1:])
		case "executor", "kaniko":
			j.kaniko(st, scr, x, c, words, nested)
		case "crane", "gcrane", "skopeo", "regctl":
			j.copyTool(st, scr, x, c, name, words, nested)
		case "gcloud":
			j.gcloud(st, scr, x, c, words, nested)
			j.deployCommand(st, scr, x, c, name, words, nested)
			j.publishCommand(st, scr, x, c, name, words, nested)
		case "ko":
			j.ko(st, scr, x, c, words)
		case "mvn", "mvnw", "./mvnw", "gradle", "gradlew", "./gradlew":
			j.jib(st, scr, x, c, words, nested)
		default:
			if raw := x.word(words[0].text); strings.HasPrefix(raw, "./") || strings.HasSuffix(raw, ".sh") {
				if p := j.localScriptPath(x, words[0].text); p != "" {
					j.runLocalScript(st, scr, x, c, p, words[1:])
				}
			}
		}
		return
	}
}

func (j *jobState) assign(scr *script, x *shExpander, w shTok) {
	eq := strings.IndexByte(w.text, '=')
	name := strings.TrimSuffix(w.text[:eq], "+")
	if strings.HasSuffix(w.text[:eq], "+") {
		prev, ok := x.vars[name]
		if !ok {
			prev = x.outer(name)
		}
		x.vars[name] = varDef{value: prev.value + x.word(w.text[eq+1:]), site: prev.site}
		return
	}
	d := varDef{value: x.word(w.text[eq+1:])}
	if sp := scr.span(w); sp.exact {
		d.site = &defSite{sp: sp, raw: w.text}
	}
	x.vars[name] = d
}

// echo NAME=value >> $GITHUB_ENV / $GITHUB_OUTPUT makes the value visible
// to later steps as env.NAME or steps.<id>.outputs.NAME; so do the
// NAME<<DELIM form written one echo per line, and printf with %s.
func (j *jobState) echo(st *step, scr *script, x *shExpander, cmd string, args []shTok, target string) {
	if target == "" {
		j.setOutputCommand(st, scr, x, args)
		return
	}
	interp := cmd == "printf"
	for len(args) > 0 && cmd == "echo" && (args[0].text == "-n" || args[0].text == "-e" || args[0].text == "-E") {
		interp = interp || args[0].text == "-e"
		args = args[1:]
	}
	if len(args) == 0 {
		return
	}
	var site *defSite
	if len(args) == 1 {
		if sp := scr.span(args[0]); sp.exact {
			site = &defSite{sp: sp, raw: args[0].text}
		}
	}
	var via []varDef
	for _, a := range args {
		via = append(via, x.ctx.referencedDefs(a.text, x.vars)...)
	}
	via = flatVia(via)
	vals := x.ctx.enumerate(func() string {
		if cmd == "printf" {
			f := x.word(args[0].text)
			for _, a := range args[1:] {
				f = strings.Replace(f, "%s", x.word(a.text), 1)
			}
			return f
		}
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = x.word(a.text)
		}
		return strings.Join(parts, " ")
	})
	for i, v := range vals {
		if interp {
			v = strings.ReplaceAll(v, `\n`, "\n")
		}
		vals[i] = strings.TrimSuffix(v, "\n")
	}
	if p := j.pending; p != nil && p.target == target {
		if vals[0] == p.delim {
			j.setOut(st, target, p.name, varDef{value: strings.Join(p.lines, "\n")})
			j.pending = nil
			return
		}
		// Every value a path can write is a line some run writes.
		p.lines = append(p.lines, vals...)
		return
	}
	var d varDef
	name := ""
	for _, v := range vals {
		for _, line := range strings.Split(v, "\n") {
			if k := strings.Index(line, "<<"); k > 0 && identRE.MatchString(line[:k]) && !strings.Contains(line[:k], "=") {
				j.pending = &pendingOut{target: target, name: line[:k], delim: line[k+2:]}
				continue
			}
			if p := j.pending; p != nil {
				if line == p.delim {
					j.setOut(st, target, p.name, varDef{value: strings.Join(p.lines, "\n")})
					j.pending = nil
				} else {
					p.lines = append(p.lines, line)
				}
				continue
			}
			eq := strings.IndexByte(line, '=')
			if eq <= 0 || !identRE.MatchString(line[:eq]) {
				continue
			}
			if name == "" {
				name, d = line[:eq], varDef{value: line[eq+1:], site: site, via: via}
			} else if name == line[:eq] && len(d.alts) < maxAlts {
				d.alts = append(d.alts, varDef{value: line[eq+1:], site: site, via: via})
			}
		}
	}
	if name != "" {
		j.setOut(st, target, name, d)
	}
}

// setOutputCommand reads the deprecated workflow command
// echo "::set-output name=NAME::VALUE", still common in older workflows
// (GitHub keeps honouring it unless the runner disables it).
func (j *jobState) setOutputCommand(st *step, scr *script, x *shExpander, args []shTok) {
	for len(args) > 0 && (args[0].text == "-n" || args[0].text == "-e" || args[0].text == "-E") {
		args = args[1:]
	}
	if len(args) == 0 {
		return
	}
	vals := x.ctx.enumerate(func() string {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = x.word(a.text)
		}
		return strings.Join(parts, " ")
	})
	const prefix = "::set-output name="
	var site *defSite
	if len(args) == 1 {
		if sp := scr.span(args[0]); sp.exact {
			site = &defSite{sp: sp, raw: args[0].text}
		}
	}
	var via []varDef
	for _, a := range args {
		via = append(via, x.ctx.referencedDefs(a.text, x.vars)...)
	}
	via = flatVia(via)
	var d varDef
	name := ""
	for _, v := range vals {
		if !strings.HasPrefix(v, prefix) {
			continue
		}
		rest := v[len(prefix):]
		k := strings.Index(rest, "::")
		if k <= 0 || !identRE.MatchString(rest[:k]) {
			continue
		}
		if name == "" {
			name, d = rest[:k], varDef{value: rest[k+2:], site: site, via: via}
		} else if name == rest[:k] && len(d.alts) < maxAlts {
			d.alts = append(d.alts, varDef{value: rest[k+2:], site: site, via: via})
		}
	}
	if name != "" {
		j.setOut(st, "output", name, d)
	}
}

// heredocOut reads NAME=value lines (and NAME<<DELIM blocks) of a
// here-document written to $GITHUB_ENV or $GITHUB_OUTPUT.
func (j *jobState) heredocOut(st *step, x *shExpander, target, body string, quoted bool) {
	text := body
	if !quoted {
		var b strings.Builder
		x.double(body+`"`, 0, &b)
		text = b.String()
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], "\t")
		if k := strings.Index(line, "<<"); k > 0 && identRE.MatchString(line[:k]) {
			delim := line[k+2:]
			var vals []string
			for i++; i < len(lines) && strings.TrimLeft(lines[i], "\t") != delim; i++ {
				vals = append(vals, lines[i])
			}
			j.setOut(st, target, line[:k], varDef{value: strings.Join(vals, "\n")})
			continue
		}
		if eq := strings.IndexByte(line, '='); eq > 0 && identRE.MatchString(line[:eq]) {
			j.setOut(st, target, line[:eq], varDef{value: line[eq+1:]})
		}
	}
}

func (j *jobState) setOut(st *step, target, name string, d varDef) {
	switch target {
	case "env":
		if prev, ok := j.jc.ghEnv[name]; j.branchy(st, "env."+name, prev, d) && ok {
			d = joinDefs(d, prev)
		}
		j.jc.ghEnv[name] = d
	case "output":
		if st.id == "" {
			return
		}
		if j.jc.outputs[st.id] == nil {
			j.jc.outputs[st.id] = map[string]varDef{}
		}
		if prev, ok := j.jc.outputs[st.id][name]; j.branchy(st, st.id+"."+name, prev, d) && ok {
			d = joinDefs(d, prev)
		}
		j.jc.outputs[st.id][name] = d
	}
}

// branchy: a second write of the same name in one step comes from
// another branch of the script more often than it overwrites (a step
// that writes a name twice on one path is rare), so both values are kept.
func (j *jobState) branchy(st *step, key string, prev, d varDef) bool {
	if j.wrote == nil {
		j.wrote = map[string]*step{}
	}
	same := j.wrote[key] == st
	j.wrote[key] = st
	return same && prev.value != d.value
}

var (
	dockerGlobalValue = map[string]bool{"--config": true, "-c": true, "--context": true, "-H": true, "--host": true,
		"-l": true, "--log-level": true, "--tlscacert": true, "--tlscert": true, "--tlskey": true}
	pushValueOpts = map[string]bool{"--platform": true, "--creds": true, "--authfile": true, "--cert-dir": true,
		"--format": true, "-f": true, "--digestfile": true, "--sign-by": true, "--compression-format": true,
		"--encryption-key": true, "--retry": true, "--retry-delay": true, "--sign-passphrase-file": true}
)

func (j *jobState) docker(st *step, scr *script, x *shExpander, c shCmd, tool string, words []shTok, nested bool) {
	args := words[1:]
	i := 0
	for i < len(args) && strings.HasPrefix(args[i].text, "-") {
		if dockerGlobalValue[args[i].text] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return
	}
	sub := x.word(args[i].text)
	rest := args[i+1:]
	group := ""
	if (sub == "image" || sub == "builder" || sub == "buildx" || sub == "manifest") && len(rest) > 0 {
		group = " " + sub
		sub2 := x.word(rest[0].text)
		switch {
		case sub == "buildx" && sub2 == "imagetools" && len(rest) > 1 && x.word(rest[1].text) == "create":
			sub, rest = "imagetools-create", rest[2:]
		case sub == "buildx" && sub2 == "bake":
			sub, rest = "bake", rest[1:]
		case sub == "manifest" && sub2 == "push":
			sub, rest = "manifest-push", rest[1:]
		case sub == "manifest" && (sub2 == "create" || sub2 == "annotate"):
			sub, rest = "manifest-create", rest[1:]
		case sub2 == "build" || sub == "buildx" && sub2 == "b" || sub == "image" && (sub2 == "push" || sub2 == "tag"):
			sub, rest = sub2, rest[1:]
		default:
			return
		}
	}
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	add := func(kind siteKind, pushed bool, label string, w shTok) {
		j.addSite(st, scr, x, c, kind, pushed, label, w, first, last, nested, tool != "docker")
	}
	switch sub {
	case "bake":
		if !j.bake(st, x, rest) {
			break
		}
		// --set '*.tags=REF' / --set app.tags=REF: the pushed reference
		// replaces the bake file's tags for those targets.
		for k := 0; k < len(rest); k++ {
			w := rest[k]
			if x.word(w.text) == "--set" && k+1 < len(rest) {
				w = rest[k+1]
				k++
			} else if !strings.HasPrefix(w.text, "--set=") {
				continue
			}
			i := strings.Index(w.text, ".tags=")
			if i < 0 {
				continue
			}
			off := i + len(".tags=")
			end := len(w.text)
			if q := w.text[0]; (q == '"' || q == '\'') && strings.HasSuffix(w.text, string(q)) && end-1 > off {
				end--
			}
			if strings.ContainsAny(w.text[off:end], `"'`) {
				continue
			}
			n := len(j.sites)
			add(sitePush, true, tool+" buildx bake --set", shTok{kind: w.kind, text: w.text[off:end], start: w.start + off, end: w.start + end})
			if w.text[0] == '\'' {
				// Inside single quotes a variable would not expand: the
				// finding has no edit rather than a wrong one.
				for _, s := range j.sites[n:] {
					s.sp.exact = false
				}
			}
		}
	case "manifest-create":
		for _, w := range rest {
			if !strings.HasPrefix(w.text, "-") {
				add(siteRename, false, tool+" manifest create", w)
				break
			}
		}
	case "manifest-push":
		// docker manifest push LIST pushes the list under its name;
		// podman/buildah manifest push LIST [DESTINATION] push it to the
		// destination when one is given.
		var pos []shTok
		for k := 0; k < len(rest); k++ {
			w := x.word(rest[k].text)
			switch {
			case strings.HasPrefix(w, "-") && !strings.Contains(w, "=") && pushValueOpts[w]:
				k++
			case strings.HasPrefix(w, "-"):
			default:
				pos = append(pos, rest[k])
			}
		}
		if len(pos) == 0 {
			break
		}
		ref := pos[0]
		if tool != "docker" && len(pos) > 1 {
			ref = pos[1]
		}
		add(sitePush, true, tool+" manifest push", ref)
	case "push":
		var pos []shTok
		for k := 0; k < len(rest); k++ {
			w := x.word(rest[k].text)
			switch {
			case w == "-a" || w == "--all-tags":
				// Every local tag of the repository: the job's builds and
				// tags of it are pushed.
				for _, r := range rest[k+1:] {
					if !strings.HasPrefix(r.text, "-") {
						j.allTags(x, r)
						break
					}
				}
				return
			case strings.HasPrefix(w, "-") && !strings.Contains(w, "=") && pushValueOpts[w]:
				k++
			case strings.HasPrefix(w, "-"):
			default:
				pos = append(pos, rest[k])
			}
		}
		if len(pos) == 0 {
			return
		}
		ref := pos[0]
		if tool != "docker" && len(pos) > 1 {
			ref = pos[1] // podman/buildah push SOURCE [DESTINATION]
		}
		add(sitePush, true, tool+group+" push", ref)
	case "tag":
		var pos []shTok
		for _, w := range rest {
			if !strings.HasPrefix(w.text, "-") {
				pos = append(pos, w)
			}
		}
		if len(pos) < 2 {
			return
		}
		add(siteTagSrc, false, tool+group+" tag", pos[0])
		for _, d := range pos[1:] {
			add(siteTagDst, false, tool+group+" tag", d)
			if tool == "docker" {
				break
			}
		}
	case "build", "bud", "imagetools-create":
		rest = splitWords(scr, x, rest)
		var tags []shTok
		push := sub == "imagetools-create"
		for k := 0; k < len(rest); k++ {
			w := x.word(rest[k].text)
			switch {
			case w == "-t" || w == "--tag":
				if k+1 < len(rest) {
					tags = append(tags, rest[k+1])
					k++
				}
			case strings.HasPrefix(w, "--tag=") || strings.HasPrefix(w, "-t") && len(w) > 2 && !strings.HasPrefix(w, "--"):
				// -tname / --tag=name: the reference is part of this word;
				// take the word itself with the prefix cut off.
				cut := 2
				if strings.HasPrefix(w, "--tag=") {
					cut = len("--tag=")
				}
				t := rest[k]
				if strings.HasPrefix(t.text, w[:cut]) {
					t = shTok{kind: tWord, text: t.text[cut:], start: t.start + cut, end: t.end}
					tags = append(tags, t)
				}
			case w == "--push":
				push = true
			case w == "--dry-run":
				push = false
			case w == "-o" || w == "--output":
				if k+1 < len(rest) {
					o := x.word(rest[k+1].text)
					if registryOutput(o) {
						push = true
						tags = append(tags, outputNames(rest[k+1])...)
					}
					k++
				}
			case strings.HasPrefix(w, "--output="):
				if registryOutput(w) {
					push = true
					tags = append(tags, outputNames(rest[k])...)
				}
			}
		}
		label := tool + group + " build --push -t"
		kind := siteBuild
		if sub == "imagetools-create" {
			label, kind = "docker buildx imagetools create -t", siteImagetools
		}
		for _, t := range tags {
			add(kind, push, label, t)
		}
	}
}

// addSite records a reference once per value it may take.
func (j *jobState) addSite(st *step, scr *script, x *shExpander, c shCmd, kind siteKind, pushed bool, label string, w shTok, first, last int, nested, transports bool) {
	for _, v := range x.wordAll(w.text) {
		if strings.HasPrefix(v, "docker://") {
			v = strings.TrimPrefix(v, "docker://")
		} else if transports && hasTransport(v) {
			continue // another containers/image transport: not a registry push
		}
		key := fmt.Sprintf("%d/%t/%d/%d/%s", kind, pushed, w.start, first, v)
		if j.seen == nil {
			j.seen = map[string]bool{}
		}
		if j.seen[key] {
			continue
		}
		j.seen[key] = true
		j.sites = append(j.sites, &refSite{kind: kind, pushed: pushed, label: label, value: v, raw: w.text,
			sp: scr.span(w), from: first, to: last, ctx: st.ctx, vars: maps.Clone(x.vars), cmd: c, scr: scr, nested: nested, via: w.via})
	}
}

// bake: docker buildx bake --push (or a registry output set on the
// targets) pushes the tags of the bake files it reads.
func (j *jobState) bake(st *step, x *shExpander, rest []shTok) bool {
	push := false
	var files []string
	var scope bakeScope
	for k := 0; k < len(rest); k++ {
		w := x.word(rest[k].text)
		switch {
		case w == "--push":
			push = true
		case !strings.HasPrefix(w, "-"):
			if strings.ContainsRune(w, unknownRune) || w == "" {
				scope.unknown = true
			} else {
				scope.targets = append(scope.targets, w)
			}
		case w == "--builder" || w == "--progress" || w == "--metadata-file" || w == "--allow" || w == "--call" ||
			w == "--provenance" || w == "--sbom" || w == "--var" || w == "--list":
			k++
		case w == "-f" || w == "--file":
			if k+1 < len(rest) {
				files = append(files, x.word(rest[k+1].text))
				k++
			}
		case strings.HasPrefix(w, "--file="):
			files = append(files, strings.TrimPrefix(w, "--file="))
		case w == "--set":
			if k+1 < len(rest) {
				v := x.word(rest[k+1].text)
				s := strings.ToLower(v)
				push = push || strings.Contains(s, "output=type=registry") || strings.Contains(s, "push=true")
				scope.readSet(v)
				k++
			}
		case strings.HasPrefix(w, "--set="):
			s := strings.ToLower(w)
			push = push || strings.Contains(s, "output=type=registry") || strings.Contains(s, "push=true")
			scope.readSet(strings.TrimPrefix(w, "--set="))
		}
	}
	if !push {
		return false
	}
	if len(files) == 0 {
		files = []string{"docker-bake.json", "docker-bake.override.json", "docker-bake.hcl", "docker-bake.override.hcl"}
	}
	var ok []string
	for _, f := range files {
		if !strings.ContainsRune(f, unknownRune) && !strings.Contains(f, "://") && !filepath.IsAbs(f) {
			ok = append(ok, f)
		}
	}
	env := map[string]varDef{}
	for _, m := range st.ctx.env {
		for k, v := range m {
			env[k] = v
		}
	}
	for k, v := range st.ctx.ghEnv {
		env[k] = v
	}
	for k, v := range x.vars {
		env[k] = v
	}
	j.l.lintBakeFiles(j.l.root, ok, env, scope)
	return true
}

// allTags: docker push --all-tags REPO pushes every tag the job built or
// tagged in REPO; each becomes a push at the place the tag was written.
func (j *jobState) allTags(x *shExpander, w shTok) {
	for _, repo := range x.wordAll(w.text) {
		for _, s := range append([]*refSite(nil), j.sites...) {
			if s.kind != siteBuild && s.kind != siteTagDst {
				continue
			}
			if refRepo(s.value) != repo {
				continue
			}
			p := *s
			p.kind, p.pushed, p.label = sitePush, true, "docker push --all-tags "+w.text+"` of `"+s.label
			j.sites = append(j.sites, &p)
		}
	}
}

// refRepo strips a reference's tag and digest.
func refRepo(v string) string {
	if i := strings.IndexByte(v, '@'); i >= 0 {
		v = v[:i]
	}
	if i := strings.LastIndexByte(v, ':'); i > strings.LastIndexByte(v, '/') {
		v = v[:i]
	}
	return v
}

// compose: docker compose push (and docker-compose push) pushes the image
// of each service in the compose files.
func (j *jobState) compose(st *step, x *shExpander, args []shTok) {
	var files []string
	sub := ""
	var services []string
	for k := 0; k < len(args); k++ {
		w := x.word(args[k].text)
		switch {
		case w == "-f" || w == "--file":
			if k+1 < len(args) {
				files = append(files, x.word(args[k+1].text))
				k++
			}
		case strings.HasPrefix(w, "--file="):
			files = append(files, strings.TrimPrefix(w, "--file="))
		case w == "-p" || w == "--project-name" || w == "--project-directory" || w == "--env-file" || w == "--profile":
			k++
		case strings.HasPrefix(w, "-"):
		case sub == "":
			sub = w
		default:
			services = append(services, w)
		}
	}
	if sub != "push" {
		return
	}
	if len(files) == 0 {
		files = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}
	}
	env := map[string]varDef{}
	for _, m := range st.ctx.env {
		for k, v := range m {
			env[k] = v
		}
	}
	for k, v := range st.ctx.ghEnv {
		env[k] = v
	}
	for k, v := range x.vars {
		env[k] = v
	}
	for _, f := range files {
		if strings.ContainsRune(f, unknownRune) || filepath.IsAbs(f) {
			continue
		}
		if j.l.lintCompose(filepath.Join(j.l.root, f), env, services) {
			break // compose reads the first default file it finds
		}
	}
}

// gcloud builds submit --tag IMAGE builds on Cloud Build and pushes
// IMAGE (latest when it has no tag).
func (j *jobState) gcloud(st *step, scr *script, x *shExpander, c shCmd, words []shTok, nested bool) {
	if len(words) < 3 || x.word(words[1].text) != "builds" || x.word(words[2].text) != "submit" {
		return
	}
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	for k := 3; k < len(words); k++ {
		w := x.word(words[k].text)
		switch {
		case (w == "--tag" || w == "-t") && k+1 < len(words):
			j.addSite(st, scr, x, c, sitePush, true, "gcloud builds submit --tag", words[k+1], first, last, nested, false)
			k++
		case strings.HasPrefix(w, "--tag="):
			t := words[k]
			if strings.HasPrefix(t.text, "--tag=") {
				j.addSite(st, scr, x, c, sitePush, true, "gcloud builds submit --tag", shTok{kind: tWord, text: t.text[6:], start: t.start + 6, end: t.end}, first, last, nested, false)
			}
		}
	}
}

// ko build|publish|resolve|apply pushes to $KO_DOCKER_REPO with the tag
// latest unless --tags/-t names others (or --push=false, --local).
func (j *jobState) ko(st *step, scr *script, x *shExpander, c shCmd, words []shTok) {
	if len(words) < 2 {
		return
	}
	switch x.word(words[1].text) {
	case "build", "publish", "resolve", "apply", "create":
	default:
		return
	}
	if repo := x.word("${KO_DOCKER_REPO}"); localRegistryRE.MatchString(repo) {
		return // ko.local, kind.local, a registry on the runner
	}
	tags := []string{"latest"}
	var tagTok *shTok
	for k := 2; k < len(words); k++ {
		w := x.word(words[k].text)
		switch {
		case w == "--push=false" || w == "--local" || w == "-L" || strings.HasPrefix(w, "--oci-layout-path"):
			return
		case (w == "--tags" || w == "-t") && k+1 < len(words):
			tags = strings.Split(x.word(words[k+1].text), ",")
			tagTok = &words[k+1]
			k++
		case strings.HasPrefix(w, "--tags="):
			tags = strings.Split(strings.TrimPrefix(w, "--tags="), ",")
			tagTok = &words[k]
		}
	}
	for _, t := range tags {
		if t != "latest" && !j.l.mutable[t] {
			continue
		}
		b := newFix(j.l.src)
		sp := scr.span(words[0])
		if tagTok == nil {
			// Append --tags with the commit sha after the subcommand.
			end := scr.span(words[1])
			b.replace(span{line: end.line, start: end.end, end: end.end, exact: end.exact}, ` --tags="${GITHUB_SHA}"`)
		} else {
			sp = scr.span(*tagTok)
			j.l.retag(b, sp, tagTok.text, t, false, nil)
			if i := strings.Index(tagTok.text, t); i >= 0 && len(b.repl) == 0 {
				b = newFix(j.l.src)
				b.replace(span{line: sp.line, start: sp.start + i, end: sp.start + i + len(t), exact: sp.exact}, "${GITHUB_SHA}")
			}
		}
		msg := "`ko " + x.word(words[1].text) + "` pushes the tag latest to $KO_DOCKER_REPO (its default --tags)"
		rule, sev := RuleExplicitLatest, SeverityError
		if tagTok != nil {
			msg = fmt.Sprintf("`ko %s --tags` pushes the tag %s", x.word(words[1].text), t)
			if t != "latest" {
				rule, sev = RuleMutableTag, SeverityWarning
			}
		}
		j.l.add(rule, sev, sp, msg, b.fix("tag the images with the commit sha (--tags=\"${GITHUB_SHA}\")"), sp.line, scr.span(words[len(words)-1]).line)
	}
}

// jib: mvn jib:build / gradle jib push the image named by -Dimage,
// -Djib.to.image or --image (latest when it has no tag).
func (j *jobState) jib(st *step, scr *script, x *shExpander, c shCmd, words []shTok, nested bool) {
	isJib := false
	for _, w := range words[1:] {
		v := x.word(w.text)
		if v == "jib:build" || strings.HasSuffix(v, ":jib:build") || v == "jib" || strings.HasSuffix(v, ":jib") {
			isJib = true
		}
	}
	if !isJib {
		return
	}
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	for k, w := range words[1:] {
		v := x.word(w.text)
		for _, p := range []string{"-Dimage=", "-Djib.to.image=", "--image="} {
			if strings.HasPrefix(v, p) && strings.HasPrefix(w.text, p) {
				t := shTok{kind: tWord, text: w.text[len(p):], start: w.start + len(p), end: w.end}
				j.addSite(st, scr, x, c, sitePush, true, "jib", t, first, last, nested, false)
			}
		}
		if v == "--image" && k+2 < len(words) {
			j.addSite(st, scr, x, c, sitePush, true, "jib", words[k+2], first, last, nested, false)
		}
	}
}

// kaniko: /kaniko/executor --destination REF (repeatable) pushes unless
// --no-push.
func (j *jobState) kaniko(st *step, scr *script, x *shExpander, c shCmd, words []shTok, nested bool) {
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	var dests []shTok
	push := true
	for k := 1; k < len(words); k++ {
		w := x.word(words[k].text)
		switch {
		case w == "--destination" || w == "-d":
			if k+1 < len(words) {
				dests = append(dests, words[k+1])
				k++
			}
		case strings.HasPrefix(w, "--destination=") || strings.HasPrefix(w, "-d="):
			cut := strings.IndexByte(words[k].text, '=') + 1
			t := words[k]
			if cut > 0 {
				dests = append(dests, shTok{kind: tWord, text: t.text[cut:], start: t.start + cut, end: t.end})
			}
		case w == "--no-push" || w == "--no-push=true":
			push = false
		}
	}
	if !push {
		return
	}
	for _, d := range dests {
		j.addSite(st, scr, x, c, sitePush, true, "kaniko --destination", d, first, last, nested, false)
	}
}

// copyTool: crane/gcrane copy|cp SRC DST, crane tag IMG TAG, crane push
// TARBALL REF, skopeo copy SRC docker://DST, regctl image copy SRC DST.
func (j *jobState) copyTool(st *step, scr *script, x *shExpander, c shCmd, tool string, words []shTok, nested bool) {
	if tool == "regctl" {
		j.regctl(st, scr, x, c, words, nested)
		return
	}
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	var pos []shTok
	for k := 1; k < len(words); k++ {
		w := x.word(words[k].text)
		if strings.HasPrefix(w, "-") {
			if copyValueOpts[w] && k+1 < len(words) {
				k++
			}
			continue
		}
		pos = append(pos, words[k])
	}
	if len(pos) == 0 {
		return
	}
	sub := x.word(pos[0].text)
	label := tool + " " + sub
	switch {
	case (sub == "copy" || sub == "cp") && len(pos) >= 3:
		d := pos[2]
		if tool == "skopeo" && !strings.HasPrefix(x.word(d.text), "docker://") {
			return // not a registry destination
		}
		j.addSite(st, scr, x, c, sitePush, true, label, d, first, last, nested, tool == "skopeo")
	case sub == "push" && (tool == "crane" || tool == "gcrane") && len(pos) >= 3:
		j.addSite(st, scr, x, c, sitePush, true, label, pos[2], first, last, nested, false)
	case sub == "tag" && (tool == "crane" || tool == "gcrane") && len(pos) >= 3:
		// crane tag IMG TAG: the tag lands in IMG's repository.
		j.bareTag(scr, label, x.word(pos[1].text), pos[2], x.word(pos[2].text), first, last)
	}
}

// bareTag reports a tag given without its repository (crane tag IMG TAG,
// regctl image mod IMG --create TAG): it lands in img's repository.
func (j *jobState) bareTag(scr *script, label, img string, w shTok, tag string, first, last int) {
	repo := img
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if tag != "latest" && !j.l.mutable[tag] {
		return
	}
	sp := scr.span(w)
	msg := fmt.Sprintf("`%s` pushes the tag %s (%s:%s)", label, tag, display(repo), tag)
	rule, sev := RuleExplicitLatest, SeverityError
	if tag != "latest" {
		rule, sev = RuleMutableTag, SeverityWarning
		msg = fmt.Sprintf("`%s` pushes the rolling tag %q (%s:%s)", label, tag, display(repo), tag)
	}
	if w.via != "" {
		msg += " (" + w.via + ")"
	}
	b := newFix(j.l.src)
	b.replace(sp, `"${GITHUB_SHA}"`)
	j.l.add(rule, sev, sp, msg, b.fix(fmt.Sprintf("tag with the commit sha instead of %s", tag)), first, last)
}

// regctlBoolFlags are regctl's flags that take no value; any other flag
// is read as taking one (a value mistaken for the reference would report
// a source image as pushed).
var regctlBoolFlags = map[string]bool{"--by-digest": true, "--digest-tags": true, "--referrers": true,
	"--include-external": true, "--force-recursive": true, "--fast": true, "--replace": true, "--list": true,
	"--require-list": true, "--to-oci": true, "--label-to-annotation": true, "--external-urls-rm": true,
	"--force-tag-dereference": true, "--help": true, "-h": true, "--exit-code": true}

// regctl (regclient) writes a tag with image copy SRC DST, image import
// REF FILE, image mod REF --replace / --create TAG, index create REF,
// index add|delete REF (the index is put back under REF) and manifest put
// REF; --by-digest pushes no tag.
func (j *jobState) regctl(st *step, scr *script, x *shExpander, c shCmd, words []shTok, nested bool) {
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	var pos []shTok
	flags := map[string]shTok{}
	for k := 1; k < len(words); k++ {
		w := x.word(words[k].text)
		if !strings.HasPrefix(w, "-") || w == "-" {
			pos = append(pos, words[k])
			continue
		}
		name, _, inline := strings.Cut(w, "=")
		if !inline && !regctlBoolFlags[name] && k+1 < len(words) {
			k++
			flags[name] = words[k]
			continue
		}
		flags[name] = words[k]
	}
	if len(pos) < 3 {
		return
	}
	group, sub := x.word(pos[0].text), x.word(pos[1].text)
	args := pos[2:]
	_, byDigest := flags["--by-digest"]
	var ref shTok
	switch group + " " + sub {
	case "image copy", "image cp":
		if len(args) < 2 {
			return
		}
		ref, sub = args[1], "copy"
	case "image import":
		ref = args[0]
	case "image mod":
		if cr, ok := flags["--create"]; ok {
			v := x.word(cr.text)
			if cut, ok := strings.CutPrefix(v, "--create="); ok {
				v = cut // --create=TAG: the value is inside the word
				if strings.ContainsAny(v, "/:") {
					return // a reference written inside the flag word: no edit can isolate it
				}
				cr.synthetic = true
			}
			if strings.ContainsAny(v, "/:") {
				j.addSite(st, scr, x, c, sitePush, true, "regctl image mod --create", cr, first, last, nested, false)
				return
			}
			j.bareTag(scr, "regctl image mod --create", x.word(args[0].text), cr, v, first, last)
			return
		}
		if _, ok := flags["--replace"]; !ok {
			return // the modified image is pushed by digest
		}
		// Rewritten in place: moving it to the sha tag would rewrite
		// that tag instead, so the fix is advice only.
		ref = args[0]
		ref.synthetic = true
	case "index create", "index init", "index new", "index add", "index append", "index insert",
		"index delete", "index del", "index rm", "index remove", "manifest put":
		if byDigest {
			return
		}
		ref = args[0]
		switch sub {
		case "init", "new":
			sub = "create"
		case "append", "insert", "add":
			sub, ref.synthetic = "add", true // an existing index rewritten: advice only, as for mod --replace
		case "del", "rm", "remove", "delete":
			sub, ref.synthetic = "delete", true
		}
	default:
		return
	}
	j.addSite(st, scr, x, c, sitePush, true, "regctl "+group+" "+sub, ref, first, last, nested, false)
}

var copyValueOpts = map[string]bool{"--platform": true, "--src-creds": true, "--dest-creds": true, "--authfile": true,
	"--src-authfile": true, "--dest-authfile": true, "--format": true, "-f": true, "--retry-times": true,
	"--src-cert-dir": true, "--dest-cert-dir": true, "--sign-by": true, "--src-registry-token": true,
	"--dest-registry-token": true, "--jobs": true, "-j": true}

// outputNames are the name= references of a registry --output value,
// as tokens within its word (name="a,b" lists several).
func outputNames(t shTok) []shTok {
	var out []shTok
	text := t.text
	for i := 0; i < len(text); {
		k := strings.Index(text[i:], "name=")
		if k < 0 {
			break
		}
		at := i + k
		if at > 0 && strings.IndexByte(",\"' =", text[at-1]) < 0 {
			i = at + 5
			continue // canonical-name=, not name=
		}
		v := at + len("name=")
		end := v
		for end < len(text) && strings.IndexByte(",\"' ", text[end]) < 0 {
			end++
		}
		if end > v {
			out = append(out, shTok{kind: tWord, text: text[v:end], start: t.start + v, end: t.start + end})
		}
		i = end
	}
	return out
}

func hasTransport(v string) bool {
	for _, p := range []string{"oci:", "oci-archive:", "dir:", "docker-archive:", "docker-daemon:", "containers-storage:"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

func registryOutput(o string) bool {
	o = strings.ToLower(o)
	return strings.Contains(o, "type=registry") || strings.Contains(o, "type=image") && strings.Contains(o, "push=true")
}

// finish reports the job's pushed references with a fix that renames the
// reference in every build, tag and push of the job.
func (j *jobState) finish() {
	j.deploySites()
	// Index the sites by value once: a script with many pushes (and many
	// values per push) must not cost the square of its sites.
	j.byValue = map[string][]*refSite{}
	for _, g := range j.sites {
		j.byValue[g.value] = append(j.byValue[g.value], g)
	}
	for _, s := range j.sites {
		if !(s.kind == sitePush || s.kind == siteImagetools || s.kind == siteBuild && s.pushed || s.kind == siteTagDst) {
			continue
		}
		class, tag := classifyRef(s.value, j.l.mutable)
		if class == refBranch && s.ctx.noBranch {
			continue // a tag-only job: the ref is a release tag there
		}
		if class != refImplicit && class != refLatest && class != refMutable && class != refBranch {
			continue
		}
		if s.kind == siteTagDst && j.pushes(s.value) {
			continue // the push of the same reference is reported, with this line in its fix
		}
		group := j.byValue[s.value]
		if len(group) > maxGroup {
			// Hundreds of commands with one reference: no generated fix
			// (it would cost the square of the script), only the advice.
			group = nil
		}
		// The reference after the fix. When the job already pushes it, a
		// rewritten push would push the same tag twice, which a registry
		// with immutable tags refuses: such pushes are deleted instead.
		fixed := s.value + ":" + shaStr
		if class != refImplicit {
			fixed = s.value[:strings.LastIndex(s.value, ":"+tag)+1] + shaStr
		}
		dup := j.pushesElsewhere(fixed, s)
		b := newFix(j.l.src)
		var desc, msg, rule string
		sev := SeverityError
		shown := display(s.value)
		removed := false
		for _, g := range group {
			if dup && g.kind == sitePush && isPlainPush(g.label) && removeCommand(b, g) {
				removed = true
				continue
			}
			if class == refImplicit {
				insertTag(b, g)
			} else if class == refBranch {
				j.l.retagBranch(b, g.sp, g.raw, false, g.ctx.referencedDefs(g.raw, g.vars))
			} else {
				j.l.retag(b, g.sp, g.raw, tag, false, g.ctx.referencedDefs(g.raw, g.vars))
			}
		}
		switch class {
		case refImplicit:
			rule = RuleImplicitLatest
			desc = "tag the reference explicitly with the commit sha (${GITHUB_SHA}) here and wherever this job builds or tags it"
			msg = fmt.Sprintf("`%s %s` has no tag, so it pushes %s:latest", s.label, s.raw, shown)
			if s.kind == siteTagDst {
				msg = fmt.Sprintf("`%s` target %s has no tag, so it creates %s:latest for a later push", s.label, s.raw, shown)
			}
		default:
			rule = RuleExplicitLatest
			if class == refMutable || class == refBranch {
				rule, sev = RuleMutableTag, SeverityWarning
			}
			desc = fmt.Sprintf("replace :%s with the commit sha (${GITHUB_SHA}) here and wherever this job builds or tags this reference", tag)
			if class == refBranch {
				desc = "replace the branch name with the commit sha (${GITHUB_SHA}) here and wherever this job builds or tags this reference"
				msg = fmt.Sprintf("`%s %s` pushes a tag named after the branch (%s), which every push to that branch moves%s", s.label, s.raw, shown, s.ctx.branchNote())
				if strings.Contains(s.raw, "__immutag") {
					msg = fmt.Sprintf("`%s` pushes a tag named after the branch (%s), which every push to that branch moves%s", s.label, shown, s.ctx.branchNote())
				}
				if s.kind == siteTagDst {
					msg = fmt.Sprintf("`%s` target %s is a tag named after the branch (%s), created for a later push; every push to that branch moves it", s.label, s.raw, shown)
				}
			} else if class == refLatest {
				msg = fmt.Sprintf("`%s` pushes the tag %s (%s)", s.label, tag, shown)
			} else {
				msg = fmt.Sprintf("`%s` pushes the rolling tag %q (%s)", s.label, tag, shown)
			}
			if s.kind == siteTagDst {
				msg = fmt.Sprintf("`%s` creates the tag %s (%s) for a later push", s.label, tag, shown)
			}
		}
		if removed {
			desc += "; the job already pushes that tag, so the duplicate push is removed"
		}
		if s.via != "" {
			msg += " (" + s.via + ")"
		}
		j.l.add(rule, sev, s.sp, msg, b.fix(desc), s.from, s.to)
	}
}

// isPlainPush: a docker/podman/buildah push, the only commands a fix may
// delete (a build or copy does more than push).
func isPlainPush(label string) bool {
	for _, t := range []string{"docker", "podman", "buildah", "nerdctl"} {
		if label == t+" push" || label == t+" image push" {
			return true
		}
	}
	return false
}

// pushesElsewhere: another command of the job (not s's own, whose other
// values come from other runs) pushes v.
func (j *jobState) pushesElsewhere(v string, s *refSite) bool {
	for _, o := range j.sitesOf(v) {
		if o.value == v && (o.sp.line != s.sp.line || o.sp.start != s.sp.start) && (o.kind == sitePush || o.kind == siteImagetools || o.kind == siteBuild && o.pushed) {
			return true
		}
	}
	return false
}

// maxGroup bounds the commands one fix rewrites.
const maxGroup = 64

// sitesOf lists the sites with value v (from the index once finish
// built it).
func (j *jobState) sitesOf(v string) []*refSite {
	if j.byValue != nil {
		return j.byValue[v]
	}
	var out []*refSite
	for _, s := range j.sites {
		if s.value == v {
			out = append(out, s)
		}
	}
	return out
}

func (j *jobState) pushes(v string) bool {
	for _, s := range j.sitesOf(v) {
		if s.value == v && (s.kind == sitePush || s.kind == siteImagetools || s.kind == siteBuild && s.pushed) {
			return true
		}
	}
	return false
}

// removeCommand deletes the command of a site: its whole lines when it
// stands alone, or "&& cmd" / "; cmd" when it ends a line. Anything else
// (a command inside if/then, followed by more commands) is left alone.
func removeCommand(b *fixBuilder, g *refSite) bool {
	c, scr := g.cmd, g.scr
	if g.nested || len(c.words) == 0 || shKeywords[c.words[0].text] || c.after.text != "" && c.after.text != "\n" {
		return false
	}
	v := scr.sc.value
	start, end := c.words[0].start, c.words[len(c.words)-1].end
	for _, r := range c.redirs {
		end = max(end, r.end)
		if r.target != nil {
			end = max(end, r.target.end)
		}
	}
	lineStart := strings.LastIndexByte(v[:start], '\n') + 1
	lineEnd := len(v)
	if k := strings.IndexByte(v[end:], '\n'); k >= 0 {
		lineEnd = end + k
	}
	if tail := strings.TrimSpace(v[end:lineEnd]); tail != "" && !strings.HasPrefix(tail, "#") {
		return false
	}
	if strings.TrimSpace(v[lineStart:start]) == "" && (c.before.text == "" || c.before.text == "\n") {
		first := scr.span(shTok{start: start, end: start})
		last := scr.span(shTok{start: end, end: end})
		if !first.exact || !last.exact {
			return false
		}
		for n := first.line; n <= last.line; n++ {
			b.deleteLine(n)
		}
		return true
	}
	if (c.before.text == "&&" || c.before.text == ";") && c.before.start >= lineStart {
		k := c.before.start
		for k > lineStart && (v[k-1] == ' ' || v[k-1] == '\t') {
			k--
		}
		sp := scr.span(shTok{start: k, end: end})
		if !sp.exact {
			return false
		}
		b.replace(sp, "")
		return true
	}
	return false
}

// insertTag appends :${GITHUB_SHA} to a reference as written, inside a
// closing double quote, after a closing single quote.
func insertTag(b *fixBuilder, g *refSite) {
	raw := g.raw
	at, text := len(raw), ":${GITHUB_SHA}"
	switch {
	case strings.HasSuffix(raw, `"`) && !strings.HasSuffix(raw, `\"`):
		at = len(raw) - 1
	case strings.HasSuffix(raw, `'`):
		text = `:"${GITHUB_SHA}"`
	}
	b.replace(span{line: g.sp.line, start: g.sp.start + at, end: g.sp.start + at, exact: g.sp.exact}, text)
}

// bareRefRE is an unquoted $NAME or ${NAME}, which the shell splits into
// words.
var bareRefRE = regexp.MustCompile(`^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$`)

// splitWords replaces an unquoted $VAR whose assignment in this script
// holds several words (TAGS="-t a:1 -t a:latest"; docker buildx build
// $TAGS) by those words, at their place in the assignment: bash splits
// the expansion into arguments, and a fix then edits the assignment.
// Every assignment the paths reaching the command may have run counts.
func splitWords(scr *script, x *shExpander, words []shTok) []shTok {
	var out []shTok
	for _, w := range words {
		m := bareRefRE.FindStringSubmatch(w.text)
		var parts []shTok
		if m != nil {
			d := x.vars[m[1]+m[2]]
			seen := map[int]bool{}
			for _, a := range d.all() {
				if s := a.site; s != nil && s.scr == scr && !s.yaml && !seen[s.off] {
					seen[s.off] = true
					parts = append(parts, assignedWords(s)...)
				}
			}
		}
		if len(parts) < 2 {
			out = append(out, w)
			continue
		}
		out = append(out, parts...)
	}
	return out
}

// assignedWords splits the value of NAME=value or NAME="value" into its
// words with their offsets in the script; nil when the value holds
// quotes or substitutions whose splitting is not plain.
func assignedWords(s *defSite) []shTok {
	eq := strings.IndexByte(s.raw, '=')
	if eq <= 0 {
		return nil
	}
	val, off := s.raw[eq+1:], s.off+eq+1
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val, off = val[1:len(val)-1], off+1
	}
	if strings.ContainsAny(val, "'\"`\\") || strings.Contains(val, "$(") {
		return nil
	}
	var out []shTok
	for i := 0; i < len(val); {
		if val[i] == ' ' || val[i] == '\t' || val[i] == '\n' {
			i++
			continue
		}
		j := i
		for j < len(val) && val[j] != ' ' && val[j] != '\t' && val[j] != '\n' {
			if strings.HasPrefix(val[j:], "${{") {
				k := strings.Index(val[j:], "}}")
				if k < 0 {
					return nil
				}
				j += k + 2
				continue
			}
			j++
		}
		out = append(out, shTok{kind: tWord, text: val[i:j], start: off + i, end: off + j})
		i = j
	}
	return out
}
