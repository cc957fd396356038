// Package lint finds CI workflows that push mutable image tags: the push
// side of tag immutability. It parses GitHub Actions workflows (and
// composite actions) with positions and reports, with file, line, column
// and the exact lines to change:
//
//   - docker/metadata-action emitting latest through flavor latest=auto
//     (type=ref,event=tag, semver, pep440, match, or the defaults of an
//     empty tags input) or latest=true;
//   - an explicit latest tag (type=raw,value=latest, :latest in
//     build-push-action tags or in docker commands);
//   - a reference with no tag, which means latest, in build-push-action
//     tags, docker push, docker tag, docker buildx imagetools create and
//     docker build --push;
//   - type=raw,value=latest,enable=false taken for a veto it is not;
//   - other rolling tags (dev, main, stable, edge by default) as warnings.
//
// The metadata-action model follows the action's source (src/tag.ts,
// src/meta.ts): entries sorted by priority, disabled entries skipped, the
// first entry that yields a value decides latest.
//
// Values the linter cannot know (secrets, inputs, matrix values, command
// substitutions) make a reference "unknown", which is never reported: a
// finding is only raised when the workflow as written pushes the tag.
package lint

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// DefaultMutableTags are the rolling tag names reported as warnings.
var DefaultMutableTags = []string{"dev", "develop", "development", "main", "master", "stable", "edge",
	"nightly", "beta", "alpha", "canary", "next", "testing", "unstable", "staging", "production", "prod", "snapshot"}

// Config tunes the rules.
type Config struct {
	// MutableTags are tag names reported by the mutable-tag rule. latest
	// has rules of its own and is ignored here.
	MutableTags []string
	// reached collects the bake files pipeline steps push, during Lint.
	reached *reachedSet
}

// reachedSet is the bake files a pushing step of a linted pipeline
// reads, with that step's variables, targets and sets: Lint reports
// those evaluations instead of the file's own defaults.
type reachedSet struct {
	mu    sync.Mutex
	paths map[string]bool
}

func (r *reachedSet) add(p string) {
	if r == nil {
		return
	}
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paths == nil {
		r.paths = map[string]bool{}
	}
	r.paths[p] = true
}

func (r *reachedSet) has(p string) bool {
	if r == nil {
		return false
	}
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paths[p]
}

// maxFileSize bounds what is read: a workflow is kilobytes, and a
// multi-megabyte YAML file under .github/workflows is not one.
const maxFileSize = 4 << 20

// Result is the outcome of linting a set of paths.
type Result struct {
	// Files are the files linted (parse failures included), in order.
	Files    []string
	Findings []Finding
	// Errors are files that could not be read or parsed. Other files are
	// linted regardless.
	Errors []FileError
}

// Active counts findings not silenced by an ignore comment.
func (r *Result) Active() int {
	n := 0
	for i := range r.Findings {
		if !r.Findings[i].Suppressed() {
			n++
		}
	}
	return n
}

// Lint lints every path: a file is linted whatever its name; a directory
// is walked for *.yml and *.yaml files (skipping .git). A path that does
// not exist is reported in Result.Errors.
func Lint(paths []string, cfg Config) *Result {
	res := &Result{}
	seen := map[string]bool{}
	// place: a reusable workflow linted on its own and again from its
	// caller reports the same line twice, once with the caller's values
	// resolved: one finding per place and rule, the resolved one kept.
	place := map[string]int{}
	cfg.reached = &reachedSet{}
	type linted struct {
		file  string
		found []Finding
		err   error
	}
	// Every file is linted before findings are kept: a bake file a
	// pipeline pushes is reported with that pipeline's values (a variable
	// its env: overrides, the targets it builds), not with its defaults
	// as when linted alone.
	var all []linted
	for _, p := range paths {
		files, err := workflowFiles(p)
		if err != nil {
			res.Errors = append(res.Errors, FileError{File: p, Message: err.Error()})
			continue
		}
		for _, f := range files {
			found, err := LintFile(f, cfg)
			all = append(all, linted{f, found, err})
		}
	}
	for _, lf := range all {
		f, found, err := lf.file, lf.found, lf.err
		res.Files = append(res.Files, f)
		if isBakeFile(f) && cfg.reached.has(f) {
			found = nil
		}
		// A reusable workflow, include or bake file is also reached
		// from the files that use it: one finding per place.
		for _, fd := range found {
			key := fmt.Sprintf("%s\x00%d\x00%d\x00%s\x00%s", fd.File, fd.Line, fd.Column, fd.RuleID, fd.Message)
			if seen[key] {
				continue
			}
			seen[key] = true
			pk := fmt.Sprintf("%s\x00%d\x00%d\x00%s\x00%t", fd.File, fd.Line, fd.Column, fd.RuleID, fd.Suppressed())
			if i, ok := place[pk]; ok {
				if strings.Count(res.Findings[i].Message, "…") > strings.Count(fd.Message, "…") {
					res.Findings[i] = fd
				}
				continue
			}
			place[pk] = len(res.Findings)
			res.Findings = append(res.Findings, fd)
		}
		if err != nil {
			if fe, ok := err.(*FileError); ok {
				res.Errors = append(res.Errors, *fe)
			} else {
				res.Errors = append(res.Errors, FileError{File: f, Message: err.Error()})
			}
		}
	}
	return res
}

func newLinter(file string, src []byte, cfg Config) *linter {
	l := &linter{src: newSource(file, src), mutable: map[string]bool{}, cfg: cfg, root: repoRoot(file)}
	for _, t := range cfg.MutableTags {
		if t = strings.TrimSpace(t); t != "" && t != "latest" {
			l.mutable[t] = true
		}
	}
	return l
}

// repoRoot guesses the repository root of a workflow: the directory
// holding .github/workflows, else the file's own directory (GitLab CI and
// bake files sit at the root).
func repoRoot(file string) string {
	f := filepath.ToSlash(file)
	if i := strings.Index(f, ".github/workflows/"); i >= 0 {
		return filepath.FromSlash(f[:i] + ".")
	}
	if i := strings.Index(f, ".github/actions/"); i >= 0 {
		return filepath.FromSlash(f[:i] + ".")
	}
	return filepath.Dir(file)
}

// isBakeFile: docker-bake.hcl, docker-bake.json and their overrides, or
// any .hcl file (bake is the only HCL the linter reads).
func isBakeFile(file string) bool {
	b := strings.ToLower(filepath.Base(file))
	return strings.HasSuffix(b, ".hcl") || strings.HasPrefix(b, "docker-bake") && strings.HasSuffix(b, ".json")
}

// readLocal reads a file the linted workflow names (a reusable workflow,
// a GitLab include, a bake file), bounded like the files linted directly.
func readLocal(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxFileSize>>20)
	}
	return src, nil
}

func workflowFiles(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("no such file or directory")
		}
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && path != p {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := strings.ToLower(filepath.Ext(path)); (ext == ".yml" || ext == ".yaml" || strings.HasPrefix(strings.ToLower(d.Name()), "docker-bake") && isBakeFile(path)) && d.Type().IsRegular() {
			out = append(out, path)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// LintFile reads and lints one file. A read or parse failure is returned
// as a *FileError, with the findings of any documents parsed before it.
func LintFile(path string, cfg Config) ([]Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{File: path, Message: strings.TrimPrefix(err.Error(), "open "+path+": ")}
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, &FileError{File: path, Message: "read: " + err.Error()}
	}
	if len(src) > maxFileSize {
		return nil, &FileError{File: path, Message: fmt.Sprintf("larger than %d MiB; not a workflow", maxFileSize>>20)}
	}
	return LintBytes(path, src, cfg)
}

// LintBytes lints the workflow text src, reported under the name file.
// Every YAML document in src is linted as a workflow; anchors, aliases and
// merge keys are followed. A parse failure is returned as a *FileError
// (with a line when one can be found) together with the findings of the
// documents before it. It never panics.
func LintBytes(file string, src []byte, cfg Config) ([]Finding, error) {
	if fe := oddLineBreak(file, src); fe != nil {
		// The YAML parser counts these as new lines while editors, git and
		// our own edits count only LF: every position after one would be
		// wrong, so the file is refused (failing closed) rather than
		// linted with misplaced findings and fixes.
		return nil, fe
	}
	l := newLinter(file, src, cfg)
	if isBakeFile(file) {
		l.bakeFile(src, nil, true, nil)
		l.applySuppressions()
		return mergeSamePlace(sortFindings(append(l.findings, l.extra...))), nil
	}
	docs, ferr := parseDocuments(file, src)
	for _, d := range docs {
		l.document(d)
	}
	l.applySuppressions()
	out := mergeSamePlace(sortFindings(append(l.findings, l.extra...)))
	if ferr != nil {
		return out, ferr
	}
	return out, nil
}
