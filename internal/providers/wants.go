package providers

// Wanted reports whether the run that handed e to an adapter keeps the
// repository name. A sharded run keeps only its own part of a scope, and an
// adapter that pays one or more calls per repository asks first so it does
// not read what the run would drop. Emitters without that notion want all.
func Wanted(e Emitter, name string) bool {
	w, ok := e.(interface{ Wants(name string) bool })
	return !ok || w.Wants(name)
}
