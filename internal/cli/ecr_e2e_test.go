package cli

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/immutag/immutag/internal/audit"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	"github.com/immutag/immutag/internal/testutil/moto"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(childMain())
	}
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}

// Known fake secrets: the debug-log test asserts none of them leaks.
const (
	testAccessKey = "AKIAIMMUTAGLEAKCHECK"
	testSecretKey = "immutag-secret-value-that-must-never-leak"
)

// awsEnv isolates the AWS SDK default chain from the machine and points STS at url.
func awsEnv(t *testing.T, url string) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_STS", url)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_ECR", "")
}

func ecrConfig(t *testing.T, endpoint string) string {
	p := filepath.Join(t.TempDir(), "immutag.yaml")
	body := "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    endpoint: " + endpoint +
		"\n    regions: [us-east-1, eu-west-1]\npolicy:\n  mutable_tags_allowed: [latest]\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type jsonReport struct {
	Summary  audit.Summary
	Scopes   []audit.ScopeResult
	Findings []audit.Finding
	Changes  []audit.ChangeRecord
}

func decode(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, s)
	}
	return r
}

func noSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{testSecretKey, testAccessKey} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains a credential (%q)", where, secret[:8]+"...")
		}
	}
}

func TestECREmulatorEndToEnd(t *testing.T) {
	emu := ecremu.New(ecremu.Options{})
	emuWeb := httptest.NewServer(emu.Handler())
	t.Cleanup(emuWeb.Close)
	awsEnv(t, emuWeb.URL)
	acct := ecremu.DefaultAccount
	for _, r := range []struct{ region, name, mode string }{
		{"us-east-1", "app/ok", ecremu.Immutable},
		{"us-east-1", "app/bad", ecremu.Mutable},
		{"eu-west-1", "eu/ok", ecremu.Immutable},
	} {
		if err := emu.CreateRepository(acct, r.region, r.name, r.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := emu.CreateRepository(acct, "eu-west-1", "eu/star", ecremu.ImmutableWithExclusion, "*"); err != nil {
		t.Fatal(err)
	}
	cfg := ecrConfig(t, emuWeb.URL)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")

	// Drift without the gate: exit 0, every repository reported.
	r := run(t, testFactory(t), "", "audit", "--config", cfg, "--log-level", "debug")
	if r.code != CodeOK {
		t.Fatalf("audit: exit %d err %v", r.code, r.err)
	}
	validateReport(t, []byte(r.stdout))
	rep := decode(t, r.stdout)
	if rep.Summary.Repositories != 4 || rep.Summary.Drift != 2 || rep.Summary.Compliant != 2 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	if !strings.Contains(r.stderr, "level=DEBUG") {
		t.Fatalf("no debug log on stderr:\n%s", r.stderr)
	}
	noSecrets(t, "debug stderr", r.stderr)
	noSecrets(t, "report", r.stdout)

	if r := run(t, testFactory(t), "", "audit", "--config", cfg, "--fail-on-drift"); r.code != CodeDrift {
		t.Fatalf("--fail-on-drift: exit %d err %v", r.code, r.err)
	}

	// Plan changes nothing.
	before := emu.Calls().Get("PutImageTagMutability")
	r = run(t, testFactory(t), "", "fix", "--config", cfg, "-o", "json")
	if r.code != CodeOK || emu.Calls().Get("PutImageTagMutability") != before {
		t.Fatalf("plan: exit %d err %v", r.code, r.err)
	}
	if plan := decode(t, r.stdout); len(plan.Changes) != 2 {
		t.Fatalf("plan %+v", plan.Changes)
	}

	// Apply with debug logs: writes, verifies, journals, and leaks nothing.
	r = run(t, testFactory(t), "", "fix", "--config", cfg, "--apply", "--yes", "--journal", journal, "--log-level", "debug", "-o", "json")
	if r.code != CodeOK {
		t.Fatalf("apply: exit %d err %v\n%s", r.code, r.err, r.stderr)
	}
	noSecrets(t, "apply stderr", r.stderr)
	noSecrets(t, "apply report", r.stdout)
	for _, c := range decode(t, r.stdout).Changes {
		if !c.Verified || c.State != "applied" {
			t.Fatalf("change %+v", c)
		}
	}
	if st, _ := emu.Repository(acct, "us-east-1", "app/bad"); st.Mutability != ecremu.ImmutableWithExclusion || strings.Join(st.Exclusions, ",") != "latest" {
		t.Fatalf("app/bad after fix: %+v", st)
	}
	if st, _ := emu.Repository(acct, "eu-west-1", "eu/star"); st.Mutability != ecremu.Immutable {
		t.Fatalf("eu/star after fix: %+v", st)
	}
	jb, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "journal", string(jb))
	if n := strings.Count(string(jb), `"event":"write"`); n != 2 {
		t.Fatalf("journal has %d writes:\n%s", n, jb)
	}

	// Idempotent: a second apply writes nothing; the audit gate is clean.
	writes := emu.Calls().Get("PutImageTagMutability")
	if r := run(t, testFactory(t), "", "fix", "--config", cfg, "--apply", "--yes", "--journal", journal); r.code != CodeOK {
		t.Fatalf("second apply: exit %d err %v", r.code, r.err)
	}
	if got := emu.Calls().Get("PutImageTagMutability"); got != writes {
		t.Fatalf("second apply wrote %d times", got-writes)
	}
	if r := run(t, testFactory(t), "", "audit", "--config", cfg, "--fail-on-drift"); r.code != CodeOK {
		t.Fatalf("audit after fix: exit %d err %v", r.code, r.err)
	}

	// One unreadable region: exit 2, the other region still reported.
	emu.Deny(acct, "eu-west-1", "DescribeRepositories")
	r = run(t, testFactory(t), "", "audit", "--config", cfg, "--fail-on-drift")
	if r.code != CodeIncomplete {
		t.Fatalf("denied region: exit %d err %v", r.code, r.err)
	}
	rep = decode(t, r.stdout)
	if rep.Summary.Repositories != 2 || rep.Summary.ScopeErrors != 1 {
		t.Fatalf("summary with denied region %+v", rep.Summary)
	}
	for _, s := range rep.Scopes {
		if strings.HasSuffix(s.Scope, "eu-west-1") && (s.Status != "error" || !strings.Contains(s.Error, "AccessDenied")) {
			t.Fatalf("scope %+v", s)
		}
	}
	// Drift elsewhere wins over incomplete with the gate.
	if err := emu.CreateRepository(acct, "us-east-1", "app/new", ecremu.Mutable); err != nil {
		t.Fatal(err)
	}
	if r := run(t, testFactory(t), "", "audit", "--config", cfg, "--fail-on-drift"); r.code != CodeDrift {
		t.Fatalf("drift + denied region: exit %d err %v", r.code, r.err)
	}
}

func TestECRMotoEndToEnd(t *testing.T) {
	url := moto.Server(t)
	awsEnv(t, url)
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		c := ecr.New(ecr.Options{Region: region, BaseEndpoint: aws.String(url), HTTPClient: moto.HTTPClient(),
			Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "")})
		for _, in := range []*ecr.CreateRepositoryInput{
			{RepositoryName: aws.String(region + "/mutable"), ImageTagMutability: types.ImageTagMutabilityMutable},
			{RepositoryName: aws.String(region + "/immutable"), ImageTagMutability: types.ImageTagMutabilityImmutable},
			{RepositoryName: aws.String(region + "/except-latest"), ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
				ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("latest"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}},
			{RepositoryName: aws.String(region + "/only-release"), ImageTagMutability: types.ImageTagMutabilityMutableWithExclusion,
				ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("release-*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}},
		} {
			if _, err := c.CreateRepository(t.Context(), in); err != nil {
				t.Fatalf("seed %s: %v", *in.RepositoryName, err)
			}
		}
	}
	cfg := ecrConfig(t, url)
	r := run(t, testFactory(t), "", "audit", "--config", cfg, "--fail-on-drift", "--log-level", "debug")
	if r.code != CodeDrift {
		t.Fatalf("audit: exit %d err %v\n%s", r.code, r.err, r.stderr)
	}
	noSecrets(t, "moto debug stderr", r.stderr)
	validateReport(t, []byte(r.stdout))
	rep := decode(t, r.stdout)
	status := map[string]audit.Status{}
	for _, f := range rep.Findings {
		status[f.Scope+" "+f.Repository] = f.Status
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		scope := moto.Account + "/" + region
		want := map[string]audit.Status{"mutable": audit.StatusDrift, "immutable": audit.StatusCompliant,
			"except-latest": audit.StatusCompliant, "only-release": audit.StatusDrift}
		for name, st := range want {
			if got := status[scope+" "+region+"/"+name]; got != st {
				t.Errorf("%s %s/%s = %q, want %q", scope, region, name, got, st)
			}
		}
	}
	// moto lacks DescribePullThroughCacheRules: a warning, and the audit goes on.
	if !strings.Contains(r.stdout, "ptc") {
		t.Errorf("no pull-through-cache warning in report")
	}
	journal := filepath.Join(t.TempDir(), "j.jsonl")
	if r := run(t, testFactory(t), "", "fix", "--config", cfg, "--apply", "--yes", "--journal", journal); r.code != CodeOK {
		t.Fatalf("fix: exit %d err %v\n%s", r.code, r.err, r.stderr)
	}
	if r := run(t, testFactory(t), "", "audit", "--config", cfg, "--fail-on-drift"); r.code != CodeOK {
		t.Fatalf("audit after fix: exit %d err %v\n%s", r.code, r.err, r.stdout)
	}
	jb, _ := os.ReadFile(journal)
	if n := strings.Count(string(jb), `"event":"verified"`); n != 4 {
		t.Fatalf("journal verified %d changes, want 4:\n%s", n, jb)
	}
}

func TestECRCreationTemplatesAndReportSchema(t *testing.T) {
	emu := ecremu.New(ecremu.Options{})
	emuWeb := httptest.NewServer(emu.Handler())
	t.Cleanup(emuWeb.Close)
	awsEnv(t, emuWeb.URL)
	acct := ecremu.DefaultAccount
	if err := emu.CreateRepository(acct, "us-east-1", "svc", ecremu.Mutable); err != nil {
		t.Fatal(err)
	}
	cfg := ecrConfig(t, emuWeb.URL)
	out := filepath.Join(t.TempDir(), "fix.json")
	r := run(t, testFactory(t), "", "fix", "--config", cfg, "--creation-templates", "--apply", "--yes",
		"--journal", filepath.Join(t.TempDir(), "j"), "--output", out)
	if r.code != CodeOK {
		t.Fatalf("fix: exit %d err %v\n%s", r.code, r.err, r.stderr)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		// The policy allows latest: new repositories keep it mutable too.
		tpl, ok := emu.Template(acct, region, "ROOT")
		if !ok || tpl.Mutability != ecremu.ImmutableWithExclusion || !slices.Equal(tpl.Exclusions, []string{"latest"}) ||
			slices.Contains(tpl.AppliedFor, "PULL_THROUGH_CACHE") {
			t.Fatalf("%s ROOT template: %+v %v", region, tpl, ok)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	validateReport(t, b)
	var rep jsonReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	targets := 0
	for _, c := range rep.Changes {
		if c.Target == "repository-creation-template" && c.Verified {
			targets++
		}
	}
	if targets != 2 || len(rep.Changes) != 3 {
		t.Fatalf("changes %+v", rep.Changes)
	}
	// Second run: templates already immutable, nothing planned.
	r = run(t, testFactory(t), "", "fix", "--config", cfg, "--creation-templates", "-o", "json")
	if r.code != CodeOK || len(decode(t, r.stdout).Changes) != 0 {
		t.Fatalf("second plan: exit %d changes %s", r.code, r.stdout)
	}
	validateReport(t, []byte(r.stdout))
}

// TestECRPTCRulesUnreadableHoldsWritesBack: with the pull-through-cache
// rules unreadable, fix --apply writes nothing to the scope, lists the
// change held back with the reason and ends non-zero.
func TestECRPTCRulesUnreadableHoldsWritesBack(t *testing.T) {
	emu := ecremu.New(ecremu.Options{})
	emuWeb := httptest.NewServer(emu.Handler())
	t.Cleanup(emuWeb.Close)
	awsEnv(t, emuWeb.URL)
	acct := ecremu.DefaultAccount
	if err := emu.CreatePullThroughCacheRule(acct, "us-east-1", "ecr-public", "public.ecr.aws"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ecr-public/library/nginx", "app/api"} {
		if err := emu.CreateRepository(acct, "us-east-1", n, ecremu.Mutable); err != nil {
			t.Fatal(err)
		}
	}
	if err := emu.CreateRepository(acct, "eu-west-1", "eu/api", ecremu.Mutable); err != nil {
		t.Fatal(err)
	}
	emu.Deny(acct, "us-east-1", "DescribePullThroughCacheRules")
	cfg := ecrConfig(t, emuWeb.URL)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")

	r := run(t, testFactory(t), "", "fix", "--config", cfg, "-o", "json")
	if r.code == CodeOK {
		t.Fatalf("dry run with held-back changes exited 0\n%s", r.stderr)
	}
	r = run(t, testFactory(t), "", "fix", "--config", cfg, "--apply", "--yes", "--journal", journal, "-o", "json")
	if r.code != CodeError || !strings.Contains(r.err.Error(), "held back: 2 change(s) not written") {
		t.Fatalf("fix --apply: exit %d err %v\n%s", r.code, r.err, r.stderr)
	}
	validateReport(t, []byte(r.stdout))
	rep := decode(t, r.stdout)
	states := map[string]string{}
	for _, c := range rep.Changes {
		states[c.Repository] = c.State
		if c.State == audit.StateHeldBack && (!strings.Contains(c.Error, "pull-through-cache rules") || c.Writes != 0) {
			t.Errorf("%s: held back without the reason: %+v", c.Repository, c)
		}
	}
	want := map[string]string{"ecr-public/library/nginx": "held-back", "app/api": "held-back", "eu/api": "applied"}
	if !maps.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
	for _, n := range []string{"ecr-public/library/nginx", "app/api"} {
		if st, _ := emu.Repository(acct, "us-east-1", n); st.Mutability != ecremu.Mutable {
			t.Errorf("%s was written although the rules were unreadable: %+v", n, st)
		}
	}
	if st, _ := emu.Repository(acct, "eu-west-1", "eu/api"); st.Mutability != ecremu.ImmutableWithExclusion {
		t.Errorf("eu/api (rules readable) not fixed: %+v", st)
	}
}

func validateReport(t *testing.T, b []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "..", "configs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("report does not match configs/report.schema.json: %v", err)
	}
}
