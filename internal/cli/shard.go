package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/audit"
)

// ShardFlags split an audit or fix over several processes.
type ShardFlags struct {
	Shard   string // --shard I/N
	FromEnv bool   // --shard-from-env: I from JOB_COMPLETION_INDEX
	Count   int    // --shards N, with --shard-from-env
}

func (s *ShardFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.Shard, "shard", "", "do only part INDEX/COUNT of the work (INDEX from 0), for runs split over several processes; join the reports with 'immutag report merge'")
	fl.BoolVar(&s.FromEnv, "shard-from-env", false, "take the shard INDEX from $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs); needs --shards")
	fl.IntVar(&s.Count, "shards", 0, "shard COUNT, with --shard-from-env")
}

// resolve turns the flags into a shard, or nil when the run is not split.
// getenv reads JOB_COMPLETION_INDEX.
func (s *ShardFlags) resolve(getenv func(string) string) (*audit.Shard, error) {
	switch {
	case s.Shard != "" && (s.FromEnv || s.Count != 0):
		return nil, fmt.Errorf("--shard %s: give either --shard or --shard-from-env with --shards, not both", s.Shard)
	case s.Shard != "":
		sh, err := audit.ParseShard(s.Shard)
		if err != nil {
			return nil, fmt.Errorf("--shard: %w", err)
		}
		return &sh, nil
	case s.FromEnv:
		if s.Count < 1 {
			return nil, fmt.Errorf("--shard-from-env needs --shards COUNT (the Job's completions)")
		}
		v := strings.TrimSpace(getenv("JOB_COMPLETION_INDEX"))
		if v == "" {
			return nil, fmt.Errorf("--shard-from-env: JOB_COMPLETION_INDEX is not set (it is set in the pods of a Kubernetes Job with completionMode: Indexed)")
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("--shard-from-env: JOB_COMPLETION_INDEX %q is not a whole number", v)
		}
		sh := audit.Shard{Index: i, Count: s.Count}
		if err := sh.Validate(); err != nil {
			return nil, fmt.Errorf("--shard-from-env: %w", err)
		}
		return &sh, nil
	case s.Count != 0:
		return nil, fmt.Errorf("--shards %d: needs --shard-from-env (or give --shard INDEX/COUNT)", s.Count)
	}
	return nil, nil
}

// shardJournal gives each shard of a fix its own journal beside the one
// named, so shards running at once never share (or lock each other out of)
// one file.
func shardJournal(path string, sh *audit.Shard) string {
	if !sh.Sharded() {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s.shard-%d-of-%d%s", strings.TrimSuffix(path, ext), sh.Index, sh.Count, ext)
}
