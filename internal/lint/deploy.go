package lint

import (
	"fmt"
	"strings"
)

// The pull side of the same problem: a pipeline step that deploys an
// image by a mutable tag runs whatever the tag points at when the cluster
// or service pulls it, which is not necessarily what this pipeline built,
// and a rollback to "the same" tag is no rollback at all.

// deployCommand records the images a deploy command names. words[0] is
// the tool (kubectl, gcloud, az, helm, aws, flyctl, docker service).
func (j *jobState) deployCommand(st *step, scr *script, x *shExpander, c shCmd, tool string, words []shTok, nested bool) {
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	arg := func(k int) string { return x.word(words[k].text) }
	sub := func(n int) string {
		var out []string
		for k := 1; k < len(words) && len(out) < n; k++ {
			if w := arg(k); !strings.HasPrefix(w, "-") {
				out = append(out, w)
			}
		}
		return strings.Join(out, " ")
	}
	// flagValue records the value of any of the flags, in either the
	// --flag VALUE or --flag=VALUE form.
	flagValue := func(label string, flags ...string) {
		for k := 1; k < len(words); k++ {
			w := arg(k)
			for _, f := range flags {
				switch {
				case w == f && k+1 < len(words):
					j.addSite(st, scr, x, c, siteDeploy, false, label, words[k+1], first, last, nested, false)
				case strings.HasPrefix(w, f+"=") && strings.HasPrefix(words[k].text, f+"="):
					t := words[k]
					j.addSite(st, scr, x, c, siteDeploy, false, label, shTok{kind: tWord, text: t.text[len(f)+1:], start: t.start + len(f) + 1, end: t.end}, first, last, nested, false)
				}
			}
		}
	}
	switch tool {
	case "kubectl", "oc":
		switch s := sub(2); {
		case s == "set image":
			// kubectl set image deployment/app CONTAINER=IMAGE ...
			for k := 3; k < len(words); k++ {
				raw := words[k].text
				if eq := strings.IndexByte(raw, '='); eq > 0 && !strings.HasPrefix(raw, "-") {
					t := words[k]
					j.addSite(st, scr, x, c, siteDeploy, false, tool+" set image", shTok{kind: tWord, text: raw[eq+1:], start: t.start + eq + 1, end: t.end}, first, last, nested, false)
				}
			}
		case s == "create deployment":
			// (kubectl run starts ad-hoc pods, mostly smoke tests of public
			// images: not a deploy of the pipeline's image.)
			flagValue(tool+" create deployment --image", "--image")
		}
	case "gcloud":
		s := sub(3)
		switch {
		case strings.HasPrefix(s, "run deploy"), strings.HasPrefix(s, "run services update"), strings.HasPrefix(s, "run jobs"):
			flagValue("gcloud run --image", "--image")
		case strings.HasPrefix(s, "app deploy"):
			flagValue("gcloud app deploy --image-url", "--image-url")
		case strings.HasPrefix(s, "compute instances"):
			flagValue("gcloud compute instances --container-image", "--container-image")
		}
	case "az":
		s := sub(3)
		switch {
		case strings.HasPrefix(s, "webapp config container"), strings.HasPrefix(s, "functionapp config container"):
			flagValue("az "+s, "--docker-custom-image-name", "--container-image-name", "-c", "-i")
		case strings.HasPrefix(s, "webapp create"):
			flagValue("az webapp create", "--deployment-container-image-name", "--container-image-name", "-i")
		case strings.HasPrefix(s, "containerapp"), strings.HasPrefix(s, "container create"):
			flagValue("az "+sub(2)+" --image", "--image")
		}
	case "aws":
		if sub(2) == "lambda update-function-code" || sub(2) == "lambda create-function" {
			flagValue("aws lambda --image-uri", "--image-uri")
		}
	case "flyctl", "fly":
		if strings.HasPrefix(sub(1), "deploy") {
			flagValue(tool+" deploy --image", "--image", "-i")
		}
	case "docker":
		if sub(2) == "service update" || sub(2) == "service create" {
			flagValue("docker "+sub(2)+" --image", "--image")
		}
	case "helm":
		if s := sub(1); s != "upgrade" && s != "install" {
			return
		}
		// --set image.tag=latest: the chart deploys the repository it
		// names with that tag.
		for k := 1; k+1 < len(words); k++ {
			if w := arg(k); w != "--set" && w != "--set-string" {
				continue
			}
			raw := words[k+1].text
			for off := 0; off < len(raw); {
				end := strings.IndexByte(raw[off:], ',')
				if end < 0 {
					end = len(raw)
				} else {
					end += off
				}
				item := raw[off:end]
				if eq := strings.IndexByte(item, '='); eq > 0 {
					key := strings.ToLower(strings.Trim(x.word(item[:eq]), `"'`))
					if strings.HasSuffix(key, ".tag") || key == "tag" || strings.HasSuffix(key, "imagetag") {
						t := shTok{kind: tWord, text: item[eq+1:], start: words[k+1].start + off + eq + 1, end: words[k+1].start + end}
						for _, v := range x.wordAll(t.text) {
							j.addDeployTag(st, scr, c, "helm "+arg(k)+" "+item[:eq], t, v, first, last)
						}
					}
				}
				off = end + 1
			}
		}
	}
}

// addDeployTag records a deployed tag given without its repository (helm
// --set image.tag=...): the site's value is a stand-in repository with it.
func (j *jobState) addDeployTag(st *step, scr *script, c shCmd, label string, w shTok, tag string, first, last int) {
	tag = strings.Trim(tag, `"'`)
	if tag == "" {
		return
	}
	j.sites = append(j.sites, &refSite{kind: siteDeploy, label: label, value: "chart-image:" + tag, raw: w.text,
		sp: scr.span(w), from: first, to: last, ctx: st.ctx, cmd: c, scr: scr, tagOnly: true})
}

// deploySites reports the deploys of mutable tags the job recorded.
func (j *jobState) deploySites() {
	seen := map[string]bool{}
	for _, s := range j.sites {
		if s.kind != siteDeploy {
			continue
		}
		class, tag := classifyRef(s.value, j.l.mutable)
		if class == refBranch && s.ctx.noBranch {
			continue
		}
		shown := display(s.value)
		if s.tagOnly {
			shown = "tag " + display(tag)
		}
		why, sev, ok := deployWhy(class, tag)
		if !ok {
			continue
		}
		key := fmt.Sprintf("%d/%d/%s", s.sp.line, s.sp.start, why)
		if seen[key] {
			continue
		}
		seen[key] = true
		j.l.add(RuleMutableDeploy, sev, s.sp,
			fmt.Sprintf("`%s` %s (%s): what runs is whatever the tag points at when it is pulled, not necessarily what this pipeline built", s.label, why, shown),
			&Fix{Description: "deploy by digest (image@sha256:...) or by the immutable tag this pipeline pushes (the commit sha)"}, s.from, s.to)
	}
}

// deployActions name the image input of actions that deploy an image.
var deployActions = map[string][]string{
	"google-github-actions/deploy-cloudrun":         {"image"},
	"azure/webapps-deploy":                          {"images"},
	"azure/container-apps-deploy-action":            {"imageToDeploy"},
	"azure/aci-deploy":                              {"image"},
	"azure/k8s-deploy":                              {"images"},
	"aws-actions/amazon-ecs-render-task-definition": {"image"},
}

// deployAction reports a deploy action's image inputs naming a mutable tag.
func (l *linter) deployAction(st *step, action string) {
	for _, key := range deployActions[action] {
		_, n := l.src.get(st.with, key)
		sc := l.src.scalarOf(n)
		if sc == nil {
			continue
		}
		for _, e := range splitList(sc) {
			sp := sc.spanAt(e.line, e.start, e.end)
			seen := map[string]bool{}
			for _, whole := range st.ctx.resolveAll(e.text) {
				for _, v := range splitRendered(whole) {
					class, tag := classifyRef(v, l.mutable)
					why, sev, ok := deployWhy(class, tag)
					if !ok || (class == refBranch && st.ctx.noBranch) || seen[why] {
						continue
					}
					seen[why] = true
					l.add(RuleMutableDeploy, sev, sp,
						fmt.Sprintf("%s %s %s (%s): what runs is whatever the tag points at when it is pulled, not necessarily what this pipeline built", action, key, why, display(v)),
						&Fix{Description: "deploy by digest (image@sha256:...) or by the immutable tag this pipeline pushes (the commit sha)"}, st.node.Line, sp.line)
				}
			}
		}
	}
}

// publishCommand: other commands that push an image under a tag: az acr
// build/import --image, pack build --publish, gcloud artifacts docker
// tags add, gcloud container images add-tag, skaffold --tag.
func (j *jobState) publishCommand(st *step, scr *script, x *shExpander, c shCmd, tool string, words []shTok, nested bool) {
	first, last := scr.span(words[0]).line, scr.span(words[len(words)-1]).line
	arg := func(k int) string { return x.word(words[k].text) }
	var pos []int
	for k := 1; k < len(words); k++ {
		if !strings.HasPrefix(arg(k), "-") {
			pos = append(pos, k)
		}
	}
	sub := func(n int) string {
		var out []string
		for _, k := range pos {
			if len(out) == n {
				break
			}
			out = append(out, arg(k))
		}
		return strings.Join(out, " ")
	}
	// values of a flag, in the --flag VALUE and --flag=VALUE forms.
	flagToks := func(flags ...string) []shTok {
		var out []shTok
		for k := 1; k < len(words); k++ {
			w := arg(k)
			for _, f := range flags {
				switch {
				case w == f && k+1 < len(words):
					out = append(out, words[k+1])
				case strings.HasPrefix(w, f+"=") && strings.HasPrefix(words[k].text, f+"="):
					t := words[k]
					out = append(out, shTok{kind: tWord, text: t.text[len(f)+1:], start: t.start + len(f) + 1, end: t.end})
				}
			}
		}
		return out
	}
	has := func(flag string) bool {
		for k := 1; k < len(words); k++ {
			if w := arg(k); w == flag || strings.HasPrefix(w, flag+"=") {
				return true
			}
		}
		return false
	}
	switch tool {
	case "az":
		s := sub(2)
		if (s != "acr build" && s != "acr import") || has("--no-push") {
			return
		}
		// --image names a repository:tag inside the registry -r names.
		for _, t := range flagToks("--image", "-t") {
			j.addSite(st, scr, x, c, sitePush, true, "az "+s+" --image", t, first, last, nested, false)
		}
	case "pack":
		if sub(1) != "build" || !has("--publish") || len(pos) < 2 {
			return
		}
		j.addSite(st, scr, x, c, sitePush, true, "pack build --publish", words[pos[1]], first, last, nested, false)
		for _, t := range flagToks("--tag", "-t") {
			j.addSite(st, scr, x, c, sitePush, true, "pack build --publish --tag", t, first, last, nested, false)
		}
	case "gcloud":
		var dests []int
		switch {
		case sub(4) == "artifacts docker tags add" && len(pos) >= 6:
			dests = pos[5:6]
		case sub(3) == "container images add-tag" && len(pos) >= 5:
			dests = pos[4:]
		}
		for _, k := range dests {
			j.addSite(st, scr, x, c, sitePush, true, "gcloud "+sub(3)+" (destination)", words[k], first, last, nested, false)
		}
	case "skaffold":
		if s := sub(1); s != "build" && s != "run" && s != "dev" && s != "deploy" {
			return
		}
		for _, t := range flagToks("--tag", "-t") {
			for _, v := range x.wordAll(t.text) {
				v = strings.Trim(v, `"'`)
				if v != "latest" && !j.l.mutable[v] && !(strings.ContainsRune(v, branchRune) && !strings.ContainsAny(v, shaStr+unknownStr) && !st.ctx.noBranch) {
					continue
				}
				sp := scr.span(t)
				b := newFix(j.l.src)
				b.replace(sp, `"${GITHUB_SHA}"`)
				rule, sev, what := RuleMutableTag, SeverityWarning, fmt.Sprintf("the rolling tag %q", display(v))
				if v == "latest" {
					rule, sev, what = RuleExplicitLatest, SeverityError, "the tag latest"
				}
				j.l.add(rule, sev, sp, fmt.Sprintf("`skaffold %s --tag` tags every artifact it builds and pushes with %s", sub(1), what),
					b.fix("tag the artifacts with the commit sha (--tag \"${GITHUB_SHA}\")"), first, last)
				break
			}
		}
	}
}

// deployWhy says why deploying a reference of class (with its tag) runs a
// mutable image, and how severe that is; ok is false for an immutable one.
func deployWhy(class refClass, tag string) (why string, sev Severity, ok bool) {
	switch class {
	case refImplicit:
		return "has no tag, so it deploys latest", SeverityError, true
	case refLatest:
		return "deploys the tag " + tag, SeverityError, true
	case refMutable:
		return fmt.Sprintf("deploys the rolling tag %q", tag), SeverityWarning, true
	case refBranch:
		return "deploys a tag named after the branch", SeverityWarning, true
	}
	return "", SeverityWarning, false
}
