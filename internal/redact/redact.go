// Package redact is immutag's one redactor: every secret value the program
// knows (credentials read from the environment, tokens it minted or
// received, Authorization and Cookie values it sent) is registered here,
// and every error, log line and report field goes through String before it
// leaves the process. Known token shapes and credential headers echoed in a
// server's answer are scrubbed even when their value was never registered.
package redact

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// MinLen is the shortest value registered: shorter ones would blank out
// ordinary words, and no registry issues credentials that short.
const MinLen = 6

var (
	mu       sync.Mutex
	secrets  = map[string]struct{}{}
	replacer atomic.Pointer[strings.Replacer]
)

// patterns catch secrets by their shape, registered or not: credential
// headers as a server echoes them (also as a JSON list of values, the way a
// header map is logged: the mask goes inside the list, so it still parses),
// and the token formats of the registries and forges immutag's users paste.
var patterns = []struct {
	re   *regexp.Regexp
	repl string
	// maybe is a cheap necessary condition for re to match: most strings
	// (every finding's reason and note go through String) hold none of
	// these shapes, and seven regular expressions per string were a fifth
	// of an audit's CPU. lower is s lower-cased when s is ASCII, else "":
	// (?i) also folds non-ASCII letters (U+017F matches s), so a non-ASCII
	// string always goes to the expression.
	maybe func(s, lower string) bool
}{
	{regexp.MustCompile(`(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-amz-security-token|x-registry-auth)(["']?\s*[:=]\s*(?:\[\s*)?["']?)[^"'\r\n]*`), "${1}${2}" + Mask,
		func(s, lower string) bool {
			return lower == "" || containsAny(lower, "authorization", "cookie", "x-amz-security-token", "x-registry-auth")
		}},
	{regexp.MustCompile(`(?i)([?&](?:access_token|token|password|passwd|secret|api_key|apikey|key|sig|signature|code|x-amz-signature|x-amz-security-token|x-amz-credential)=)[^&#\s"']*`), "${1}" + Mask,
		func(s, _ string) bool { return strings.ContainsAny(s, "?&") && strings.Contains(s, "=") }},
	{regexp.MustCompile(`\b(?:dckr_pat_|dckr_oat_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|xox[abpr]-)[A-Za-z0-9_-]{8,}`), Mask,
		func(s, _ string) bool { return containsAny(s, "dckr_", "gh", "glpat-", "xox") }},
	{regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`), Mask,
		func(s, _ string) bool { return containsAny(s, "AKIA", "ASIA") }},
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`), Mask,
		func(s, _ string) bool { return strings.Contains(s, "eyJ") }},
	{regexp.MustCompile(`(://[^/\s:@]*:)[^@/\s]+@`), "${1}" + Mask + "@",
		func(s, _ string) bool { return strings.Contains(s, "://") && strings.Contains(s, "@") }},
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// asciiLower is s lower-cased if s is ASCII, else "" (see patterns).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return ""
		}
	}
	return strings.ToLower(s)
}

// Add registers secret values; values shorter than MinLen are ignored. The
// forms a value takes on the wire and in JSON (URL-escaped, JSON-escaped)
// are registered with it.
func Add(values ...string) {
	mu.Lock()
	defer mu.Unlock()
	changed := false
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < MinLen {
			continue
		}
		forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
		if b, err := json.Marshal(v); err == nil {
			forms = append(forms, strings.Trim(string(b), `"`))
		}
		for _, f := range forms {
			if _, ok := secrets[f]; !ok {
				secrets[f] = struct{}{}
				changed = true
			}
		}
	}
	if !changed {
		return
	}
	// Longest first, so a secret containing another is masked whole.
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	sortByLenDesc(keys)
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, Mask)
	}
	replacer.Store(strings.NewReplacer(pairs...))
}

func sortByLenDesc(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && len(s[j]) > len(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// AddHeaderValue registers a credential header value ("Bearer xyz",
// "Basic base64"): the whole value, the credential after the scheme, and
// for Basic the decoded password.
func AddHeaderValue(v string) {
	v = strings.TrimSpace(v)
	// A SigV4 signature is new on every request and useless once sent:
	// registering each would grow the redactor with the number of calls.
	if v == "" || strings.HasPrefix(v, "AWS4-") {
		return
	}
	vals := []string{v}
	if scheme, cred, ok := strings.Cut(v, " "); ok {
		cred = strings.TrimSpace(cred)
		vals = append(vals, cred)
		if strings.EqualFold(scheme, "basic") {
			if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
				if _, pw, ok := strings.Cut(string(raw), ":"); ok {
					vals = append(vals, pw)
				}
			}
		}
	}
	Add(vals...)
}

// String returns s with every registered secret and every secret-shaped
// value masked.
func String(s string) string {
	if s == "" {
		return s
	}
	if r := replacer.Load(); r != nil {
		s = r.Replace(s)
	}
	lower := asciiLower(s)
	for _, p := range patterns {
		if !p.maybe(s, lower) {
			continue
		}
		if r := p.re.ReplaceAllString(s, p.repl); r != s {
			s, lower = r, asciiLower(r)
		}
	}
	if lower != "" && !containsAny(lower, "bearer", "basic") {
		return s
	}
	return schemeRE.ReplaceAllStringFunc(s, maskScheme)
}

// maskScheme masks the credential of one schemeRE match, unless it is
// prose or not a Basic user:password.
func maskScheme(m string) string {
	sub := schemeRE.FindStringSubmatch(m)
	scheme, sp, cred := sub[1], sub[2], sub[3]
	if strings.EqualFold(scheme, "basic") {
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil || !strings.Contains(string(raw), ":") {
			return m
		}
	} else if len(cred) < 16 && !strings.ContainsAny(cred, "0123456789") {
		return m // prose ("bearer tokens"), not a credential
	}
	return scheme + sp + Mask
}

// schemeRE finds "Bearer <token>" and "Basic <base64>" wherever a server
// echoed them.
var schemeRE = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/-]{8,}=*)`)

// Error wraps err so that its text is redacted; errors.Is and errors.As
// still see the original chain. nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var re *redacted
	if errors.As(err, &re) && re == err {
		return err
	}
	return &redacted{err: err}
}

type redacted struct{ err error }

func (e *redacted) Error() string { return String(e.err.Error()) }
func (e *redacted) Unwrap() error { return e.err }

// Handler wraps an slog.Handler so that the message and every attribute
// value (strings, errors, anything rendered as text) are redacted.
func Handler(h slog.Handler) slog.Handler { return &handler{h: h} }

type handler struct{ h slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(Attr(a))
		return true
	})
	return h.h.Handle(ctx, nr)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = Attr(a)
	}
	return &handler{h: h.h.WithAttrs(out)}
}

func (h *handler) WithGroup(name string) slog.Handler { return &handler{h: h.h.WithGroup(name)} }

// Attr redacts one log attribute's value.
func Attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = Attr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(x.Error()))
		case nil:
			return a
		case interface{ String() string }:
			return slog.String(a.Key, String(x.String()))
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return slog.String(a.Key, Mask)
			}
			var back any
			if json.Unmarshal([]byte(String(string(b))), &back) != nil {
				return slog.String(a.Key, String(string(b)))
			}
			return slog.Any(a.Key, back)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Printable escapes what a registry could use against the terminal or the
// document a string is shown in: control characters (ESC sequences that
// clear the screen or set the title, BEL, CR and newlines that forge rows),
// Unicode line separators and bidirectional overrides become visible
// escapes (\x1b, \n, \u202e). Everything else is kept.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !unsafeRune(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r) // '\x1b', '\n', '\u202e'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case unicode.IsControl(r):
		return true
	case r == '\u2028' || r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e' || r == '\u200f', r == '\u061c':
		return true
	}
	return false
}
