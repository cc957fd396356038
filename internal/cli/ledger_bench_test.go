package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
)

// BenchmarkAuditRSS runs one audit of 100 repositories x 1,000 tags on the
// ECR emulator, plain or with --record into SQLite, and reports the
// process's peak RSS (VmHWM). Run each mode in its own process, since the
// peak only grows:
//
//	go test -run '^$' -bench 'AuditRSS/plain$' -benchtime 1x ./internal/cli
//	go test -run '^$' -bench 'AuditRSS/record$' -benchtime 1x ./internal/cli
func BenchmarkAuditRSS(b *testing.B) {
	for _, mode := range []string{"plain", "record"} {
		b.Run(mode, func(b *testing.B) {
			emu := ecremu.New()
			if err := emu.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { emu.Close() })
			dir := b.TempDir()
			for k, v := range map[string]string{
				"AWS_ACCESS_KEY_ID": testAccessKey, "AWS_SECRET_ACCESS_KEY": testSecretKey, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
				"AWS_CONFIG_FILE": filepath.Join(dir, "c"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "s"),
				"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": emu.URL(),
				"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_ECR": "",
			} {
				b.Setenv(k, v)
			}
			acct := ecremu.DefaultAccount
			for r := 0; r < 100; r++ {
				name := fmt.Sprintf("team/svc-%03d", r)
				if err := emu.CreateRepository(acct, "us-east-1", name, ecremu.Mutable); err != nil {
					b.Fatal(err)
				}
				for t := 0; t < 1000; t++ {
					if err := emu.PutImage(acct, "us-east-1", name, "v"+strconv.Itoa(t), fmt.Sprintf("sha256:%064x", r*1000+t)); err != nil {
						b.Fatal(err)
					}
				}
			}
			cfg := filepath.Join(dir, "immutag.yaml")
			body := "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    endpoint: " + emu.URL() + "\n    regions: [us-east-1]\n"
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				b.Fatal(err)
			}
			args := []string{"audit", "--config", cfg, "-o", "json", "--output", filepath.Join(dir, "report.json")}
			if mode == "record" {
				args = append(args, "--record", "--ledger", filepath.Join(dir, "ledger.db"))
			}
			base := vmHWM(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := NewFactory(IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: &bytes.Buffer{}})
				cmd := NewRootCmd(f)
				cmd.SetArgs(args)
				if err := cmd.ExecuteContext(b.Context()); err != nil {
					b.Fatalf("%s: %v", mode, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(vmHWM(b))/1024, "peak-RSS-MB")
			b.ReportMetric(float64(vmHWM(b)-base)/1024, "RSS-growth-MB")
		})
	}
}

// vmHWM is the process's peak resident set size in KiB.
func vmHWM(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status: peak RSS is read from Linux procfs")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	b.Skip("no VmHWM in /proc/self/status")
	return 0
}
