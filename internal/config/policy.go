package config

import "time"

// Glob reports whether s matches pattern in full, where * matches any run of
// characters ("/" included) and every other character is literal. It is
// deliberately simpler than path.Match: exemption patterns are written by
// auditors, and "team/*" must cover "team/app/sub" without ** or escaping.
func Glob(pattern, s string) bool {
	// Classic linear wildcard match: on a mismatch, let the last * absorb one
	// more character and retry from there.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			i = mark
			p = star + 1
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Active reports whether the exemption still applies at now: it never
// expires, or now's UTC date is on or before the Expires date (the last day
// is included).
func (e Exemption) Active(now time.Time) bool {
	if e.Expires.IsZero() {
		return true
	}
	ny, nm, nd := now.UTC().Date()
	ey, em, ed := e.Expires.UTC().Date()
	return !time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC).After(time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC))
}

// Expired reports whether the exemption had an end date that has passed;
// the report lists such entries so they get renewed or removed.
func (e Exemption) Expired(now time.Time) bool { return !e.Active(now) }

// Matches reports whether the exemption's globs cover a repository,
// ignoring expiry. Empty Provider and Scope mean "*".
func (e Exemption) Matches(provider, scope, repository string) bool {
	pp, sp := e.Provider, e.Scope
	if pp == "" {
		pp = "*"
	}
	if sp == "" {
		sp = "*"
	}
	return Glob(pp, provider) && Glob(sp, scope) && Glob(e.Repository, repository)
}
