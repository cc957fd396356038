package dockerhub

// ComplementRuleOf exposes complementRule to the external tests.
func ComplementRuleOf(allowed []string) string {
	ok, _ := splitAllowed(allowed)
	return complementRule(ok)
}
