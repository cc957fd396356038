package providers

// Wanted reports whether the run that handed e to an adapter keeps the
// repository name. A sharded run keeps only its own part of a scope, and an
// adapter that pays one or more calls per repository asks first so it does
// not read what the run would drop. Emitters without that notion want all.
func Wanted(e Emitter, name string) bool {
	w, ok := e.(interface{ Wants(name string) bool })
	return !ok || w.Wants(name)
}

// SendWanted wraps a FanOut send so that only the repositories this run
// keeps are handed over: a sharded run then queues its own repositories,
// not the other shards' (which left its workers idle while the next page
// was fetched, since three quarters of the queue were skipped at once).
func SendWanted(e Emitter, send func(string) error) func(string) error {
	if _, ok := e.(interface{ Wants(name string) bool }); !ok {
		return send
	}
	return func(name string) error {
		if !Wanted(e, name) {
			return nil
		}
		return send(name)
	}
}
