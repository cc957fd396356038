package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/cli/configload"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/redact"
)

// ledgerDSN picks the ledger: --ledger wins, then ledger.dsn_env, then
// ledger.dsn, then the default SQLite file. cfg may be nil (no config).
func (d Deps) ledgerDSN(cfg *config.Config) (dsn, from string, err error) {
	if d.Ledger != "" {
		if ledger.HasPassword(d.Ledger) {
			return "", "", fmt.Errorf("--ledger: %w", ledger.ErrInlinePassword)
		}
		return d.Ledger, "--ledger", nil
	}
	if cfg != nil && cfg.Ledger.DSNEnv != "" {
		v := d.Getenv(cfg.Ledger.DSNEnv)
		if v == "" {
			return "", "", fmt.Errorf("%s: ledger.dsn_env names %s, which is not set or empty", cfgName(cfg), cfg.Ledger.DSNEnv)
		}
		return v, "$" + cfg.Ledger.DSNEnv, nil
	}
	if cfg != nil && cfg.Ledger.DSN != "" {
		return cfg.Ledger.DSN, "ledger.dsn", nil
	}
	base := d.Getenv("XDG_STATE_HOME")
	if base == "" || !filepath.IsAbs(base) {
		p, err := ledger.DefaultPath()
		return p, "default", err
	}
	return filepath.Join(base, "immutag", "ledger.db"), "default", nil
}

func cfgName(cfg *config.Config) string {
	if cfg.File != "" {
		return cfg.File
	}
	return "config"
}

// openLedger opens the ledger the flags and config select, creating it if
// needed (recording). cfg may be nil.
func (d Deps) openLedger(ctx context.Context, cfg *config.Config) (*ledger.Store, error) {
	dsn, _, err := d.ledgerDSN(cfg)
	if err != nil {
		return nil, err
	}
	return ledger.Open(ctx, dsn)
}

// openLedgerToRead opens the ledger for questions: one that does not exist
// is an error naming where it was looked for and how it comes to be, and no
// file is created.
func (d Deps) openLedgerToRead(ctx context.Context, cfg *config.Config) (*ledger.Store, error) {
	dsn, from, err := d.ledgerDSN(cfg)
	if err != nil {
		return nil, err
	}
	s, err := ledger.OpenExisting(ctx, dsn)
	if errors.Is(err, ledger.ErrNoLedger) {
		where := "from " + from
		if from == "default" {
			where = "the default location"
		}
		return nil, fmt.Errorf("%w (%s): record one with 'immutag audit --record' or 'immutag serve --record', or name another with --ledger or ledger.dsn", err, where)
	}
	return s, err
}

// HistoryOptions are the inputs of immutag history.
type HistoryOptions struct {
	// Deps are the run's dependencies, set from the Factory when the
	// command runs.
	Deps

	Ref    string
	At     string
	Moved  bool
	Since  string
	Digest string
	Format string
}

// NewCmdHistory builds `immutag history`. runF, when set, replaces the run
// function (tests check the parsed options with it).
func NewCmdHistory(f *Factory, runF func(context.Context, *HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{}
	cmd := &cobra.Command{
		Use:   "history [PROVIDER/]REPOSITORY:TAG [--at TIME] | --moved [--since 90d] | --digest sha256:...",
		Short: "Ask the tag ledger which image a tag named, and when",
		Long: `Answers from the ledger that 'audit --record' and 'serve --record' keep: for each
tag, the digests it pointed at, each with when it was first and last seen and
where that came from (scan: immutag's own listing; quay tag history,
harbor-auditlog, dockerhub-auditlog: the registry's own record).

  history REPO:TAG                 every digest the tag has named
  history REPO:TAG --at TIME       the digest at that moment, or "not known at that
                                   time" (before the first record, or between two
                                   scans that disagree) with the nearest observations
  history --moved [--since 90d]    every tag that named more than one digest:
                                   overwrite evidence
  history --digest sha256:...      which tags named this image, and when

REPOSITORY may be written as the image is pulled: after its scope (library/nginx
for a Harbor project, acme/web for a Docker Hub organisation) or its registry
host (localhost:5000/team/app); each matching provider's tag is listed.

TIME is RFC 3339 (2026-09-01T15:00:00Z) or a local date and time
("2026-09-01 15:00", "2026-09-01"); without a fraction of a second it stands
for that whole second. A local time a daylight-saving change skipped or
repeated is refused with the instants it could mean. The ledger is --ledger
DSN, else the config's ledger.dsn_env / ledger.dsn, else
$XDG_STATE_HOME/immutag/ledger.db.`,
		Example: `  immutag history team/app:latest
  immutag history aws-prod/team/app:v1.4 --at "2026-09-01 15:00"
  immutag history --moved --since 90d -o csv
  immutag history --digest sha256:4f1c... -o json
  immutag history --ledger postgres://immutag@db/ledger team/app:latest`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Ref = args[0]
			}
			opts.Deps = f.Deps()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return historyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.At, "at", "", "the digest the tag named at this time (RFC 3339, or local \"2026-09-01 15:00\")")
	fl.BoolVar(&opts.Moved, "moved", false, "list every tag that pointed at more than one digest")
	fl.StringVar(&opts.Since, "since", "", "with --moved: only changes since this long ago (90d, 12h) or this time")
	fl.StringVar(&opts.Digest, "digest", "", "list the tags that pointed at this digest")
	fl.StringVarP(&opts.Format, "output-format", "o", "", "output format: table, json or csv (default: table on a terminal, else json)")
	return cmd
}

func (o *HistoryOptions) validate() error {
	var modes []string
	if o.Ref != "" {
		modes = append(modes, "REPOSITORY:TAG ("+strconv.Quote(o.Ref)+")")
	}
	if o.Moved {
		modes = append(modes, "--moved")
	}
	if o.Digest != "" {
		modes = append(modes, "--digest")
	}
	switch len(modes) {
	case 0:
		return errors.New("give exactly one of REPOSITORY:TAG, --moved or --digest")
	case 1:
	default:
		return fmt.Errorf("%s cannot be combined: give exactly one of REPOSITORY:TAG, --moved or --digest", strings.Join(modes, " and "))
	}
	if o.At != "" && o.Ref == "" {
		return errors.New("--at needs a REPOSITORY:TAG")
	}
	if o.Since != "" && !o.Moved {
		return errors.New("--since goes with --moved")
	}
	if o.Digest != "" {
		d, err := normalDigest(o.Digest)
		if err != nil {
			return err
		}
		o.Digest = d
	}
	switch o.Format {
	case "", "table", "json", "csv":
	default:
		return fmt.Errorf("-o %q: history writes table, json or csv", o.Format)
	}
	return nil
}

// digestHex is the length of the hex part of the digests registries list.
var digestHex = map[string]int{"sha256": 64, "sha512": 128}

// normalDigest checks --digest: the whole digest, as registries list it
// (lower-case hex; upper-case is taken as the same digest). A short one is
// refused rather than answered with "no tag ever pointed at it".
func normalDigest(s string) (string, error) {
	algo, hex, ok := strings.Cut(strings.ToLower(s), ":")
	want, known := digestHex[algo]
	switch {
	case !ok || algo == "":
		return "", fmt.Errorf("--digest %q: want ALGORITHM:HEX (sha256:0123...)", s)
	case !known:
		return "", fmt.Errorf("--digest %q: %s is not a digest algorithm registries use (sha256, sha512)", s, algo)
	case strings.Trim(hex, "0123456789abcdef") != "":
		return "", fmt.Errorf("--digest %q: the part after %s: must be hexadecimal", s, algo)
	case len(hex) != want:
		return "", fmt.Errorf("--digest %q: a %s digest has %d hex digits, this has %d: give the whole digest (docker inspect or crane digest print it)", s, algo, want, len(hex))
	}
	return algo + ":" + hex, nil
}

// localLayouts are the local date-and-time forms --at and --since take.
var localLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// parseWhen reads RFC 3339 or a local date and time. A local time that the
// zone skipped or went through twice (a daylight-saving change) is refused
// with the instants it could mean: the ledger answers for one instant, and
// must not pick one silently.
func parseWhen(s string, loc *time.Location) (time.Time, error) {
	// RFC 3339 allows a lower-case t and z.
	if t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); err == nil {
		return t, nil
	}
	for _, layout := range localLayouts {
		wall, err := time.Parse(layout, s) // the wall clock, as if in UTC
		if err != nil {
			continue
		}
		var at []time.Time
		for _, probe := range []time.Duration{-36 * time.Hour, 0, 36 * time.Hour} {
			_, off := wall.Add(probe).In(loc).Zone()
			t := wall.Add(-time.Duration(off) * time.Second)
			if sameWall(t.In(loc), wall) && !slices.ContainsFunc(at, t.Equal) {
				at = append(at, t)
			}
		}
		switch len(at) {
		case 1:
			return at[0].In(loc), nil
		case 0:
			return time.Time{}, fmt.Errorf("%q: %s skipped that local time (clocks went forward): give the time with its UTC offset (RFC 3339)", s, zoneName(loc))
		default:
			slices.SortFunc(at, time.Time.Compare)
			return time.Time{}, fmt.Errorf("%q: %s went through that local time twice (clocks went back): give %s or %s", s, zoneName(loc),
				at[0].In(loc).Format(time.RFC3339), at[1].In(loc).Format(time.RFC3339))
		}
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-09-01T15:00:00Z) or a local date and time (2026-09-01 15:00)", s)
}

func sameWall(t, wall time.Time) bool {
	y, mo, d := t.Date()
	wy, wmo, wd := wall.Date()
	return y == wy && mo == wmo && d == wd && t.Hour() == wall.Hour() && t.Minute() == wall.Minute() && t.Second() == wall.Second()
}

// zoneName names loc for a message; Go calls the machine's zone "Local".
func zoneName(loc *time.Location) string {
	if loc == time.Local {
		if tz := os.Getenv("TZ"); tz != "" {
			return "the time zone " + tz
		}
		return "this machine's time zone"
	}
	return loc.String()
}

// maxSinceDays keeps now - N days representable (a time.Duration spans 292 years).
const maxSinceDays = 100 * 365

// parseSince reads "90d", "2w", a Go duration ("36h") or a time.
func parseSince(s string, now time.Time, loc *time.Location) (time.Time, error) {
	for suffix, unit := range map[string]int{"d": 1, "w": 7} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			if v, err := strconv.Atoi(n); err == nil && v >= 0 {
				if v > maxSinceDays/unit {
					return time.Time{}, fmt.Errorf("--since %q: more than %d years back; give a date instead", s, maxSinceDays/365)
				}
				return now.AddDate(0, 0, -v*unit), nil
			}
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := parseWhen(s, loc)
	if err != nil {
		if strings.Contains(err.Error(), "clocks went") {
			return time.Time{}, fmt.Errorf("--since %w", err)
		}
		return time.Time{}, fmt.Errorf("--since %q: want a duration back from now (90d, 2w, 36h) or a time", s)
	}
	if t.After(now) {
		return time.Time{}, fmt.Errorf("--since %q is in the future (now is %s)", s, now.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// historyTag is one tag in history's JSON output.
type historyTag struct {
	ledger.Key
	Intervals []ledger.Interval `json:"intervals"`
	DigestAt  *ledger.At        `json:"digest_at,omitempty"`
}

func historyRun(ctx context.Context, o *HistoryOptions) error {
	d := o.Deps
	if err := o.validate(); err != nil {
		return err
	}
	var at, since time.Time
	var err error
	if o.At != "" {
		if at, err = parseWhen(o.At, time.Local); err != nil {
			return fmt.Errorf("--at %w", err)
		}
		// The ledger does not know the future; "not known at that time"
		// with the current digest as "last seen before" would read as if
		// the tag stopped naming it.
		if now := d.Now(); at.After(now) {
			return fmt.Errorf("--at %q is in the future (now is %s)", o.At, now.UTC().Format(time.RFC3339))
		}
	}
	if o.Since != "" {
		if since, err = parseSince(o.Since, d.Now(), time.Local); err != nil {
			return err
		}
	}
	var ref ledger.Ref
	if o.Ref != "" {
		if ref, err = ledger.ParseRef(o.Ref); err != nil {
			return err
		}
	}
	// history needs no config: the default ledger works without one.
	var cfg *config.Config
	if d.Ledger == "" {
		c, err := d.Config()
		switch {
		case err == nil:
			cfg = c
		case errors.Is(err, configload.ErrNoConfig):
		default:
			return err
		}
	}
	store, err := d.openLedgerToRead(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	format := o.Format
	if format == "" {
		format = "json"
		if d.IO.StdoutTTY {
			format = "table"
		}
	}
	w := d.IO.Out
	switch {
	case o.Ref != "":
		hs, err := store.History(ctx, ref)
		if err != nil {
			return err
		}
		if len(hs) == 0 {
			return fmt.Errorf("%s: the ledger (%s) has no record of this tag; record with 'immutag audit --record'", cell(o.Ref), store.Where())
		}
		out := make([]historyTag, len(hs))
		for i, h := range hs {
			out[i] = historyTag{Key: h.Key, Intervals: h.Intervals}
			if o.At != "" {
				// A time without a fraction of a second is taken to the
				// second, the precision tables print first and last seen
				// in: a time copied from them finds its interval.
				var precision time.Duration
				if at.Nanosecond() == 0 {
					precision = time.Second
				}
				a := h.DigestWithin(at, precision)
				out[i].DigestAt = &a
			}
		}
		return writeHistory(w, format, out)
	case o.Moved:
		return writeMoves(ctx, w, format, store, since)
	default:
		var out []historyTag
		err := store.ByDigest(ctx, o.Digest, func(t ledger.Tagged) error {
			if n := len(out); n > 0 && out[n-1].Key == t.Key {
				out[n-1].Intervals = append(out[n-1].Intervals, t.Interval)
				return nil
			}
			out = append(out, historyTag{Key: t.Key, Intervals: []ledger.Interval{t.Interval}})
			return nil
		})
		if err != nil {
			return err
		}
		if len(out) == 0 {
			fmt.Fprintf(d.IO.ErrOut, "no tag in the ledger (%s) ever pointed at %s\n", store.Where(), o.Digest)
		}
		return writeHistory(w, format, out)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

var intervalHeader = []string{"provider", "scope", "repository", "tag", "digest", "first_seen", "last_seen", "source", "current"}

func writeHistory(w io.Writer, format string, tags []historyTag) error {
	switch format {
	case "json":
		if tags == nil {
			tags = []historyTag{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(tags)
	case "csv":
		cw := csv.NewWriter(w)
		header := intervalHeader
		withAt := len(tags) > 0 && tags[0].DigestAt != nil
		if withAt {
			header = append(header[:len(header):len(header)], "at", "digest_at")
		}
		if err := cw.Write(header); err != nil {
			return err
		}
		for _, t := range tags {
			for _, iv := range t.Intervals {
				rec := []string{t.Provider, t.Scope, t.Repository, t.Tag, iv.Digest, stamp(iv.FirstSeen), stamp(iv.LastSeen), iv.Source, strconv.FormatBool(iv.Current)}
				if withAt {
					rec = append(rec, stamp(t.DigestAt.Time), t.DigestAt.Digest)
				}
				if err := csvSafe(cw, rec); err != nil {
					return err
				}
			}
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, t := range tags {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s  %s:%s  (%s)\n", cell(t.Provider), cell(t.Repository), cell(t.Tag), cell(t.Scope))
		fmt.Fprintln(tw, "  DIGEST\tFIRST SEEN\tLAST SEEN\tSOURCE\t")
		for _, iv := range t.Intervals {
			last := stamp(iv.LastSeen)
			if iv.Current {
				last += " (current)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", cell(iv.Digest), stamp(iv.FirstSeen), last, cell(iv.Source))
		}
		if a := t.DigestAt; a != nil {
			if a.Known {
				fmt.Fprintf(tw, "  at %s: %s\n", stamp(a.Time), cell(a.Digest))
			} else {
				fmt.Fprintf(tw, "  at %s: not known at that time", stamp(a.Time))
				if a.Before != nil {
					fmt.Fprintf(tw, "; last seen before: %s until %s", cell(a.Before.Digest), stamp(a.Before.LastSeen))
				}
				if a.After != nil {
					fmt.Fprintf(tw, "; next seen: %s from %s", cell(a.After.Digest), stamp(a.After.FirstSeen))
				}
				if a.Before == nil && a.After == nil {
					fmt.Fprint(tw, " (no observation)")
				}
				fmt.Fprintln(tw)
			}
		}
	}
	if len(tags) == 0 {
		fmt.Fprintln(tw, "no records")
	}
	return tw.Flush()
}

// cell is a name from a registry (or the ledger) made safe for a terminal
// line or table cell: control characters (ANSI escapes, CR, tabs that
// would shift columns) and bidirectional overrides are shown escaped.
func cell(s string) string { return redact.Printable(s) }

// csvSafe writes a record with cells that a spreadsheet would run as a
// formula prefixed by a quote (tag names come from registries), and
// control characters escaped as in tables: CSV is read on terminals too.
func csvSafe(cw *csv.Writer, rec []string) error {
	for i, c := range rec {
		c = cell(c)
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			c = "'" + c
		}
		rec[i] = c
	}
	return cw.Write(rec)
}

// movedTag is one change of digest in --moved output.
type movedTag struct {
	ledger.Key
	Intervals []ledger.Interval `json:"intervals"`
	MovedAt   time.Time         `json:"moved_at"`
}

func writeMoves(ctx context.Context, w io.Writer, format string, store *ledger.Store, since time.Time) error {
	var cw *csv.Writer
	var tw *tabwriter.Writer
	first := true
	n := 0
	switch format {
	case "json":
		// Streamed: the number of moves is not bounded.
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
	case "csv":
		cw = csv.NewWriter(w)
		if err := cw.Write([]string{"provider", "scope", "repository", "tag", "previous_digest", "previous_first_seen", "previous_last_seen", "digest", "first_seen", "source", "previous_source"}); err != nil {
			return err
		}
	default:
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROVIDER\tREPOSITORY:TAG\tPREVIOUS DIGEST\tLAST SEEN\tNEW DIGEST\tFIRST SEEN\tSOURCE\t")
	}
	err := store.Moved(ctx, since, func(m ledger.Move) error {
		n++
		switch format {
		case "json":
			b, err := json.MarshalIndent(movedTag{Key: m.Key, Intervals: []ledger.Interval{m.From, m.To}, MovedAt: m.To.FirstSeen}, "  ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n  "
			if first {
				sep = "\n  "
			}
			first = false
			_, err = io.WriteString(w, sep+string(b))
			return err
		case "csv":
			return csvSafe(cw, []string{m.Provider, m.Scope, m.Repository, m.Tag, m.From.Digest, stamp(m.From.FirstSeen), stamp(m.From.LastSeen), m.To.Digest, stamp(m.To.FirstSeen), m.To.Source, m.From.Source})
		default:
			// Each digest's own source: an imported past and a scanned present
			// are different evidence.
			src := m.To.Source
			if m.From.Source != m.To.Source {
				src = m.From.Source + " -> " + m.To.Source
			}
			_, err := fmt.Fprintf(tw, "%s\t%s:%s\t%s\t%s\t%s\t%s\t%s\t\n", cell(m.Provider), cell(m.Repository), cell(m.Tag), cell(m.From.Digest),
				stamp(m.From.LastSeen), cell(m.To.Digest), stamp(m.To.FirstSeen), cell(src))
			return err
		}
	})
	if err != nil {
		return err
	}
	switch format {
	case "json":
		end := "\n]\n"
		if first {
			end = "]\n"
		}
		_, err = io.WriteString(w, end)
		return err
	case "csv":
		cw.Flush()
		return cw.Error()
	default:
		if n == 0 {
			fmt.Fprintln(tw, "no tag moved")
		}
		return tw.Flush()
	}
}
