package acr

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Tokens look like JWTs (three dot-separated parts, the middle one a
// base64 JSON claim set with exp) because the SDK decodes the refresh token's
// exp to decide how long to cache it. They are HMAC-signed, so the emulator
// keeps no per-token state however many it issues.
type claims struct {
	Typ    string   `json:"typ"` // "refresh" or "access"
	Sub    string   `json:"sub"`
	Aud    string   `json:"aud"`
	Exp    int64    `json:"exp"`
	Iat    int64    `json:"iat"`
	Scopes []string `json:"scopes,omitempty"`
}

var tokenHeader = base64.RawStdEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func (s *Server) mint(c claims) string {
	b, _ := json.Marshal(c)
	body := tokenHeader + "." + base64.RawStdEncoding.EncodeToString(b)
	return body + "." + s.sign([]byte(body))
}

func (s *Server) verify(host, tok, typ string) (claims, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return claims{}, false
	}
	want := s.sign([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
		return claims{}, false
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}, false
	}
	var c claims
	if json.Unmarshal(raw, &c) != nil || c.Typ != typ || c.Aud != host {
		return claims{}, false
	}
	if time.Now().Unix() >= c.Exp {
		return claims{}, false
	}
	return c, true
}

// resource is what one data-plane call needs: a token scope such as
// repository:team/app:metadata_write.
type resource struct {
	typ, name, action string
}

func (r resource) scope() string { return r.typ + ":" + r.name + ":" + r.action }

// denyKey is the name Deny uses for this resource.
func (r resource) denyKey() string {
	if r.typ == "registry" {
		return "registry:" + r.name
	}
	return r.name
}

// grants reports whether a granted scope string covers r. Granted scopes
// use the docker form type:name:action[,action...].
func grants(granted string, r resource) bool {
	i := strings.Index(granted, ":")
	j := strings.LastIndex(granted, ":")
	if i < 0 || j <= i {
		return false
	}
	if granted[:i] != r.typ || granted[i+1:j] != r.name {
		return false
	}
	acts := strings.Split(granted[j+1:], ",")
	return slices.Contains(acts, r.action) || slices.Contains(acts, "*")
}

// authorize checks the bearer token for r. On failure it writes the 401
// challenge the SDK's authentication policy expects and returns false.
func (s *Server) authorize(w http.ResponseWriter, req *http.Request, op string, r resource) bool {
	h := req.Header.Get("Authorization")
	errAttr := ""
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		c, valid := s.verify(req.Host, tok, "access")
		if valid && slices.ContainsFunc(c.Scopes, func(g string) bool { return grants(g, r) }) {
			return true
		}
		errAttr = `,error="invalid_token"`
		if valid {
			errAttr = `,error="insufficient_scope"`
		}
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="%s"%s`,
		req.Host, req.Host, r.scope(), errAttr))
	// Real ACR sends detail as an array of {Type, Name, Action} here, not
	// the object its spec describes; the emulator does the same.
	s.writeError(w, op, http.StatusUnauthorized, "UNAUTHORIZED",
		"authentication required, visit https://aka.ms/acr/authorization for more information.",
		[]map[string]string{{"Type": r.typ, "Name": r.name, "Action": r.action}})
	return false
}

// handleExchange serves POST /oauth2/exchange: an Entra ID access token in,
// an ACR refresh token out.
func (s *Server) handleExchange(w http.ResponseWriter, req *http.Request) {
	const op = "POST oauth2/exchange"
	if req.Method != http.MethodPost {
		s.writeError(w, op, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
		return
	}
	if err := req.ParseForm(); err != nil {
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "invalid form body", nil)
		return
	}
	gt, svc, aad := req.PostForm.Get("grant_type"), req.PostForm.Get("service"), req.PostForm.Get("access_token")
	switch {
	case gt != "access_token" && gt != "access_token_refresh_token":
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "unsupported grant_type "+gt, nil)
		return
	case svc != req.Host:
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "service does not match this registry", nil)
		return
	case aad == "":
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "access_token is required", nil)
		return
	}
	s.mu.Lock()
	ok := s.aad[aad]
	s.mu.Unlock()
	if !ok {
		s.writeError(w, op, http.StatusUnauthorized, "UNAUTHORIZED", "the AAD access token is not valid for this registry", nil)
		return
	}
	now := time.Now()
	tok := s.mint(claims{Typ: "refresh", Sub: "aad", Aud: req.Host, Iat: now.Unix(), Exp: now.Add(3 * time.Hour).Unix()})
	s.writeJSON(w, op, http.StatusOK, map[string]string{"refresh_token": tok})
}

// handleToken serves /oauth2/token: POST exchanges a refresh token for an
// access token; GET does the docker-style login with HTTP Basic.
func (s *Server) handleToken(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodPost:
		s.tokenFromRefresh(w, req)
	case http.MethodGet:
		s.tokenFromLogin(w, req)
	default:
		s.writeError(w, req.Method+" oauth2/token", http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
	}
}

func (s *Server) tokenFromRefresh(w http.ResponseWriter, req *http.Request) {
	const op = "POST oauth2/token"
	if err := req.ParseForm(); err != nil {
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "invalid form body", nil)
		return
	}
	f := req.PostForm
	if f.Get("service") != req.Host {
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "service does not match this registry", nil)
		return
	}
	scopes := splitScopes(f["scope"])
	if len(scopes) == 0 {
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "scope is required", nil)
		return
	}
	switch f.Get("grant_type") {
	case "refresh_token":
		c, ok := s.verify(req.Host, f.Get("refresh_token"), "refresh")
		if !ok {
			s.writeError(w, op, http.StatusUnauthorized, "UNAUTHORIZED", "the refresh token is invalid or expired", nil)
			return
		}
		s.issueAccess(w, req.Host, op, c.Sub, scopes)
	case "password":
		s.writeError(w, op, http.StatusUnauthorized, "UNAUTHORIZED", "anonymous access is not enabled on this registry", nil)
	default:
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "unsupported grant_type", nil)
	}
}

func (s *Server) tokenFromLogin(w http.ResponseWriter, req *http.Request) {
	const op = "GET oauth2/token"
	q := req.URL.Query()
	user, pass, ok := req.BasicAuth()
	if ok {
		s.mu.Lock()
		want, known := s.users[user]
		s.mu.Unlock()
		ok = known && hmac.Equal([]byte(want), []byte(pass))
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="%s"`, req.Host))
		s.writeError(w, op, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
		return
	}
	if q.Get("service") != req.Host {
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "service does not match this registry", nil)
		return
	}
	scopes := splitScopes(q["scope"])
	if len(scopes) == 0 {
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "scope is required", nil)
		return
	}
	s.issueAccess(w, req.Host, op, "user:"+user, scopes)
}

func (s *Server) issueAccess(w http.ResponseWriter, host, op, sub string, scopes []string) {
	now := time.Now()
	tok := s.mint(claims{Typ: "access", Sub: sub, Aud: host, Iat: now.Unix(), Exp: now.Add(s.ttl).Unix(), Scopes: scopes})
	s.writeJSON(w, op, http.StatusOK, map[string]string{"access_token": tok})
}

// splitScopes accepts repeated scope parameters and space-separated lists.
func splitScopes(vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.Fields(v)...)
	}
	return out
}
