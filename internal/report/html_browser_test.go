package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/immutag/immutag/internal/audit"
)

// chromium finds a headless-capable Chromium: $IMMUTAG_CHROMIUM, else the
// Debian package's /usr/bin/chromium, else one on PATH.
func chromium() string {
	if p := os.Getenv("IMMUTAG_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// dumpDOM loads url in headless Chromium and returns the DOM after the
// page's scripts ran. The flags keep the browser off the network.
func dumpDOM(t *testing.T, bin, url string) *html.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, tail(stderr.String(), 2000))
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func attrOf(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if v, ok := attrOf(n, "id"); ok && v == id && found == nil {
			found = n
		}
	})
	return found
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return strings.TrimSpace(b.String())
}

// findingRows returns the findings table rows in DOM order.
func findingRows(t *testing.T, doc *html.Node) []*html.Node {
	t.Helper()
	tbl := byID(doc, "findings-table")
	if tbl == nil {
		t.Fatal("no findings table in the rendered page")
	}
	var rows []*html.Node
	walk(tbl, func(n *html.Node) {
		if _, ok := attrOf(n, "data-status"); ok && n.Data == "tr" {
			rows = append(rows, n)
		}
	})
	return rows
}

func cells(tr *html.Node) []*html.Node {
	var out []*html.Node
	for c := tr.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "td" {
			out = append(out, c)
		}
	}
	return out
}

// The HTML report, rendered by a real browser, shows the numbers of the
// JSON report it came from, and its script filters and sorts the findings.
func TestHTMLInHeadlessChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not installed (Debian: apt-get install -y chromium); skipping the headless-browser check of the HTML report")
	}
	sum := fixtureSummary(t)
	r := loadFixture(t)
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, render(t, r, "html", Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	// One page load (a browser start costs seconds on a busy CI machine):
	// the fragment asks the script to filter on drift and sort by repository,
	// descending; the counts, chart and provider table are unaffected by it.
	url := "file://" + filepath.ToSlash(page) + "#status=drift&sort=repository&dir=desc"
	doc := dumpDOM(t, bin, url)
	ready := false
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "html" {
			v, _ := attrOf(n, "data-ready")
			ready = v == "1"
		}
	})
	if !ready {
		t.Fatal("the page script did not run (no data-ready on <html>)")
	}
	for id, want := range map[string]int{
		"count-repositories": sum.Repositories, "count-compliant": sum.Compliant, "count-drift": sum.Drift,
		"count-exempt": sum.Exempt, "count-error": sum.Error, "count-scope-errors": sum.ScopeErrors,
	} {
		n := byID(doc, id)
		if n == nil || text(n) != strconv.Itoa(want) {
			t.Errorf("#%s shows %q, JSON report says %d", id, textOrNil(n), want)
		}
	}
	if rows := findingRows(t, doc); len(rows) != sum.Repositories {
		t.Errorf("%d finding rows, want %d", len(rows), sum.Repositories)
	}
	// Per provider: the table and the chart's segments add up to the JSON counts.
	chartCounts := map[string]map[string]int{}
	walk(byID(doc, "chart"), func(n *html.Node) {
		if n.Data != "rect" {
			return
		}
		p, ok := attrOf(n, "data-provider")
		if !ok {
			return
		}
		st, _ := attrOf(n, "data-status")
		c, _ := attrOf(n, "data-count")
		k, _ := strconv.Atoi(c)
		if chartCounts[p] == nil {
			chartCounts[p] = map[string]int{}
		}
		chartCounts[p][st] += k
	})
	byProv := byID(doc, "by-provider")
	for name, c := range sum.ByProvider {
		for st, want := range map[string]int{"compliant": c.Compliant, "drift": c.Drift, "exempt": c.Exempt, "error": c.Error} {
			if got := chartCounts[name][st]; got != want {
				t.Errorf("chart %s %s = %d, want %d", name, st, got, want)
			}
		}
		var row *html.Node
		walk(byProv, func(n *html.Node) {
			if v, ok := attrOf(n, "data-provider"); ok && v == name && n.Data == "tr" {
				row = n
			}
		})
		if row == nil {
			t.Errorf("provider %s missing from the table", name)
			continue
		}
		cs := cells(row)
		got := []string{text(cs[1]), text(cs[2]), text(cs[3]), text(cs[4]), text(cs[5])}
		want := []string{strconv.Itoa(c.Repositories), strconv.Itoa(c.Compliant), strconv.Itoa(c.Drift), strconv.Itoa(c.Exempt), strconv.Itoa(c.Error)}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("provider %s row %v, JSON %v", name, got, want)
		}
	}
	if got := text(byID(doc, "shown")); got != fmt.Sprintf("%d of %d shown", sum.Drift, sum.Repositories) {
		t.Fatalf("#shown = %q after filtering on drift", got)
	}
	var visible []string
	for _, tr := range findingRows(t, doc) {
		if _, hidden := attrOf(tr, "hidden"); hidden {
			continue
		}
		st, _ := attrOf(tr, "data-status")
		if st != string(audit.StatusDrift) {
			t.Errorf("a %s row is visible under the drift filter", st)
		}
		cs := cells(tr)
		// The repository cell holds the name and, below it, the URI.
		name := cs[3].FirstChild
		visible = append(visible, strings.TrimSpace(name.Data))
	}
	if len(visible) != sum.Drift {
		t.Fatalf("%d visible rows, want %d", len(visible), sum.Drift)
	}
	for i := 1; i < len(visible); i++ {
		if strings.ToLower(visible[i-1]) < strings.ToLower(visible[i]) {
			t.Fatalf("rows not sorted by repository, descending: %v", visible)
		}
	}
}

func textOrNil(n *html.Node) string {
	if n == nil {
		return "(missing)"
	}
	return text(n)
}
