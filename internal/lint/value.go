package lint

import (
	"regexp"
	"strings"
)

// Resolved values carry two private-use runes for the parts the linter
// cannot know statically.
const (
	// unknownRune stands for text that may hold anything, a tag included.
	unknownRune = '\uE000'
	// safeRune stands for unknown text that cannot hold a tag or digest
	// separator (an owner/repository name such as github.repository).
	safeRune = '\uE001'
	// shaRune stands for the commit sha: unknown, but an immutable tag.
	shaRune = '\uE002'
)

var (
	unknownStr = string(unknownRune)
	safeStr    = string(safeRune)
	shaStr     = string(shaRune)
)

// defSite is where a variable's literal text was written, so a fix can
// change the definition when a reference only names the variable.
type defSite struct {
	sp   span
	raw  string
	yaml bool // a YAML input/env value (expression syntax) rather than shell
}

type varDef struct {
	value string
	site  *defSite
}

// evalCtx resolves ${{ }} expressions and shell variables for one step.
type evalCtx struct {
	env     []map[string]varDef // outermost first
	ghEnv   map[string]varDef   // written to $GITHUB_ENV by earlier steps of the job
	outputs map[string]map[string]varDef
}

func (c *evalCtx) lookupEnv(name string) (varDef, bool) {
	for i := len(c.env) - 1; i >= 0; i-- {
		if v, ok := c.env[i][name]; ok {
			return v, true
		}
	}
	if v, ok := c.ghEnv[name]; ok {
		return v, true
	}
	return varDef{}, false
}

// safeContexts name GitHub context values that hold no ':' or '@': an
// image path built from them ends without a tag unless one is written.
var safeContexts = map[string]bool{
	"github.repository": true, "github.repository_owner": true, "github.actor": true,
	"github.triggering_actor": true, "github.event.repository.name": true,
	"github.event.repository.full_name": true, "github.event.repository.owner.login": true,
}

var (
	identRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	envRefRE = regexp.MustCompile(`^env\.([A-Za-z_][A-Za-z0-9_-]*)$`)
	envIdxRE = regexp.MustCompile(`^env\[\s*'([A-Za-z_][A-Za-z0-9_-]*)'\s*\]$`)
	outRE    = regexp.MustCompile(`^steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)$`)
)

// expr resolves the inside of one ${{ }} expression.
func (c *evalCtx) expr(inner string) (varDef, bool) {
	e := strings.TrimSpace(inner)
	if safeContexts[e] {
		return varDef{value: safeStr}, true
	}
	if e == "github.sha" {
		return varDef{value: shaStr}, true
	}
	if m := envRefRE.FindStringSubmatch(e); m != nil {
		return c.lookupEnv(m[1])
	}
	if m := envIdxRE.FindStringSubmatch(e); m != nil {
		return c.lookupEnv(m[1])
	}
	if m := outRE.FindStringSubmatch(e); m != nil {
		if o, ok := c.outputs[m[1]]; ok {
			v, ok := o[m[2]]
			return v, ok
		}
	}
	return varDef{}, false
}

// resolve substitutes every ${{ }} expression in text.
func (c *evalCtx) resolve(text string) string {
	if !strings.Contains(text, "${{") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "${{")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		j := strings.Index(text[i+3:], "}}")
		if j < 0 {
			b.WriteString(unknownStr)
			return b.String()
		}
		if v, ok := c.expr(text[i+3 : i+3+j]); ok {
			b.WriteString(v.value)
		} else {
			b.WriteString(unknownStr)
		}
		text = text[i+3+j+2:]
	}
}

// referencedDefs lists the definitions a raw word names through env
// expressions or shell variables, for fixes that must edit a definition.
func (c *evalCtx) referencedDefs(raw string, shellVars map[string]varDef) []varDef {
	var out []varDef
	for _, m := range exprRE.FindAllStringSubmatch(raw, -1) {
		if v, ok := c.expr(m[1]); ok && v.site != nil {
			out = append(out, v)
		}
	}
	if shellVars != nil {
		for _, m := range shellVarRE.FindAllStringSubmatch(raw, -1) {
			name := m[1]
			if name == "" {
				name = m[2]
			}
			if v, ok := shellVars[name]; ok {
				if v.site != nil {
					out = append(out, v)
				}
				continue
			}
			if v, ok := c.lookupEnv(name); ok && v.site != nil {
				out = append(out, v)
			}
		}
	}
	return out
}

var (
	exprRE     = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	shellVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
)

type refClass int

const (
	refUnknown  refClass = iota // cannot tell statically
	refFine                     // explicit tag that is not mutable, or a digest
	refImplicit                 // no tag: latest
	refLatest                   // :latest
	refMutable                  // a configured rolling tag
)

// classifyRef grades a resolved image reference. Unknown parts make the
// answer unknown rather than a guess: a linter that cries wolf is ignored.
func classifyRef(v string, mutable map[string]bool) (refClass, string) {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, " \t\n") || strings.HasPrefix(v, "-") {
		return refUnknown, ""
	}
	if strings.Contains(v, "@") {
		return refFine, ""
	}
	last := v
	if i := strings.LastIndex(v, "/"); i >= 0 {
		last = v[i+1:]
	}
	if c := strings.LastIndex(last, ":"); c >= 0 {
		tag := last[c+1:]
		if tag == "" || strings.ContainsRune(tag, unknownRune) {
			return refUnknown, ""
		}
		switch {
		case tag == "latest":
			return refLatest, tag
		case mutable[tag]:
			return refMutable, tag
		}
		return refFine, tag
	}
	if last == "" || strings.ContainsRune(last, unknownRune) {
		return refUnknown, ""
	}
	if !plausibleRef(v) {
		return refUnknown, ""
	}
	return refImplicit, ""
}

// plausibleRef accepts what can be a repository path once unknown parts
// (registry host variables) are filled in.
func plausibleRef(v string) bool {
	letters := false
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == safeRune || r == shaRune:
			letters = true
		case r == '.' || r == '_' || r == '-' || r == '/' || r == ':' || r == unknownRune:
		default:
			return false
		}
	}
	return letters
}

// display renders a resolved value for messages.
func display(v string) string {
	v = strings.ReplaceAll(v, unknownStr, "…")
	v = strings.ReplaceAll(v, shaStr, "<sha>")
	return strings.ReplaceAll(v, safeStr, "<owner/repo>")
}
