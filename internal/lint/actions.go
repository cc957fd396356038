package lint

import (
	"fmt"
	"strings"
)

// Third-party and older actions that push images, modelled from their
// action.yml and source: which input names the pushed tags and what they
// push when it is left out.

// isV1 reports a docker/build-push-action v1 reference (@v1, @v1.x.y).
func isV1(uses string) bool {
	i := strings.LastIndex(uses, "@")
	if i < 0 {
		return false
	}
	ref := uses[i+1:]
	return ref == "v1" || strings.HasPrefix(ref, "v1.")
}

// truthy resolves a boolean input: true, or an expression that may be.
func (l *linter) truthy(st *step, key string, def bool) bool {
	_, n := l.src.get(st.with, key)
	s, ok := l.src.str(n)
	if !ok {
		return def
	}
	r := strings.ToLower(strings.TrimSpace(strings.Join(st.ctx.resolveAll(s), "|")))
	if strings.ContainsRune(r, unknownRune) {
		return true
	}
	for _, v := range strings.Split(r, "|") {
		if v == "true" {
			return true
		}
	}
	return false
}

// tagInput reports tag names (not references) given in a comma- or
// space-separated input that an action appends to its image name.
func (l *linter) tagInput(st *step, key, action, image string, sep string) {
	_, n := l.src.get(st.with, key)
	sc := l.src.scalarOf(n)
	if sc == nil {
		return
	}
	for i, vl := range sc.lines {
		text := vl.text
		for off := 0; off < len(text); {
			// Split on the separators outside ${{ }}.
			end := off
			depth := 0
			for end < len(text) {
				if strings.HasPrefix(text[end:], "${{") {
					depth++
					end += 3
					continue
				}
				if depth > 0 && strings.HasPrefix(text[end:], "}}") {
					depth--
					end += 2
					continue
				}
				if depth == 0 && strings.ContainsRune(sep, rune(text[end])) {
					break
				}
				end++
			}
			raw := strings.TrimSpace(text[off:end])
			start := off + strings.Index(text[off:end], raw)
			off = end + 1
			if raw == "" {
				continue
			}
			sp := sc.spanAt(i, start, start+len(raw))
			var pieces []string
			for _, whole := range st.ctx.resolveAll(raw) {
				// An expression may hold a list (a caller's block of tags).
				pieces = append(pieces, strings.FieldsFunc(whole, func(r rune) bool { return r == '\n' || strings.ContainsRune(sep, r) })...)
			}
			for _, v := range pieces {
				tag := v
				if strings.Contains(v, ":") || strings.Contains(v, "/") {
					// A fully qualified reference (push-to-registry accepts them).
					class, t := classifyRef(v, l.mutable)
					if class != refLatest && class != refMutable {
						continue
					}
					tag = t
				}
				if tag != "latest" && !latestVariantRE.MatchString(tag) && !l.mutable[tag] {
					continue
				}
				b := newFix(l.src)
				if strings.TrimSpace(raw) == tag {
					b.replace(sp, "${{ github.sha }}")
				} else {
					l.retag(b, sp, raw, tag, true, st.ctx.referencedDefs(raw, nil))
				}
				rule, sev, msg := RuleExplicitLatest, SeverityError, fmt.Sprintf("%s pushes the tag %s (%s:%s)", action, tag, display(image), tag)
				if l.mutable[tag] {
					rule, sev, msg = RuleMutableTag, SeverityWarning, fmt.Sprintf("%s pushes the rolling tag %q (%s:%s)", action, tag, display(image), tag)
				}
				l.add(rule, sev, sp, msg, b.fix(fmt.Sprintf("replace the tag %s with the commit sha", tag)), st.node.Line, sp.line)
			}
		}
	}
}

func (l *linter) inputValue(st *step, key string) (string, bool) {
	_, n := l.src.get(st.with, key)
	s, ok := l.src.str(n)
	if !ok {
		return "", false
	}
	return st.ctx.resolve(s), true
}

// pushAction models actions that build and push under their own tag
// rules. It returns whether the step pushes.
func (l *linter) pushAction(st *step, action string) bool {
	at := l.src.nodeSpan(st.usesNode)
	switch action {
	case "redhat-actions/push-to-registry":
		// tags: whitespace-separated, default "latest".
		image, _ := l.inputValue(st, "image")
		if _, n := l.src.get(st.with, "tags"); n == nil {
			l.add(RuleExplicitLatest, SeverityError, at,
				fmt.Sprintf("redhat-actions/push-to-registry has no tags input, so it pushes %s:latest (the input defaults to latest)", display(image)),
				l.addInputFix(st, "tags: ${{ github.sha }}", "set the tags input to an immutable tag (the commit sha)"), st.node.Line, at.line)
			return true
		}
		l.tagInput(st, "tags", action, image, " \t")
		return true
	case "elgohr/publish-docker-github-action":
		if l.truthy(st, "no_push", false) {
			return false
		}
		name, _ := l.inputValue(st, "name")
		if _, n := l.src.get(st.with, "tags"); n != nil {
			l.tagInput(st, "tags", action, name, ",")
			return true
		}
		last := name[strings.LastIndex(name, "/")+1:]
		if strings.Contains(last, ":") || strings.ContainsRune(name, unknownRune) && strings.Contains(name, ":") {
			class, tag := classifyRef(name, l.mutable)
			if class == refLatest || class == refMutable {
				_, n := l.src.get(st.with, "name")
				sc := l.src.scalarOf(n)
				if sc != nil && len(sc.lines) == 1 {
					sp := sc.spanAt(0, 0, len(sc.lines[0].text))
					b := newFix(l.src)
					l.retag(b, sp, sc.lines[0].text, tag, true, nil)
					l.add(RuleExplicitLatest, SeverityError, sp, fmt.Sprintf("%s pushes the tag %s (%s)", action, tag, display(name)),
						b.fix(fmt.Sprintf("replace the tag %s with the commit sha", tag)), st.node.Line, sp.line)
				}
			}
			return true
		}
		// No tag: the action pushes latest on default-branch pushes and on
		// git tags unless tag_names or tag_semver is set.
		l.add(RuleExplicitLatest, SeverityError, at,
			fmt.Sprintf("%s without a tags input pushes %s:latest on every default-branch push (and on git tags unless tag_names or tag_semver is set)", action, display(name)),
			l.addInputFix(st, "tags: ${{ github.sha }}", "set the tags input to an immutable tag (the commit sha)"), st.node.Line, at.line)
		return true
	case "mr-smithers-excellent/docker-build-push":
		if !l.truthy(st, "pushImage", true) {
			return false
		}
		image, _ := l.inputValue(st, "image")
		if _, n := l.src.get(st.with, "tags"); n != nil {
			l.tagInput(st, "tags", action, image, ",")
		}
		_, tagsN := l.src.get(st.with, "tags")
		if k, n := l.src.get(st.with, "addLatest"); k != nil && l.truthy(st, "addLatest", false) && (tagsN == nil || l.truthy(st, "appendMode", false)) {
			sp := l.src.nodeSpan(n)
			b := newFix(l.src)
			if sc := l.src.scalarOf(n); sc != nil && len(sc.lines) == 1 {
				b.replace(sc.spanAt(0, 0, len(sc.lines[0].text)), "false")
			} else {
				b.fail()
			}
			l.add(RuleExplicitLatest, SeverityError, sp, fmt.Sprintf("%s addLatest adds the tag latest (%s:latest) to every push", action, display(image)),
				b.fix("set addLatest to false"), st.node.Line, sp.line)
		}
		return true
	}
	// Other actions that publish images: their tag input, when it names
	// latest (or a rolling tag) in so many words, is a visible push of it.
	// The whole path names sub-actions (owner/repo/actions/build-image).
	full := strings.ToLower(st.uses)
	if i := strings.Index(full, "@"); i >= 0 {
		full = full[:i]
	}
	action = full
	named := strings.Contains(action, "docker") || strings.Contains(action, "image") || strings.Contains(action, "container") || strings.Contains(action, "oci")
	// Builders that push when their push input says so
	// (home-assistant/builder/actions/build-image) and manifest publishers
	// (.../publish-multi-arch-manifest).
	_, pushN := l.src.get(st.with, "push")
	builds := named && strings.Contains(action, "build") && pushN != nil && l.truthy(st, "push", false)
	manifests := strings.Contains(action, "manifest") && (strings.Contains(action, "publish") || strings.Contains(action, "push"))
	if named && (strings.Contains(action, "push") || strings.Contains(action, "publish")) || builds || manifests {
		if pushN != nil && !l.truthy(st, "push", true) {
			return false
		}
		image := ""
		for _, k := range []string{"repository", "image", "image_name", "image-name", "name"} {
			if v, ok := l.inputValue(st, k); ok {
				image = v
				break
			}
		}
		for _, k := range []string{"tags", "tag", "image_tag", "image-tag", "image_tags", "image-tags"} {
			if _, n := l.src.get(st.with, k); n != nil {
				l.tagInput(st, k, action, image, ", \t")
			}
		}
		return true
	}
	if strings.Contains(st.uses, "@") && !strings.HasPrefix(st.uses, "./") && !strings.HasPrefix(st.uses, "docker://") && (pushN == nil || l.truthy(st, "push", true)) {
		l.remoteCall(st.uses, st.with, st.ctx, st.node.Line, "an action", "with")
	}
	return false
}

// addInputFix adds one input line to a block-style with: mapping.
func (l *linter) addInputFix(st *step, line, desc string) *Fix {
	b := newFix(l.src)
	if st.with == nil || len(st.with.Content) == 0 || st.with.Style != 0 {
		b.fail()
		return b.fix(desc)
	}
	k := st.with.Content[0]
	src := l.src.line(k.Line)
	off := l.src.byteOffset(k.Line, k.Column)
	if strings.TrimSpace(src[:off]) != "" {
		b.fail()
		return b.fix(desc)
	}
	b.insertBefore(k.Line, src[:off]+line)
	return b.fix(desc)
}

// buildPushV1 models docker/build-push-action v1: repository plus
// comma-separated tag names, push defaulting to true, and tag_with_ref,
// which tags a push of the master branch latest.
func (l *linter) buildPushV1(st *step, tr triggers) bool {
	if !l.truthy(st, "push", true) {
		return false
	}
	repo, _ := l.inputValue(st, "repository")
	if reg, ok := l.inputValue(st, "registry"); ok && reg != "" {
		repo = reg + "/" + repo
	}
	l.tagInput(st, "tags", "docker/build-push-action@v1", repo, ",")
	if k, n := l.src.get(st.with, "tag_with_ref"); k != nil && l.truthy(st, "tag_with_ref", false) {
		master := !tr.branchFiltered
		for _, b := range tr.branches {
			master = master || b == "master"
		}
		if master {
			sp := l.src.nodeSpan(n)
			b := newFix(l.src)
			if sc := l.src.scalarOf(n); sc != nil && len(sc.lines) == 1 {
				b.replace(sc.spanAt(0, 0, len(sc.lines[0].text)), "false")
			} else {
				b.fail()
			}
			l.add(RuleExplicitLatest, SeverityError, sp,
				fmt.Sprintf("docker/build-push-action@v1 tag_with_ref tags a push of the master branch %s:latest", display(repo)),
				b.fix("set tag_with_ref to false and tag_with_sha to true"), st.node.Line, sp.line)
		}
	}
	return true
}
