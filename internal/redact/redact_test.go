package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestStringMasksRegisteredAndShapedSecrets(t *testing.T) {
	Add("s3cr3t-registered-value", "tiny")
	AddHeaderValue("Basic Ym90OnBhc3N3b3JkLWZyb20tYmFzaWM=") // bot:password-from-basic
	cases := map[string]string{
		"registered":           `detail: token s3cr3t-registered-value is invalid`,
		"url-escaped":          `GET /x?q=s3cr3t-registered-value`,
		"basic password":       `login failed for password-from-basic`,
		"echoed authorization": `{"detail":"bad header","headers":{"Authorization":"Bearer eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln"}}`,
		"echoed bearer":        `invalid credentials: Bearer abcdef0123456789abcdef`,
		"echoed cookie":        "Cookie: session=0123456789abcdef",
		"docker pat":           `token_env: dckr_pat_abcdef1234567890abcdef`,
		"github":               `ghp_0123456789abcdefABCDEF0123456789abcd`,
		"gitlab":               `glpat-0123456789abcdefghij`,
		"aws key id":           `AKIAIOSFODNN7EXAMPLE`,
		"query credential":     `http://reg.example/?access_token=qwertyuiop&page=2`,
		"url userinfo":         `http://user:hunter2hunter2@reg.example/`,
	}
	secrets := []string{"s3cr3t-registered-value", "password-from-basic", "eyJhbGciOi", "abcdef0123456789abcdef", "0123456789abcdef", "dckr_pat_", "ghp_0123", "glpat-0123", "AKIAIOSFODNN7EXAMPLE", "qwertyuiop", "hunter2hunter2"}
	for name, in := range cases {
		out := String(in)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q still carries %q", name, out, s)
			}
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("%s: %q masked nothing", name, out)
		}
	}
	for _, prose := range []string{"uses basic authentication", "bearer tokens expire", "page=2 of tiny results"} {
		if got := String(prose); got != prose {
			t.Errorf("prose changed: %q -> %q", prose, got)
		}
	}
}

func TestErrorKeepsChain(t *testing.T) {
	Add("chain-secret-value")
	base := errors.New("root")
	err := Error(errors.Join(base, errors.New("leaked chain-secret-value")))
	if !errors.Is(err, base) {
		t.Error("errors.Is lost the chain")
	}
	if strings.Contains(err.Error(), "chain-secret-value") {
		t.Errorf("error text not redacted: %s", err)
	}
}

func TestHandlerRedactsMessageAndAttrs(t *testing.T) {
	Add("handler-secret-value")
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewTextHandler(&buf, nil))).With("ctx", "handler-secret-value")
	log.Warn("msg handler-secret-value", "err", errors.New("x handler-secret-value"), slog.Group("g", "v", "handler-secret-value"),
		"any", map[string]string{"k": "handler-secret-value"})
	if strings.Contains(buf.String(), "handler-secret-value") {
		t.Errorf("log line leaks: %s", buf.String())
	}
	if strings.Count(buf.String(), Mask) < 5 {
		t.Errorf("expected five masks: %s", buf.String())
	}
}

// slowString is String without the prefilters: every expression on every
// string, as String did before them.
func slowString(s string) string {
	if s == "" {
		return s
	}
	if r := replacer.Load(); r != nil {
		s = r.Replace(s)
	}
	for _, p := range patterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return schemeRE.ReplaceAllStringFunc(s, maskScheme)
}

// TestPrefiltersChangeNothing: the cheap checks that skip an expression
// never skip one that would have matched, including case folds outside
// ASCII (U+017F folds to s, U+212A to k under (?i)).
func TestPrefiltersChangeNothing(t *testing.T) {
	parts := []string{"", "tag immutability is MUTABLE", "Authorization: Bearer abcdefgh12345678", "AUTHORIZATION=xyz",
		"x-amz-\u017fecurity-token: s3cr3tvalue", "Cookie: a=b", "set-cookie=\"v\"", "https://u:pa55word@host/x",
		"?token=abc&x=1", "&PASSWORD=hunter22", "dckr_pat_ABCDEFGH1234", "ghp_ABCDEFGHIJKL", "glpat-ABCDEFGH1234",
		"xoxb-12345678901", "AKIAABCDEFGHIJKLMNOP", "ASIAABCDEFGHIJKLMNOP", "eyJhbGciOi.eyJzdWIiOi.sig",
		"basic dXNlcjpwYXNz", "BASIC dXNlcjpwYXNz", "ba\u017fic dXNlcjpwYXNz", "bearer tokens", "Bearer 0123456789abcdef",
		"\u212a", "caf\u00e9", "proxy-authorization : Basic Zm9vOmJhcg==", "x-registry-auth: eyJhIjoiYiJ9", " ", ":", "@", "://"}
	for _, a := range parts {
		for _, b := range parts {
			for _, s := range []string{a + b, a + " " + b, b + "\n" + a} {
				if got, want := String(s), slowString(s); got != want {
					t.Errorf("String(%q) = %q, want %q", s, got, want)
				}
			}
		}
	}
}

// FuzzRedactPrefilters: for any text, String with its prefilters masks
// exactly what every expression on every string would.
func FuzzRedactPrefilters(f *testing.F) {
	for _, s := range []string{"Authorization: Bearer abcdefgh12345678", "x-amz-\u017fecurity-token: v", "https://u:p@h/",
		"?sig=abc", "ghp_ABCDEFGHIJKL", "AKIAABCDEFGHIJKLMNOP", "eyJa.eyJb.c", "ba\u017fic dXNlcjpwYXNz", "tag is MUTABLE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(s), slowString(s); got != want {
			t.Fatalf("String(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestHeaderMapsStayStructured: request headers are logged as a map
// (http.Header: name -> list of values). Masking a credential header must
// keep the JSON it is rendered from valid: it used to become
// {"Authorization":[[REDACTED]"REDACTED"]}, which no longer parsed and was
// logged as a mangled string.
func TestHeaderMapsStayStructured(t *testing.T) {
	for _, v := range []string{"REDACTED", "Bearer abcdefghijklmnop0123456789"} {
		h := map[string][]string{"Authorization": {v}, "Accept": {"application/json"}}
		a := Attr(slog.Any("request_headers", h))
		if a.Value.Kind() != slog.KindAny {
			t.Fatalf("%q: the header map became a %s: %s", v, a.Value.Kind(), a.Value)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("http", a)
		var line struct {
			Headers map[string][]string `json:"request_headers"`
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%q: %v in %s", v, err, buf.String())
		}
		if got := line.Headers["Authorization"]; len(got) != 1 || strings.Contains(got[0], "abcdefghijklmnop") {
			t.Errorf("%q: Authorization logged as %q", v, got)
		}
		if got := line.Headers["Accept"]; len(got) != 1 || got[0] != "application/json" {
			t.Errorf("%q: Accept logged as %q", v, got)
		}
	}
}
