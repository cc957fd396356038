package lint

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A faithful model of docker/metadata-action's input grammar and tag
// computation (src/context.ts getInputList, src/tag.ts Parse, src/flavor.ts
// Transform, src/meta.ts), written from the action's source to check the
// linter's fixes the way the action would read them: a fixed workflow must
// still be accepted and still push at least one tag on every kind of run
// that pushed one before.

type mgTag struct {
	typ   string
	attrs map[string]string
}

type mgFlavor struct {
	latest, prefix, suffix     string
	prefixLatest, suffixLatest bool
}

// mgInputList is Util.getInputList(name, {ignoreComma: true, comment: '#',
// commentNoInfix: true}): one entry per line, full-line comments and empty
// lines dropped, entries trimmed.
func mgInputList(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if t := strings.TrimSpace(line); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// mgCSV is csv-parse's strict reading of one record: a quote may only open
// a field and must close it; "" inside quotes is a quote.
func mgCSV(s string) ([]string, error) {
	var out []string
	i := 0
	for {
		var b strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("Quote Not Closed")
			}
			if i < len(s) && s[i] != ',' {
				return nil, fmt.Errorf("Invalid Closing Quote")
			}
		} else {
			for i < len(s) && s[i] != ',' {
				if s[i] == '"' {
					return nil, fmt.Errorf("Invalid Opening Quote: a quote is found on field %d", len(out))
				}
				b.WriteByte(s[i])
				i++
			}
		}
		out = append(out, b.String())
		if i >= len(s) {
			return out, nil
		}
		i++ // the comma
	}
}

var mgPriority = map[string]int{"schedule": 1000, "semver": 900, "pep440": 900, "match": 800, "edge": 700, "ref": 600, "raw": 200, "sha": 100}

// mgParseTag is tag.ts Parse.
func mgParseTag(s string) (*mgTag, error) {
	fields, err := mgCSV(s)
	if err != nil {
		return nil, err
	}
	t := &mgTag{attrs: map[string]string{}}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			// split(/(?<=^[^=]+?)=/) only splits after a non-empty key.
			t.attrs["value"] = strings.TrimSpace(f)
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if k == "type" {
			if _, ok := mgPriority[v]; !ok {
				return nil, fmt.Errorf("Unknown tag type attribute: %s", v)
			}
			t.typ = v
			continue
		}
		t.attrs[k] = v
	}
	if t.typ == "" {
		t.typ = "raw"
	}
	has := func(k string) bool { _, ok := t.attrs[k]; return ok }
	switch t.typ {
	case "schedule":
		if !has("pattern") {
			t.attrs["pattern"] = "nightly"
		}
	case "semver", "pep440":
		if !has("pattern") {
			return nil, fmt.Errorf("Missing pattern attribute for %s", s)
		}
	case "match":
		if !has("pattern") {
			return nil, fmt.Errorf("Missing pattern attribute for %s", s)
		}
		if !has("group") {
			t.attrs["group"] = "0"
		}
		if _, err := strconv.ParseFloat(t.attrs["group"], 64); err != nil {
			return nil, fmt.Errorf("Invalid match group for %s", s)
		}
	case "ref":
		if !has("event") {
			return nil, fmt.Errorf("Missing event attribute for %s", s)
		}
		if e := t.attrs["event"]; e != "branch" && e != "tag" && e != "pr" {
			return nil, fmt.Errorf("Invalid event for %s", s)
		}
	case "raw":
		if !has("value") {
			return nil, fmt.Errorf("Missing value attribute for %s", s)
		}
	case "sha":
		if !has("format") {
			t.attrs["format"] = "short"
		}
		if f := t.attrs["format"]; f != "short" && f != "long" {
			return nil, fmt.Errorf("Invalid format for %s", s)
		}
	}
	if !has("enable") {
		t.attrs["enable"] = "true"
	}
	return t, nil
}

// mgParseFlavor is flavor.ts Transform.
func mgParseFlavor(lines []string) (mgFlavor, error) {
	f := mgFlavor{latest: "auto"}
	for _, in := range lines {
		fields, err := mgCSV(in)
		if err != nil {
			return f, err
		}
		onlatestfor := ""
		for _, field := range fields {
			parts := strings.Split(field, "=")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			if len(parts) == 1 {
				return f, fmt.Errorf("Invalid flavor entry: %s", in)
			}
			switch key, value := strings.ToLower(parts[0]), parts[1]; key {
			case "latest":
				if value != "auto" && value != "true" && value != "false" {
					return f, fmt.Errorf("Invalid latest flavor entry: %s", in)
				}
				f.latest = value
			case "prefix":
				f.prefix, onlatestfor = value, "prefix"
			case "suffix":
				f.suffix, onlatestfor = value, "suffix"
			case "onlatest":
				if value != "true" && value != "false" {
					return f, fmt.Errorf("Invalid value for onlatest attribute: %s", value)
				}
				switch onlatestfor {
				case "prefix":
					f.prefixLatest = value == "true"
				case "suffix":
					f.suffixLatest = value == "true"
				}
			default:
				return f, fmt.Errorf("Unknown flavor entry: %s", in)
			}
		}
	}
	return f, nil
}

// mgRun is the context of one run: a push of a branch or of a tag.
type mgRun struct {
	ref, defaultBranch string
}

var mgSemverRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// mgTags computes the tags one image gets (meta.ts getVersion + getTags,
// with templates rendered to a non-empty placeholder).
func mgTags(tagsInput, flavorInput string, run mgRun) ([]string, error) {
	fl, err := mgParseFlavor(mgInputList(flavorInput))
	if err != nil {
		return nil, err
	}
	var tags []*mgTag
	for _, e := range mgInputList(tagsInput) {
		t, err := mgParseTag(e)
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	if len(tags) == 0 {
		for _, d := range []string{"type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"} {
			t, _ := mgParseTag(d)
			tags = append(tags, t)
		}
	}
	prio := func(t *mgTag) int {
		if p, err := strconv.Atoi(t.attrs["priority"]); err == nil {
			return p
		}
		return mgPriority[t.typ]
	}
	sort.SliceStable(tags, func(i, j int) bool { return prio(tags[i]) > prio(tags[j]) })
	isTag := strings.HasPrefix(run.ref, "refs/tags/")
	isBranch := strings.HasPrefix(run.ref, "refs/heads/")
	name := run.ref[strings.LastIndex(run.ref, "/")+1:]
	var latest *bool
	var out []string
	set := func(v string, l bool) {
		out = append(out, v)
		if latest == nil {
			latest = &l
		}
	}
	for _, t := range tags {
		switch en := t.attrs["enable"]; en {
		case "false":
			continue
		case "{{is_default_branch}}":
			if run.ref != "refs/heads/"+run.defaultBranch {
				continue
			}
		}
		switch t.typ {
		case "semver", "pep440":
			v := t.attrs["value"]
			if v == "" && isTag {
				v = name
			}
			m := mgSemverRE.FindStringSubmatch(v)
			if m == nil {
				continue
			}
			set(v, m[4] == "")
		case "match":
			v := t.attrs["value"]
			if v == "" && isTag {
				v = name
			}
			re, err := regexp.Compile(t.attrs["pattern"])
			if err != nil || v == "" || !re.MatchString(v) {
				continue
			}
			set(v, true)
		case "edge":
			b := t.attrs["branch"]
			if b == "" {
				b = run.defaultBranch
			}
			if isBranch && name == b {
				set("edge", false)
			}
		case "ref":
			switch t.attrs["event"] {
			case "branch":
				if isBranch {
					set(name, false)
				}
			case "tag":
				if isTag {
					set(name, true)
				}
			}
		case "raw":
			if t.attrs["value"] != "" {
				set(t.attrs["value"], false)
			}
		case "sha":
			set("sha-0123abc", false)
		}
	}
	if fl.latest == "true" || fl.latest == "auto" && latest != nil && *latest {
		out = append(out, "latest")
	}
	return out, nil
}

func TestMetadataGrammarModel(t *testing.T) {
	for _, c := range []struct {
		tags, flavor string
		run          mgRun
		want         string // joined tags, or "error"
	}{
		{"type=semver,pattern={{version}}", "", mgRun{"refs/tags/v1.2.3", "main"}, "v1.2.3,latest"},
		{"type=semver,pattern={{version}}", "", mgRun{"refs/tags/v1.2.3-rc.1", "main"}, "v1.2.3-rc.1"},
		{"type=semver,pattern={{version}}", "latest=false", mgRun{"refs/tags/v1.2.3", "main"}, "v1.2.3"},
		{"type=ref,event=tag", "", mgRun{"refs/tags/v1.2.3-rc.1", "main"}, "v1.2.3-rc.1,latest"},
		{"type=edge", "", mgRun{"refs/heads/main", "main"}, "edge"},
		{"type=semver,pattern={{version}}", "", mgRun{"refs/heads/main", "main"}, ""},
		{"", "", mgRun{"refs/heads/main", "main"}, "main"},
		{"type=sha", "latest=true", mgRun{"refs/heads/dev", "main"}, "sha-0123abc,latest"},
		{"type=foo", "", mgRun{}, "error"},
		{"type=raw", "", mgRun{}, "error"},
		{`type=raw,value="x"`, "", mgRun{}, "error"},
		{"type=sha", "latest=true,prefix", mgRun{}, "error"},
		{"type=sha", "latest=yes", mgRun{}, "error"},
		{"type=sha", "latest=false,prefix=v", mgRun{"refs/heads/x", "main"}, "sha-0123abc"},
	} {
		got, err := mgTags(c.tags, c.flavor, c.run)
		have := strings.Join(got, ",")
		if err != nil {
			have = "error"
		}
		if have != c.want {
			t.Errorf("tags %q flavor %q on %s: got %q (%v), want %q", c.tags, c.flavor, c.run.ref, have, err, c.want)
		}
	}
}
