package serve

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var examples = filepath.Join("..", "..", "examples")

// The example alerts only use metrics this package exports, and the
// PrometheusRule carries exactly the same rules.
func TestExampleAlertsUseExportedMetrics(t *testing.T) {
	var rules ruleFile
	readYAML(t, filepath.Join(examples, "prometheus", "alerts.yaml"), &rules)
	var pr struct {
		APIVersion string         `yaml:"apiVersion"`
		Kind       string         `yaml:"kind"`
		Metadata   map[string]any `yaml:"metadata"`
		Spec       ruleFile       `yaml:"spec"`
	}
	readYAML(t, filepath.Join(examples, "kubernetes", "prometheusrule.yaml"), &pr)
	if pr.Kind != "PrometheusRule" || !reflect.DeepEqual(pr.Spec, rules) {
		t.Fatal("kubernetes/prometheusrule.yaml and prometheus/alerts.yaml differ; regenerate one from the other")
	}

	m := NewMetrics("test")
	// Series exist once observed; touch every vector so Gather lists it.
	m.repositories.WithLabelValues("p", "drift")
	m.scopeErrors.WithLabelValues("p")
	m.fixes.WithLabelValues("p", "failed")
	m.acrLocked.WithLabelValues("p", "webhook")
	m.apiCalls.WithLabelValues("p", "plan")
	m.apiThrottles.WithLabelValues("p")
	m.webhook.WithLabelValues("queued")
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{"up": true}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	name := regexp.MustCompile(`\b(immutag_[a-z_]+|process_[a-z_]+|up)\b`)
	want := map[string]bool{"ImmutagDrift": false, "ImmutagScanStale": false, "ImmutagScanErrors": false}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if _, ok := want[r.Alert]; ok {
				want[r.Alert] = true
			}
			if r.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", r.Alert)
			}
			used := name.FindAllString(r.Expr, -1)
			if len(used) == 0 {
				t.Errorf("%s uses no immutag metric: %s", r.Alert, r.Expr)
			}
			for _, n := range used {
				if !have[n] {
					t.Errorf("%s uses %s, which /metrics does not export", r.Alert, n)
				}
			}
		}
	}
	for a, ok := range want {
		if !ok {
			t.Errorf("alert %s (required by the issue) missing", a)
		}
	}
}

// Every Kubernetes example parses as YAML documents with a kind.
func TestKubernetesExamplesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examples, "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
			}
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if doc.APIVersion == "" || doc.Kind == "" {
				t.Fatalf("%s: a document without apiVersion/kind", f)
			}
			kinds[doc.Kind]++
		}
	}
	for _, k := range []string{"CronJob", "Deployment", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in examples/kubernetes", k)
		}
	}
}
