package audit

// SortedChanges returns the records of s in the one stable order (provider,
// scope, repository, target) and closes s; on error s is left as it was.
// Changes are recorded as they complete, which with several at once is not
// the plan's order, so a report would otherwise list them differently from
// run to run.
func SortedChanges(s *Spool[ChangeRecord]) (*Spool[ChangeRecord], error) {
	if s == nil {
		return nil, nil
	}
	sorted, err := SortSpool(CompareChanges, SortRun, s.Each)
	if err != nil {
		return s, err
	}
	s.Close()
	return sorted, nil
}
