package lint

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// goreleaser release pushes the images its configuration names: dockers
// image_templates, docker_manifests name_template, dockers_v2 images x
// tags and kos tags. The configuration is linted when a step runs a
// release that publishes (not --snapshot, not --skip=publish), and its
// findings are reported there, naming the step.

// goreleaserDefaults are the files goreleaser reads without --config.
var goreleaserDefaults = []string{".goreleaser.yml", ".goreleaser.yaml", "goreleaser.yml", "goreleaser.yaml"}

// goreleaserRelease inspects a goreleaser command line (the action's
// args input or the words after `goreleaser`) and lints the configuration
// a publishing release reads.
func (l *linter) goreleaserRelease(args []string, workdir string, note string) {
	if l.root == "" || l.depth >= 3 {
		return
	}
	release := len(args) == 0
	config := ""
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "release":
			release = true
		case a == "--snapshot" || a == "--skip-publish" || a == "--skip=publish" || strings.HasPrefix(a, "--skip=") && strings.Contains(a, "publish"):
			return
		case (a == "-f" || a == "--config") && k+1 < len(args):
			config = args[k+1]
			k++
		case strings.HasPrefix(a, "-f=") || strings.HasPrefix(a, "--config="):
			config = a[strings.IndexByte(a, '=')+1:]
		}
	}
	if !release {
		return
	}
	candidates := goreleaserDefaults
	if config != "" {
		candidates = []string{config}
	}
	for _, c := range candidates {
		if c == "" || strings.ContainsAny(c, unknownStr+safeStr+shaStr+branchStr) || filepath.IsAbs(c) || strings.HasPrefix(filepath.Clean(c), "..") {
			return
		}
		if l.lintGoreleaser(filepath.Join(l.root, workdir, c), note) {
			return
		}
	}
}

// goreleaserTmplRE: a template action, which makes the text unknown
// unless it is written around it (latest-{{ .Arch }} is still latest).
var goreleaserTmplRE = regexp.MustCompile(`\{\{[^}]*\}\}`)

func (l *linter) lintGoreleaser(path, note string) bool {
	src, err := readLocal(path)
	if err != nil || oddLineBreak(path, src) != nil {
		return false
	}
	sub := newLinter(path, src, l.cfg)
	sub.depth = l.depth + 1
	docs, _ := parseDocuments(path, src)
	for _, d := range docs {
		top := sub.src.deref(d)
		report := func(list *yaml.Node, item *yaml.Node, ref, what string) {
			v := goreleaserTmplRE.ReplaceAllString(ref, "tmpl")
			class, tag := classifyRef(v, sub.mutable)
			if strings.HasSuffix(what, " tags") {
				class, tag = classifyRef("image:"+v, sub.mutable)
			}
			if class != refLatest && class != refMutable && class != refImplicit {
				return
			}
			sp := sub.src.nodeSpan(item)
			b := newFix(sub.src)
			// Deleted only while another entry still names an image.
			keeps := false
			for _, o := range sub.src.items(list) {
				if os, ok := sub.src.str(o); ok && o != item {
					ov := goreleaserTmplRE.ReplaceAllString(os, "tmpl")
					if strings.HasSuffix(what, " tags") {
						ov = "image:" + ov
					}
					if c, _ := classifyRef(ov, sub.mutable); c == refFine {
						keeps = true
					}
				}
			}
			if keeps && item.Line != list.Line && !strings.Contains(item.Value, "\n") && strings.HasPrefix(strings.TrimSpace(sub.src.line(item.Line)), "- ") {
				b.deleteLine(item.Line)
			} else {
				b.fail()
			}
			rule, sev := RuleExplicitLatest, SeverityError
			msg := fmt.Sprintf("goreleaser %s pushes the tag %s (%s) on every release", what, tag, ref)
			switch class {
			case refMutable:
				rule, sev = RuleMutableTag, SeverityWarning
				msg = fmt.Sprintf("goreleaser %s pushes the rolling tag %q (%s) on every release", what, tag, ref)
			case refImplicit:
				rule = RuleImplicitLatest
				msg = fmt.Sprintf("goreleaser %s %s has no tag, so every release pushes latest", what, ref)
			}
			sub.add(rule, sev, sp, msg+note, b.fix("remove the entry: the release's own tag ({{ .Tag }} or {{ .Version }}) is immutable"))
		}
		skipPush := func(it *yaml.Node) bool {
			_, sp := sub.src.get(it, "skip_push")
			s, _ := sub.src.str(sp)
			return s == "true"
		}
		_, dockers := sub.src.get(top, "dockers")
		for _, it := range sub.src.items(dockers) {
			if skipPush(it) {
				continue
			}
			_, tpl := sub.src.get(it, "image_templates")
			for _, t := range sub.src.items(tpl) {
				if s, ok := sub.src.str(t); ok {
					report(tpl, t, s, "dockers image_templates")
				}
			}
		}
		_, manifests := sub.src.get(top, "docker_manifests")
		for _, it := range sub.src.items(manifests) {
			if skipPush(it) {
				continue
			}
			_, name := sub.src.get(it, "name_template")
			if s, ok := sub.src.str(name); ok {
				report(nil, name, s, "docker_manifests name_template")
			}
		}
		for _, key := range []string{"dockers_v2", "kos"} {
			_, list := sub.src.get(top, key)
			for _, it := range sub.src.items(list) {
				if skipPush(it) {
					continue
				}
				_, tags := sub.src.get(it, "tags")
				for _, t := range sub.src.items(tags) {
					if s, ok := sub.src.str(t); ok {
						report(tags, t, s, key+" tags")
					}
				}
			}
		}
	}
	sub.applySuppressions()
	l.extra = append(l.extra, sub.findings...)
	return true
}

// goreleaserStep: goreleaser/goreleaser-action runs `goreleaser ARGS` in
// its workdir.
func (l *linter) goreleaserStep(st *step) {
	args, _ := l.inputValue(st, "args")
	workdir, _ := l.inputValue(st, "workdir")
	if strings.ContainsAny(workdir, unknownStr) || filepath.IsAbs(workdir) {
		return
	}
	l.goreleaserRelease(strings.Fields(args), workdir, fmt.Sprintf(" (run by %s:%d)", filepath.Base(l.src.file), st.node.Line))
}
