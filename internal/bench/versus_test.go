package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	acremu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/emulator/sandbox"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil/moto"
)

// Sizes of the side-by-side runs: the per-tag loop pays two round trips a
// tag, so 2,000 tags (600 unlocked) take about half a minute. Every aws CLI
// call starts a Python interpreter, about 1 s on a laptop and 2-3 s on the
// shared 2-core machine BENCHMARKS.md was measured on, so 20 repositories
// (21 calls) keep the aws CLI loop near a minute.
const (
	versusTags  = 2000 // tags in the ACR repository, 30% unlocked
	versusRepos = 20   // ECR repositories in moto_server, all MUTABLE
)

// BenchmarkVersusCLI does the same fix twice on the same emulator: the way
// users script it today, then with immutag, and reports the time ratio.
func BenchmarkVersusCLI(b *testing.B) {
	b.Run("acr", benchVersusACR)
	b.Run("ecr-moto", benchVersusECR)
}

// benchVersusACR: the per-tag shell loop over
// `az acr repository update --image R:T --write-enabled false`, modelled as
// one GET and one PATCH per unlocked tag, in sequence (the real CLI also
// starts a Python process and exchanges a token per call, so the model
// favours it), against `immutag fix --apply`, both with 20 ms per call and
// the same write limit.
func benchVersusACR(b *testing.B) {
	opts := sandbox.Options{Faults: emulator.Faults{Latency: latency}}
	for b.Loop() {
		b.StopTimer()
		sb, unlocked := startACR(b, versusTags, lockWritesPerMinute, opts)
		sb.ResetCalls()
		b.StartTimer()
		start := time.Now()
		locked, err := azLoop(b.Context(), sb)
		loop := time.Since(start)
		if err != nil {
			b.Fatalf("az-style loop: %v", err)
		}
		if locked != unlocked {
			b.Fatalf("az-style loop locked %d tags, want %d", locked, unlocked)
		}
		loopCalls := sumCalls(sb.Calls()[providers.KindACR])

		b.StopTimer()
		sb2, _ := startACR(b, versusTags, lockWritesPerMinute, opts)
		sb2.ResetCalls()
		b.StartTimer()
		r, _ := fixACR(b, sb2, lockWritesPerMinute, 16)
		immCalls := sumCalls(sb2.Calls()[providers.KindACR])
		ratio := loop.Seconds() / r.Wall.Seconds()
		b.ReportMetric(float64(unlocked), "unlocked_tags")
		b.ReportMetric(loop.Seconds(), "loop_s")
		b.ReportMetric(r.Wall.Seconds(), "immutag_s")
		b.ReportMetric(ratio, "loop/immutag")
		b.ReportMetric(float64(loopCalls), "loop_calls")
		b.ReportMetric(float64(immCalls), "immutag_calls")
		b.Logf("ACR, %d tags (%d unlocked), %s per call, write limit %d/min: per-tag loop %s (%d calls), immutag fix --apply %s (%d calls, audit and verification included): %.1fx",
			versusTags, unlocked, latency, lockWritesPerMinute, loop.Round(time.Millisecond), loopCalls, r.Wall.Round(time.Millisecond), immCalls, ratio)
		record("versus-acr", map[string]any{"tags": versusTags, "unlocked": unlocked, "loop_s": loop.Seconds(), "immutag_s": r.Wall.Seconds(),
			"ratio": ratio, "loop_calls": loopCalls, "immutag_calls": immCalls})
	}
}

func sumCalls(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// azLoop is the shell loop users write today (list the repositories, list
// each one's writable tags, then update tag by tag), one call at a time.
func azLoop(ctx context.Context, sb *sandbox.Sandbox) (int64, error) {
	srv := acrServer(sb)
	env := sb.Env()
	c := &azClient{hc: srv.Client(), base: srv.URL(), host: srv.LoginServer(),
		user: env[acremu.DemoUserEnv], pass: env[acremu.DemoPasswordEnv]}
	repos, err := c.list(ctx, "registry:catalog:*", "/acr/v1/_catalog?n=100", func(body []byte) ([]string, error) {
		var v struct {
			Repositories []string `json:"repositories"`
		}
		err := json.Unmarshal(body, &v)
		return v.Repositories, err
	})
	if err != nil {
		return 0, err
	}
	var locked int64
	for _, repo := range repos {
		scope := "repository:" + repo + ":metadata_read,metadata_write"
		path := "/acr/v1/" + url.PathEscape(repo)
		tags, err := c.list(ctx, scope, path+"/_tags?n=100", func(body []byte) ([]string, error) {
			var v struct {
				Tags []struct {
					Name string `json:"name"`
					CA   struct {
						WriteEnabled bool `json:"writeEnabled"`
					} `json:"changeableAttributes"`
				} `json:"tags"`
			}
			err := json.Unmarshal(body, &v)
			var out []string
			for _, t := range v.Tags {
				if t.CA.WriteEnabled {
					out = append(out, t.Name)
				}
			}
			return out, err
		})
		if err != nil {
			return locked, err
		}
		for _, tag := range tags {
			tp := path + "/_tags/" + url.PathEscape(tag)
			if _, _, err := c.do(ctx, scope, http.MethodGet, tp, nil); err != nil {
				return locked, err
			}
			if _, _, err := c.do(ctx, scope, http.MethodPatch, tp, []byte(`{"writeEnabled":false,"deleteEnabled":false}`)); err != nil {
				return locked, err
			}
			locked++
		}
	}
	return locked, nil
}

// azClient speaks the ACR data plane the way the az CLI does: a token per
// repository from the admin credentials, then plain calls; a 429 is
// retried after its Retry-After.
type azClient struct {
	hc               *http.Client
	base, host       string
	user, pass       string
	lastScope, token string
}

func (c *azClient) tokenFor(ctx context.Context, scope string) (string, error) {
	if scope == c.lastScope {
		return c.token, nil
	}
	q := url.Values{"service": {c.host}, "scope": {scope}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/oauth2/token?"+q.Encode(), nil)
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token for %s: HTTP %d", scope, resp.StatusCode)
	}
	c.lastScope, c.token = scope, v.AccessToken
	return c.token, nil
}

func (c *azClient) do(ctx context.Context, scope, method, path string, body []byte) ([]byte, http.Header, error) {
	tok, err := c.tokenFor(ctx, scope)
	if err != nil {
		return nil, nil, err
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, out)
		}
		return out, resp.Header, nil
	}
}

// list follows Link headers, as `az acr repository list/show-tags` do.
func (c *azClient) list(ctx context.Context, scope, path string, parse func([]byte) ([]string, error)) ([]string, error) {
	var all []string
	for path != "" {
		body, h, err := c.do(ctx, scope, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		items, err := parse(body)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		path = ""
		if l := h.Get("Link"); strings.HasPrefix(l, "<") {
			path = l[1:strings.Index(l, ">")]
		}
	}
	return all, nil
}

// benchVersusECR: `aws ecr describe-repositories`, then
// `aws ecr put-image-tag-mutability` per repository, against moto_server,
// then `immutag fix --apply` on the same repositories after a reset.
func benchVersusECR(b *testing.B) {
	murl := moto.Server(b)
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		b.Skip("the aws CLI is not on PATH; the aws CLI loop needs it")
	}
	dir := b.TempDir()
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": murl,
	}
	for b.Loop() {
		b.StopTimer()
		motoReset(b, murl, versusRepos)
		b.StartTimer()
		start := time.Now()
		n, err := awsLoop(b.Context(), awsBin, murl, dir, env)
		loop := time.Since(start)
		if err != nil {
			b.Fatalf("aws CLI loop: %v", err)
		}
		if n != versusRepos {
			b.Fatalf("aws CLI loop changed %d repositories, want %d", n, versusRepos)
		}
		motoCheckImmutable(b, murl, versusRepos)

		b.StopTimer()
		motoReset(b, murl, versusRepos)
		cfg := &config.Config{Version: config.CurrentVersion, Providers: []config.Provider{{
			Name: "aws-moto", Kind: providers.KindECR, Endpoint: murl, Settings: config.Keys{"regions": []string{"us-east-1"}},
		}}}
		path := writeConfig(b, cfg)
		b.StartTimer()
		r := runImmutag(b, env, "fix", "--config", path, "--apply", "--yes", "--journal", filepath.Join(b.TempDir(), "j.jsonl"),
			"-o", "json", "--output", filepath.Join(b.TempDir(), "report.json"))
		// moto lacks DescribePullThroughCacheRules: the scan is complete
		// but warns; any other failure is an error.
		if r.Code != 0 {
			b.Fatalf("fix exit %d: %s\n%s", r.Code, r.Err, tail(r.Stderr))
		}
		motoCheckImmutable(b, murl, versusRepos)
		ratio := loop.Seconds() / r.Wall.Seconds()
		b.ReportMetric(float64(versusRepos), "repos")
		b.ReportMetric(loop.Seconds(), "aws_cli_s")
		b.ReportMetric(r.Wall.Seconds(), "immutag_s")
		b.ReportMetric(ratio, "aws_cli/immutag")
		b.ReportMetric(loop.Seconds()/float64(versusRepos+1), "s/aws_call")
		b.Logf("ECR on moto_server, %d MUTABLE repositories: aws CLI loop (%d invocations) %s, immutag fix --apply %s (audit and read-back included): %.1fx",
			versusRepos, versusRepos+1, loop.Round(time.Millisecond), r.Wall.Round(time.Millisecond), ratio)
		record("versus-ecr", map[string]any{"repos": versusRepos, "aws_s": loop.Seconds(), "immutag_s": r.Wall.Seconds(), "ratio": ratio})
	}
}

func motoECR(murl string) *ecr.Client {
	return ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(murl), HTTPClient: moto.HTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
}

// motoReset empties moto and creates n MUTABLE repositories.
func motoReset(b *testing.B, murl string, n int) {
	b.Helper()
	resp, err := http.Post(murl+"/moto-api/reset", "application/json", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	c := motoECR(murl)
	for i := range n {
		if _, err := c.CreateRepository(b.Context(), &ecr.CreateRepositoryInput{
			RepositoryName: aws.String(fmt.Sprintf("team-%d/svc-%03d", i%5, i)), ImageTagMutability: types.ImageTagMutabilityMutable,
		}); err != nil {
			b.Fatalf("moto create repository: %v", err)
		}
	}
}

func motoCheckImmutable(b *testing.B, murl string, want int) {
	b.Helper()
	p := ecr.NewDescribeRepositoriesPaginator(motoECR(murl), &ecr.DescribeRepositoriesInput{})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range page.Repositories {
			n++
			if r.ImageTagMutability != types.ImageTagMutabilityImmutable {
				b.Fatalf("%s is %s after the fix", aws.ToString(r.RepositoryName), r.ImageTagMutability)
			}
		}
	}
	if n != want {
		b.Fatalf("moto holds %d repositories, want %d", n, want)
	}
}

// awsLoop is the shell loop: one describe, then one CLI call per mutable
// repository, in sequence.
func awsLoop(ctx context.Context, bin, murl, dir string, env map[string]string) (int, error) {
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--endpoint-url", murl, "--region", "us-east-1")...)
		cmd.Env = childEnviron(dir, env)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("aws %s: %w: %s", strings.Join(args[:2], " "), err, stderr.String())
		}
		return string(out), nil
	}
	out, err := run("ecr", "describe-repositories", "--query", "repositories[?imageTagMutability=='MUTABLE'].repositoryName", "--output", "text")
	if err != nil {
		return 0, err
	}
	names := strings.Fields(out)
	for _, name := range names {
		if _, err := run("ecr", "put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability", "IMMUTABLE", "--output", "text"); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}
