package lint

import "go.yaml.in/yaml/v3"

func (l *linter) isGitLab(top *yaml.Node) bool                                 { return false }
func (l *linter) gitlab(top *yaml.Node)                                        {}
func (l *linter) jobUses(job *yaml.Node, jr *jobRec, jc *evalCtx, tr triggers) {}
func (l *linter) bakeFromAction(st *step)                                      {}
func (l *linter) manifestAction(st *step, action string) bool                  { return false }
