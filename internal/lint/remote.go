package lint

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// remoteTagKeyRE: with: inputs that hand image tags (or tagged references)
// to a workflow or action in another repository. Inputs named after git
// tags, releases, versions or base images are not among them.
var remoteTagKeyRE = regexp.MustCompile(`^(?:(?:image|images|docker|container|oci|extra|additional|meta|push|target|dest|destination)[_-]?)?tags?$|^(?:image|docker|container)[_-]?tags?[_-]?(?:list|names?)?$|^(?:image|docker|container)[_-]?version$`)

// imageInputRE: inputs that show a call builds or ships an image.
var imageInputRE = regexp.MustCompile(`^(image|images|image[_-]?names?|image[_-]?repo(sitory)?|docker[_-]?image|container[_-]?image|dockerfile|docker[_-]?file|registry|docker[_-]?registry|platforms)$`)

// imageCall: the callee's name says it handles images.
func imageCall(uses string) bool {
	u := strings.ToLower(uses)
	if i := strings.Index(u, "@"); i >= 0 {
		u = u[:i]
	}
	for _, w := range []string{"docker", "image", "container", "oci", "registry", "ghcr", "ecr", "gcr", "acr", "quay", "kaniko", "buildah", "podman"} {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// remoteWorkflowRE: a reusable workflow in another repository.
var remoteWorkflowRE = regexp.MustCompile(`^[^./][^/]*/[^/]+/\.github/workflows/[^@]+@`)

// remoteCall reports a call whose callee cannot be read offline (a
// reusable workflow or an action in another repository) when a tag input
// it is given names latest, a rolling tag or the branch: what the callee
// does with its input is not known here, but an input meant for image
// tags is there to be pushed.
func (l *linter) remoteCall(uses string, with *yaml.Node, ctx *evalCtx, scopeLine int, what, label string) {
	sha := "${{ github.sha }}"
	if l.src.gitlab {
		sha = "${CI_COMMIT_SHA}"
	}
	imagey := imageCall(uses)
	for _, p := range l.src.pairs(with) {
		if imageInputRE.MatchString(strings.ToLower(p.key.Value)) {
			imagey = true
		}
	}
	for _, p := range l.src.pairs(with) {
		k := strings.ToLower(p.key.Value)
		pushedImage := (k == "image" || k == "images" || k == "image_name" || k == "image-name") && pushInput(l, with, ctx) ||
			l.src.gitlab && gitlabImageVarRE.MatchString(k) && !pulledImageVarRE.MatchString(k)
		if !pushedImage && (!remoteTagKeyRE.MatchString(k) || (k == "tag" || k == "tags") && !imagey) {
			// A bare tag input of a release action names a git tag.
			continue
		}
		sc := l.src.scalarOf(p.value)
		if sc == nil {
			continue
		}
		for i, vl := range sc.lines {
			for _, e := range remoteEntries(vl.text) {
				sp := sc.spanAt(i, e.start, e.end)
				seen := map[string]bool{}
				vals := ctx.resolveAll(e.text)
				if l.src.gitlab {
					// GitLab expands $VAR in variables and inputs.
					vals = (&shExpander{ctx: ctx, vars: map[string]varDef{}}).wordAll(e.text)
				}
				for _, v := range vals {
					for _, piece := range splitRendered(v) {
						piece = strings.Trim(piece, `"'`)
						ref := piece
						if pushedImage && !strings.Contains(piece, ":") {
							continue // an image name without a tag: the callee may add one
						}
						if !strings.ContainsAny(piece, ":/") {
							ref = "image:" + piece
						}
						class, tag := classifyRef(ref, l.mutable)
						if seen[piece] || class == refBranch && ctx.noBranch {
							continue
						}
						seen[piece] = true
						b := newFix(l.src)
						rule, sev := RuleMutableTag, SeverityWarning
						var msg string
						switch class {
						case refLatest, refMutable:
							if e.text == tag {
								b.replace(sp, sha)
							} else {
								l.retag(b, sp, e.text, tag, true, ctx.referencedDefs(e.text, nil))
							}
							if class == refLatest {
								rule, sev = RuleExplicitLatest, SeverityError
								msg = fmt.Sprintf("%s: %s passes the tag %s", label, p.key.Value, tag)
							} else {
								msg = fmt.Sprintf("%s: %s passes the rolling tag %q", label, p.key.Value, tag)
							}
						case refBranch:
							l.retagBranch(b, sp, e.text, true, ctx.referencedDefs(e.text, nil))
							msg = fmt.Sprintf("%s: %s passes a tag named after the branch", label, p.key.Value)
							tag = "the branch name"
						default:
							continue
						}
						if piece != tag && strings.ContainsAny(piece, ":/") {
							msg += fmt.Sprintf(" (%s)", display(piece))
						}
						note := ""
						if class == refBranch {
							note = ctx.branchNote()
						}
						msg += fmt.Sprintf(" to %s, %s that was not read (it is in another repository); an image tag input is pushed as given, so the tag moves on every run%s",
							uses, what, note)
						l.add(rule, sev, sp, msg, b.fix(fmt.Sprintf("pass an immutable tag (the commit sha) instead of %s", tag)), scopeLine, sp.line)
					}
				}
			}
		}
	}
}

type remoteEntry struct {
	text       string
	start, end int
}

// remoteEntries splits one line of an input into its entries: commas and
// blanks outside ${{ }}, with quotes around an entry dropped.
func remoteEntries(text string) []remoteEntry {
	var out []remoteEntry
	depth, start := 0, -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		a, b := start, end
		for a < b && (text[a] == '"' || text[a] == '\'') {
			a++
		}
		for b > a && (text[b-1] == '"' || text[b-1] == '\'') {
			b--
		}
		if a < b {
			out = append(out, remoteEntry{text: text[a:b], start: a, end: b})
		}
		start = -1
	}
	for i := 0; i < len(text); i++ {
		switch {
		case strings.HasPrefix(text[i:], "${{"):
			if start < 0 {
				start = i
			}
			depth++
			i += 2
		case depth > 0 && strings.HasPrefix(text[i:], "}}"):
			depth--
			i++
		case depth == 0 && (text[i] == ',' || text[i] == ' ' || text[i] == '\t'):
			flush(i)
		case depth == 0 && text[i] == '#' && (i == 0 || text[i-1] == ' '):
			flush(i)
			return out
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(text))
	return out
}

// pushInput: the call's push input is true (or may be).
func pushInput(l *linter, with *yaml.Node, ctx *evalCtx) bool {
	_, n := l.src.get(with, "push")
	v, ok := l.src.str(n)
	if !ok {
		return false
	}
	r := strings.ToLower(strings.Join(ctx.resolveAll(v), "|"))
	return strings.Contains(r, "true") || strings.ContainsRune(r, unknownRune)
}

// gitlabImageVarRE: GitLab variables holding a whole tagged reference
// (DOCKER_IMAGE_NAME: $CI_REGISTRY_IMAGE:$CI_COMMIT_REF_SLUG) a template
// builds and pushes.
var gitlabImageVarRE = regexp.MustCompile(`^(?:[a-z0-9]+_)*image(?:_name|_ref|_uri)?$`)

// pulledImageVarRE: image variables that name what a job pulls (a base
// image, a builder, a service), not what it pushes.
var pulledImageVarRE = regexp.MustCompile(`^(base|builder|build|runtime|from|ci|cache|test|service|job|runner|parent|source|src|golang|node|python)_`)

// gitlabRemoteIncludes: include: entries the linter cannot read (another
// project, a remote URL, a template, a component), by name.
func (l *linter) gitlabRemoteIncludes(n *yaml.Node) (names []string, components []*yaml.Node) {
	n = l.src.deref(n)
	if n == nil {
		return nil, nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = l.src.items(n)
	}
	for _, it := range items {
		if s, ok := l.src.str(it); ok {
			if strings.Contains(s, "://") {
				names = append(names, s)
			}
			continue
		}
		for _, k := range []string{"project", "remote", "template", "component"} {
			if _, v := l.src.get(it, k); v != nil {
				s, _ := l.src.str(v)
				names = append(names, s)
				if k == "component" {
					components = append(components, it)
				}
			}
		}
	}
	return names, components
}
