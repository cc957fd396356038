package serve

import "github.com/immutag/immutag/internal/providers/acr"

// The webhook locks just the pushed tag only when the ACR adapter offers it.
var _ TagLocker = (*acr.Provider)(nil)
