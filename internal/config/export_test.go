package config

// Internals the external tests (package config_test, which may import the
// adapters' Specs) check.
var (
	SecretLike    = secretLike
	TopKeys       = topKeys
	CredKeys      = credKeys
	TLSKeys       = tlsKeys
	RateKeys      = rateKeys
	PolicyKeys    = policyKeys
	ExemptionKeys = exemptionKeys
	MaxErrorLen   = maxErrorLen
	LedgerKeys    = ledgerKeys
)

// ProviderKeys is the envelope plus every kind's keys.
func (ks Kinds) ProviderKeys() []string { return ks.providerKeys() }

// Applies reports whether s reads key.
func (s *Spec) Applies(key string) bool { return s.applies(key) }
