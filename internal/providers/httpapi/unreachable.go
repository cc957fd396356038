package httpapi

import (
	"errors"
	"net"
	"strings"
)

// MaxRefusedRetries is how many times any adapter, REST or SDK, retries a
// call whose connection was refused.
const MaxRefusedRetries = maxRefusedRetries

// UnknownHost reports an error that asking again cannot cure: the name
// does not resolve. SDK adapters stop their retryers on it.
func UnknownHost(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return true
	}
	// gRPC flattens the resolver's error into its status message.
	return err != nil && strings.Contains(err.Error(), "no such host")
}

// Refused reports a refused connection (nothing listens there), also
// when an SDK has flattened it into a message.
func Refused(err error) bool {
	return refused(err) || (err != nil && strings.Contains(err.Error(), "connection refused"))
}
