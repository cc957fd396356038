package iac

import (
	"fmt"
	"slices"
	"strings"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// Terraform resource types that set tag immutability.
const (
	tfECR          = "aws_ecr_repository"
	tfECRTemplate  = "aws_ecr_repository_creation_template"
	tfAR           = "google_artifact_registry_repository"
	tfHub          = "docker_hub_repository"
	tfHubImmutable = "docker_hub_repository_immutable_tags"
	// tfHubLegacy is the community BarnabyShearer/dockerhub provider's
	// repository: it has no immutable tags setting at all.
	tfHubLegacy    = "dockerhub_repository"
	tfHarborProj   = "harbor_project"
	tfHarborRule   = "harbor_immutable_tag_rule"
	tfGitLab       = "gitlab_project_container_tag_protection"
	cfnECR         = "AWS::ECR::Repository"
	cfnECRTemplate = "AWS::ECR::RepositoryCreationTemplate"
	// The pull-through cache rules create repositories on first pull,
	// as the creation template for PULL_THROUGH_CACHE says.
	tfECRPTC  = "aws_ecr_pull_through_cache_rule"
	cfnECRPTC = "AWS::ECR::PullThroughCacheRule"
)

// The google-beta provider declares the same resource; the ECR types are
// also reachable through older and newer provider versions that spell
// nothing differently, so a type set is enough.
var terraformTypes = map[string]bool{
	tfECR: true, tfECRTemplate: true, tfAR: true, tfHub: true, tfHubImmutable: true, tfHubLegacy: true,
	tfHarborProj: true, tfHarborRule: true, tfGitLab: true, tfECRPTC: true,
}

// Native ECR settings.
const (
	ecrImmutable        = "IMMUTABLE"
	ecrMutable          = "MUTABLE"
	ecrImmutableExclude = "IMMUTABLE_WITH_EXCLUSION"
	ecrMutableExclude   = "MUTABLE_WITH_EXCLUSION"
)

// Reasons the live adapters give for default exemptions.
const (
	arRemoteReason    = "remote/virtual repository: a read-only mirror or aggregate; its tags follow the upstream"
	harborProxyReason = "proxy-cache project: tags mirror an upstream registry"
)

// opKind is one kind of change to a declaration.
type opKind int

const (
	// opSet sets path (attribute, or block.attribute) to value, creating
	// the block when needed.
	opSet opKind = iota
	// opRemove removes the attribute or every block (static and dynamic)
	// named path[0], except static blocks whose keyAttr is in keep.
	opRemove
	// opAddResource adds text as a new declaration after the resource.
	opAddResource
)

type op struct {
	kind    opKind
	path    []string
	value   any
	keyAttr string
	keep    []string
	text    string
}

func (o op) String() string {
	switch o.kind {
	case opSet:
		return "set " + strings.Join(o.path, ".") + " = " + literal(o.value)
	case opRemove:
		if len(o.keep) > 0 {
			return fmt.Sprintf("remove %s except %s", o.path[0], quoteAll(o.keep))
		}
		return "remove " + o.path[0]
	case opAddResource:
		return "add " + strings.TrimSpace(strings.SplitN(o.text, "{", 2)[0])
	}
	return ""
}

func describe(ops []op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = o.String()
	}
	return strings.Join(s, "; ")
}

// literal renders a value as Terraform would write it (also readable for
// CloudFormation).
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case bool:
		return fmt.Sprint(x)
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = literal(e)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s := make([]string, len(keys))
		for i, k := range keys {
			s[i] = k + " = " + literal(x[k])
		}
		return "{ " + strings.Join(s, ", ") + " }"
	}
	return fmt.Sprint(v)
}

func quoteAll(ps []string) string {
	q := make([]string, len(ps))
	for i, p := range ps {
		q[i] = fmt.Sprintf("%q", p)
	}
	return strings.Join(q, ", ")
}

// unknownIm is the immutability of a setting the scan cannot read.
func unknownIm(field, why string) providers.Immutability {
	return providers.Immutability{Mode: providers.ModeUnknown, Error: field + " is not known: " + why}
}

// ecrImmutability maps an ECR setting as the ECR adapter does: a missing
// setting is the API default MUTABLE, exclusions on an immutable
// repository stay mutable, and MUTABLE_WITH_EXCLUSION leaves every other
// tag mutable.
func ecrImmutability(field, native string, present bool, why string, filters []string, fwhy string) providers.Immutability {
	if why != "" {
		return unknownIm(field, why)
	}
	if fwhy != "" {
		return unknownIm(field+" exclusion filters", fwhy)
	}
	im := providers.Immutability{Native: native}
	if !present {
		native = ecrMutable
		im.Native = ecrMutable
		im.Note = field + " is not set: the default is MUTABLE"
	}
	switch native {
	case ecrImmutable:
		im.Mode = providers.ModeImmutable
		if len(filters) > 0 {
			im.Mode, im.MutablePatterns = providers.ModePartial, filters
		}
	case ecrMutable:
		im.Mode = providers.ModeMutable
	case ecrImmutableExclude:
		im.Mode, im.MutablePatterns = providers.ModePartial, filters
	case ecrMutableExclude:
		im.Mode = providers.ModePartial
		im.ImmutablePatterns = filters
		im.MutablePatterns = []string{"*"}
		im.Note = "only tags matching the filters are immutable; every other tag can be overwritten"
	default:
		im.Mode = providers.ModeUnknown
		im.Error = fmt.Sprintf("unrecognised %s %q", field, native)
	}
	return im
}

// ecrFilterPatterns reads exclusion filters; a type other than WILDCARD
// keeps its name as a prefix so it never equals an allowed pattern.
func ecrFilterPatterns(objs []attrs, valueKey, typeKey string) ([]string, string) {
	var out []string
	for _, o := range objs {
		v, ok, why := o.str(valueKey)
		if why != "" {
			return nil, why
		}
		if !ok {
			return nil, valueKey + " is missing"
		}
		t, tok, twhy := o.str(typeKey)
		if twhy != "" {
			return nil, twhy
		}
		if tok && t != "" && t != "WILDCARD" {
			v = t + ":" + v
		}
		out = append(out, v)
	}
	return out, ""
}

// ecrTarget is the setting a fix writes: IMMUTABLE, or
// IMMUTABLE_WITH_EXCLUSION keeping only exclusions the policy allows on
// an already excluding repository. It never adds an exclusion.
func ecrTarget(im providers.Immutability, allowed []string) (native string, keep []string) {
	if im.Native == ecrImmutableExclude {
		for _, p := range im.MutablePatterns {
			if slices.ContainsFunc(allowed, func(a string) bool { return strings.TrimSpace(a) == strings.TrimSpace(p) && p != "" }) {
				keep = append(keep, p)
			}
		}
	}
	if len(keep) > 0 {
		return ecrImmutableExclude, keep
	}
	return ecrImmutable, nil
}

// universalRegex reports whether a regular-expression rule matches every
// tag, as the Docker Hub adapter decides it.
func universalRegex(r string) bool {
	r = strings.TrimSpace(r)
	r = strings.TrimPrefix(r, "^")
	r = strings.TrimSuffix(r, "$")
	if strings.HasPrefix(r, "(") && strings.HasSuffix(r, ")") {
		r = strings.TrimPrefix(r[1:len(r)-1], "?:")
	}
	return r == ".*" || r == ".+"
}

// hubImmutability follows the Docker Hub adapter: enabled is
// authoritative; a universal rule makes every tag immutable; other rules
// leave every other tag mutable. Rules default to [".*"] when enabled.
func hubImmutability(field string, enabled, enPresent bool, enWhy string, rules []string, rulesPresent bool, rulesWhy string) providers.Immutability {
	if enWhy != "" {
		return unknownIm(field+".enabled", enWhy)
	}
	if !enPresent || !enabled {
		im := providers.Immutability{Mode: providers.ModeMutable, Native: "enabled=false"}
		if !enPresent {
			im.Note = field + " is not set: immutable tags are off by default"
		}
		return im
	}
	if rulesWhy != "" {
		return unknownIm(field+".rules", rulesWhy)
	}
	if !rulesPresent {
		rules = []string{".*"}
	}
	im := providers.Immutability{Native: fmt.Sprintf("enabled=true rules=[%s]", strings.Join(rules, " ")), ImmutablePatterns: rules}
	if slices.ContainsFunc(rules, universalRegex) {
		im.Mode = providers.ModeImmutable
		return im
	}
	im.Mode = providers.ModePartial
	im.MutablePatterns = []string{"*"}
	im.Note = "only tags matching the immutable rules (regular expressions) are immutable; every other tag stays mutable, reported as \"*\""
	return im
}

func harborAllTags(p string) bool {
	switch strings.TrimSpace(p) {
	case "", "*", "**":
		return true
	}
	return false
}

func splitBraces(p string) []string {
	p = strings.TrimSpace(p)
	if len(p) > 2 && p[0] == '{' && p[len(p)-1] == '}' && !strings.ContainsAny(p[1:len(p)-1], "{}\\") {
		var out []string
		for _, a := range strings.Split(p[1:len(p)-1], ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return []string{p}
}

// classify fills in what a resource of a known type says about
// immutability. ok is false for a resource that is not a container
// repository (an Artifact Registry repository of another format).
func classify(r *Resource, a attrs) (ok bool) {
	switch r.Type {
	case tfECR:
		r.Kind = providers.KindECR
		r.Name, r.NameKnown = nameOf(a, "name")
		native, present, why := a.str("image_tag_mutability")
		objs, fwhy := a.objects("image_tag_mutability_exclusion_filter")
		filters, fwhy2 := ecrFilterPatterns(objs, "filter", "filter_type")
		r.Immutability = ecrImmutability("image_tag_mutability", native, present, why, filters, fwhy+fwhy2)
		r.fixer = func(allowed []string) []op { return ecrTFFix(r.Immutability, allowed) }
	case tfECRTemplate:
		r.Kind = providers.KindECR
		r.Name, r.NameKnown = nameOf(a, "prefix")
		r.Name = "template:" + r.Name
		native, present, why := a.str("image_tag_mutability")
		objs, fwhy := a.objects("image_tag_mutability_exclusion_filter")
		filters, fwhy2 := ecrFilterPatterns(objs, "filter", "filter_type")
		r.Immutability = ecrImmutability("image_tag_mutability", native, present, why, filters, fwhy+fwhy2)
		r.fixer = func(allowed []string) []op { return ecrTFFix(r.Immutability, allowed) }
		r.DefaultExemption = ptcOnly(a, "applied_for", r.Name)
		fors, _, _ := a.strings("applied_for")
		r.forPTC = slices.Contains(fors, "PULL_THROUGH_CACHE")
	case cfnECR, cfnECRTemplate:
		r.Kind = providers.KindECR
		if r.Type == cfnECR {
			r.Name, r.NameKnown = nameOf(a, "RepositoryName")
		} else {
			r.Name, r.NameKnown = nameOf(a, "Prefix")
			r.Name = "template:" + r.Name
		}
		native, present, why := a.str("ImageTagMutability")
		objs, fwhy := a.objects("ImageTagMutabilityExclusionFilters")
		filters, fwhy2 := ecrFilterPatterns(objs, "ImageTagMutabilityExclusionFilterValue", "ImageTagMutabilityExclusionFilterType")
		r.Immutability = ecrImmutability("ImageTagMutability", native, present, why, filters, fwhy+fwhy2)
		r.fixer = func(allowed []string) []op { return ecrCFNFix(r.Immutability, allowed, objs) }
		if r.Type == cfnECRTemplate {
			r.DefaultExemption = ptcOnly(a, "AppliedFor", r.Name)
		}
	case tfECRPTC, cfnECRPTC:
		key := "ecr_repository_prefix"
		if r.Type == cfnECRPTC {
			key = "EcrRepositoryPrefix"
		}
		prefix, known := nameOf(a, key)
		r.Kind, r.Name, r.NameKnown = providers.KindECR, "pull-through:"+prefix, known
		r.Immutability = providers.Immutability{Mode: providers.ModeMutable, Native: ecrMutable,
			Note: "the repositories it creates on first pull take ECR's default unless a creation template applied to PULL_THROUGH_CACHE matches the prefix"}
		r.DefaultExemption = fmt.Sprintf("pull-through cache repository (prefix %s): ECR must be able to refresh cached tags", prefix)
	case tfAR:
		return classifyAR(r, a)
	case tfHub:
		r.Kind = providers.KindDockerHub
		ns, nsOK := nameOf(a, "namespace")
		n, nOK := nameOf(a, "name")
		r.Scope, r.Name, r.NameKnown = ns, n, nsOK && nOK
		raw := a["immutable_tags_settings"]
		objs, why := asObjects(raw)
		if why != "" {
			r.Immutability = unknownIm("immutable_tags_settings", why)
		} else {
			var s attrs
			if len(objs) > 0 {
				s = objs[0]
			}
			en, enOK, enWhy := s.boolean("enabled")
			rules, rOK, rWhy := s.strings("rules")
			if len(objs) == 0 {
				enOK = false
			}
			r.Immutability = hubImmutability("immutable_tags_settings", en, enOK, enWhy, rules, rOK, rWhy)
		}
		r.fixer = func([]string) []op {
			return []op{{kind: opSet, path: []string{"immutable_tags_settings"}, value: map[string]any{"enabled": true, "rules": []any{".*"}}}}
		}
	case tfHubLegacy:
		r.Kind = providers.KindDockerHub
		ns, nsOK := nameOf(a, "namespace")
		n, nOK := nameOf(a, "name")
		r.Scope, r.Name, r.NameKnown = ns, n, nsOK && nOK
		r.Immutability = providers.Immutability{Mode: providers.ModeMutable, Native: "enabled=false",
			Note: "the dockerhub provider (BarnabyShearer/dockerhub) has no immutable tags setting: Docker Hub's default, off, applies"}
	case tfHubImmutable:
		r.Kind = providers.KindDockerHub
		ns, nsOK := nameOf(a, "namespace")
		n, nOK := nameOf(a, "name")
		r.Scope, r.Name, r.NameKnown = ns, n, nsOK && nOK
		en, enOK, enWhy := a.boolean("enabled")
		rules, rOK, rWhy := a.strings("rules")
		r.Immutability = hubImmutability("enabled", en, enOK, enWhy, rules, rOK, rWhy)
		if !enOK && enWhy == "" {
			r.Immutability.Note = "enabled is not set: the default is false"
		}
		r.fixer = func([]string) []op {
			ops := []op{{kind: opSet, path: []string{"enabled"}, value: true}}
			if rOK {
				ops = append(ops, op{kind: opSet, path: []string{"rules"}, value: []any{".*"}})
			}
			return ops
		}
	case tfHarborProj:
		r.Kind = providers.KindHarbor
		r.Name, r.NameKnown = nameOf(a, "name")
		r.Immutability = providers.Immutability{Mode: providers.ModeMutable,
			Native: "no harbor_immutable_tag_rule refers to this project"}
		v, present, why := a.str("registry_id")
		switch {
		case why == "" && present && v != "" && v != "0":
			r.DefaultExemption = harborProxyReason
		case why != "" && len(r.refs["registry_id"]) > 0:
			// The id of a registry endpoint another resource (or data
			// source) declares: known after apply, never null, so the
			// project is a proxy cache whatever the number.
			r.DefaultExemption = harborProxyReason
		}
		r.fixer = func([]string) []op { return []op{{kind: opAddResource, text: harborRuleText(r)}} }
	case tfHarborRule:
		classifyHarborRule(r, a)
	case tfGitLab:
		classifyGitLab(r, a)
	default:
		return false
	}
	return true
}

// nameOf reads a naming argument; known is false for a computed name.
func nameOf(a attrs, key string) (string, bool) {
	s, ok, why := a.str(key)
	if why != "" || !ok {
		return "", false
	}
	return s, true
}

func ecrTFFix(im providers.Immutability, allowed []string) []op {
	native, keep := ecrTarget(im, allowed)
	ops := []op{{kind: opSet, path: []string{"image_tag_mutability"}, value: native}}
	if len(im.MutablePatterns) > 0 || len(im.ImmutablePatterns) > 0 {
		ops = append(ops, op{kind: opRemove, path: []string{"image_tag_mutability_exclusion_filter"}, keyAttr: "filter", keep: keep})
	}
	return ops
}

func ecrCFNFix(im providers.Immutability, allowed []string, objs []attrs) []op {
	native, keep := ecrTarget(im, allowed)
	ops := []op{{kind: opSet, path: []string{"ImageTagMutability"}, value: native}}
	if len(objs) == 0 || len(keep) == len(objs) {
		return ops
	}
	ops = append(ops, op{kind: opRemove, path: []string{"ImageTagMutabilityExclusionFilters"}})
	if len(keep) > 0 {
		var list []any
		for _, k := range keep {
			list = append(list, map[string]any{"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": k})
		}
		ops = append(ops, op{kind: opSet, path: []string{"ImageTagMutabilityExclusionFilters"}, value: list})
	}
	return ops
}

func classifyAR(r *Resource, a attrs) bool {
	r.Kind = providers.KindArtifactRegistry
	format, present, why := a.str("format")
	switch {
	case why != "":
		r.Immutability = unknownIm("format", why)
		r.Name, r.NameKnown = nameOf(a, "repository_id")
		return true
	case !present:
		r.Immutability = unknownIm("format", "the argument is missing")
		r.Name, r.NameKnown = nameOf(a, "repository_id")
		return true
	case !strings.EqualFold(format, "DOCKER"):
		return false
	}
	r.Name, r.NameKnown = nameOf(a, "repository_id")
	project, _ := nameOf(a, "project")
	location, _ := nameOf(a, "location")
	if project != "" || location != "" {
		r.Scope = project + "/" + location
	}
	mode, _, mwhy := a.str("mode")
	readOnly := mode == "REMOTE_REPOSITORY" || mode == "VIRTUAL_REPOSITORY"
	objs, dwhy := a.objects("docker_config")
	var on, onPresent bool
	var onWhy string
	if len(objs) > 0 {
		on, onPresent, onWhy = objs[0].boolean("immutable_tags")
	}
	switch {
	case mwhy != "":
		r.Immutability = unknownIm("mode", mwhy)
		return true
	case dwhy != "":
		r.Immutability = unknownIm("docker_config", dwhy)
		return true
	case onWhy != "":
		r.Immutability = unknownIm("docker_config.immutable_tags", onWhy)
		return true
	}
	im := providers.Immutability{Native: fmt.Sprintf("dockerConfig.immutableTags=%t", on)}
	switch {
	case on:
		im.Mode = providers.ModeImmutable
	case readOnly:
		im.Mode = providers.ModeUnsupported
	default:
		im.Mode = providers.ModeMutable
		if !onPresent {
			im.Note = "docker_config.immutable_tags is not set: the default is false"
		}
	}
	if readOnly {
		im.Native = "mode=" + mode + ", " + im.Native
		im.Note = "clients cannot push to a " + strings.ToLower(strings.TrimSuffix(mode, "_REPOSITORY")) + " repository; its tags follow the upstream"
		r.DefaultExemption = arRemoteReason
	}
	r.Immutability = im
	r.fixer = func([]string) []op {
		return []op{{kind: opSet, path: []string{"docker_config", "immutable_tags"}, value: true}}
	}
	return true
}

// classifyHarborRule grades one rule as the Harbor adapter grades a
// project whose only rule it is: a disabled rule protects nothing, a rule
// for some repositories or some tags leaves the rest mutable.
func classifyHarborRule(r *Resource, a attrs) {
	r.Kind = providers.KindHarbor
	r.Name, r.NameKnown = nameOf(a, "project_id")
	disabled, _, dwhy := a.boolean("disabled")
	repoM, _, w1 := a.str("repo_matching")
	repoX, repoXSet, w2 := a.str("repo_excluding")
	tagM, _, w3 := a.str("tag_matching")
	tagX, tagXSet, w4 := a.str("tag_excluding")
	for _, w := range [][2]string{{"disabled", dwhy}, {"repo_matching", w1}, {"repo_excluding", w2}, {"tag_matching", w3}, {"tag_excluding", w4}} {
		if w[1] != "" {
			r.Immutability = unknownIm(w[0], w[1])
			return
		}
	}
	native := fmt.Sprintf("disabled=%t repo_matching=%q repo_excluding=%q tag_matching=%q tag_excluding=%q", disabled, repoM, repoX, tagM, tagX)
	im := providers.Immutability{Native: native}
	var ops []op
	allRepos := harborAllTags(repoM) && (!repoXSet || repoX == "")
	switch {
	case disabled:
		im.Mode = providers.ModeMutable
		im.Note = "the rule is disabled"
	case tagXSet && tagX != "" && !harborAllTags(tagX):
		im.Mode = providers.ModePartial
		im.MutablePatterns = splitBraces(tagX)
	case tagXSet && tagX != "":
		im.Mode = providers.ModeMutable
		im.Note = "tag_excluding excludes every tag"
	case !harborAllTags(tagM):
		im.Mode = providers.ModePartial
		im.ImmutablePatterns = splitBraces(tagM)
		im.MutablePatterns = []string{"*"}
		im.Note = "only tags matching tag_matching are immutable"
	default:
		im.Mode = providers.ModeImmutable
	}
	if !allRepos && im.Mode != providers.ModeMutable {
		im.Mode = providers.ModePartial
		im.MutablePatterns = []string{"*"}
		im.Note = "the rule applies only to some repositories of the project; every tag of the others stays mutable"
	}
	if disabled {
		ops = append(ops, op{kind: opSet, path: []string{"disabled"}, value: false})
	}
	if !harborAllTags(tagM) || (tagXSet && tagX != "") {
		ops = append(ops, op{kind: opSet, path: []string{"tag_matching"}, value: "**"})
	}
	if tagXSet {
		ops = append(ops, op{kind: opRemove, path: []string{"tag_excluding"}})
	}
	if !harborAllTags(repoM) {
		ops = append(ops, op{kind: opSet, path: []string{"repo_matching"}, value: "**"})
	}
	if repoXSet {
		ops = append(ops, op{kind: opRemove, path: []string{"repo_excluding"}})
	}
	r.Immutability = im
	r.fixer = func([]string) []op { return ops }
}

func harborRuleText(r *Resource) string {
	name := r.block.name
	ref := tfHarborProj + "." + name
	var meta, project string
	switch r.meta {
	case "count":
		meta = "  count         = length(" + ref + ")\n"
		project = ref + "[count.index].id"
	case "for_each":
		meta = "  for_each      = " + ref + "\n"
		project = "each.value.id"
	default:
		project = ref + ".id"
	}
	return fmt.Sprintf("resource %q %q {\n%s  project_id    = %s\n  repo_matching = \"**\"\n  tag_matching  = \"**\"\n}\n",
		tfHarborRule, name+"_immutable", meta, project)
}

// classifyGitLab: an immutable rule protects the tags its regular
// expression matches; a rule that only restricts who may push leaves
// every tag overwritable by those roles.
func classifyGitLab(r *Resource, a attrs) {
	r.Kind = providers.KindGitLab
	r.Name, r.NameKnown = nameOf(a, "project")
	imm, immOK, why := a.boolean("immutable")
	re, _, rwhy := a.str("tag_name_regex")
	switch {
	case why != "":
		r.Immutability = unknownIm("immutable", why)
	case rwhy != "":
		r.Immutability = unknownIm("tag_name_regex", rwhy)
	case !immOK || !imm:
		r.Immutability = providers.Immutability{Mode: providers.ModeMutable, Native: fmt.Sprintf("immutable=false tag_name_regex=%q", re),
			Note: "a protection rule restricts who may push matching tags; it does not make them immutable"}
	case universalRegex(re):
		r.Immutability = providers.Immutability{Mode: providers.ModeImmutable, Native: fmt.Sprintf("immutable=true tag_name_regex=%q", re), ImmutablePatterns: []string{re}}
	default:
		r.Immutability = providers.Immutability{Mode: providers.ModePartial, Native: fmt.Sprintf("immutable=true tag_name_regex=%q", re),
			ImmutablePatterns: []string{re}, MutablePatterns: []string{"*"},
			Note: "only tags matching tag_name_regex are immutable; every other tag stays mutable, reported as \"*\""}
	}
	r.fixer = func([]string) []op {
		var ops []op
		if !imm {
			ops = append(ops, op{kind: opSet, path: []string{"immutable"}, value: true})
		}
		if !universalRegex(re) {
			ops = append(ops, op{kind: opSet, path: []string{"tag_name_regex"}, value: ".*"})
		}
		if _, ok := a["minimum_access_level_for_push"]; ok {
			ops = append(ops, op{kind: opRemove, path: []string{"minimum_access_level_for_push"}})
		}
		if _, ok := a["minimum_access_level_for_delete"]; ok {
			ops = append(ops, op{kind: opRemove, path: []string{"minimum_access_level_for_delete"}})
		}
		return ops
	}
}

// remediation says what to change in the code.
func remediation(r Resource) string {
	switch r.Type {
	case tfECR, tfECRTemplate:
		return `set image_tag_mutability = "IMMUTABLE" (or IMMUTABLE_WITH_EXCLUSION with only exclusions policy.mutable_tags_allowed allows): immutag iac --fix`
	case cfnECR, cfnECRTemplate:
		return "set ImageTagMutability: IMMUTABLE (or IMMUTABLE_WITH_EXCLUSION with only allowed exclusions): immutag iac --fix"
	case tfAR:
		return "set docker_config { immutable_tags = true }: immutag iac --fix"
	case tfHub:
		return `set immutable_tags_settings = { enabled = true, rules = [".*"] }: immutag iac --fix`
	case tfHubImmutable:
		return `set enabled = true with rules [".*"] (or no rules): immutag iac --fix`
	case tfHubLegacy:
		return `by hand: add a docker_hub_repository_immutable_tags (docker/docker provider) for the repository with enabled = true, or turn immutable tags on in Docker Hub`
	case tfHarborProj:
		return `add a harbor_immutable_tag_rule for the project with repo_matching = "**" and tag_matching = "**": immutag iac --fix`
	case tfHarborRule:
		return `enable the rule for every repository and tag (repo_matching = tag_matching = "**", no excludes): immutag iac --fix`
	case tfGitLab:
		return `set immutable = true and tag_name_regex = ".*": immutag iac --fix`
	}
	return "make every tag immutable"
}

// classifyEither classifies a resource whose setting is a conditional
// the scan cannot decide (a variable without a default, a parameter
// without one): every way it can go is graded, and the grade they all
// agree on is the resource's, the least immutable of them standing for
// the fix. When the ways disagree the setting stays unknown (fail
// closed), as it does when there are too many ways to try.
func classifyEither(r *Resource, a attrs, ap audit.Policy) bool {
	base := *r
	if !classify(r, a) {
		return false
	}
	if r.Immutability.Mode != providers.ModeUnknown {
		return true
	}
	vs := variants(a)
	if len(vs) < 2 {
		return true
	}
	var pick *Resource
	var status audit.Status
	var natives []string
	ops := -1
	sameName := true
	for i, v := range vs {
		c := base
		if !classify(&c, v.(attrs)) || c.Immutability.Mode == providers.ModeUnknown {
			return true
		}
		f := grade(c, ap)
		if i > 0 && f.Status != status {
			return true
		}
		status = f.Status
		if pick != nil && (c.Name != pick.Name || c.Scope != pick.Scope || c.NameKnown != pick.NameKnown) {
			sameName = false
		}
		n := 0
		if c.fixer != nil && f.Status == audit.StatusDrift {
			n = len(c.fixer(ap.MutableTagsAllowed))
		}
		if !slices.Contains(natives, c.Immutability.Native) {
			natives = append(natives, c.Immutability.Native)
		}
		if n > ops {
			cc := c
			pick, ops = &cc, n
		}
	}
	why := r.Immutability.Error
	if i := strings.Index(why, " is not known: "); i >= 0 {
		why = why[i+len(" is not known: "):]
	}
	name, scope, known := r.Name, r.Scope, r.NameKnown
	*r = *pick
	if !sameName {
		r.Name, r.Scope, r.NameKnown = name, scope, known
	}
	note := fmt.Sprintf("a conditional the scan cannot decide (%s): graded alike every way it can go (%s)", why, strings.Join(natives, ", "))
	if r.Immutability.Note != "" {
		note = r.Immutability.Note + "; " + note
	}
	r.Immutability.Note = note
	return true
}

// ptcOnly is the default exemption of a creation template that applies
// only to the repositories pull-through cache rules create: the audit
// exempts those (ECR must be able to refresh cached tags), so the
// template that makes them is exempt alike. A template that also makes
// repositories on push or by replication is graded as any repository.
func ptcOnly(a attrs, key, name string) string {
	fors, present, why := a.strings(key)
	if why != "" || !present || len(fors) == 0 {
		return ""
	}
	for _, f := range fors {
		if f != "PULL_THROUGH_CACHE" {
			return ""
		}
	}
	return fmt.Sprintf("creation template (%s) applied only to pull-through cache repositories: ECR must be able to refresh cached tags", name)
}
