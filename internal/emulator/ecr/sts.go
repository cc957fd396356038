package ecr

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

var (
	roleARNRE     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64}))$`)
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// session is a set of temporary credentials issued by AssumeRole.
type session struct {
	account  string
	roleName string
	roleID   string
	name     string
	token    string
	expires  time.Time
}

func (x *session) assumedARN() string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", x.account, x.roleName, x.name)
}

// randomString returns n characters of alphabet drawn from crypto/rand.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.calls.Inc("UnknownOperation")
		writeSTSError(w, newErr(400, "MalformedQueryString", "cannot parse the request"))
		return
	}
	op := r.Form.Get("Action")
	if op == "" {
		op = "UnknownOperation"
	}
	s.calls.Inc(op)
	if e := s.fault(r, false); e != nil {
		writeSTSError(w, e)
		return
	}
	if s.isUnsupported(op) {
		writeMotoNotImplemented(w)
		return
	}
	c, e := s.identify(r)
	if e != nil {
		if e.code == "UnrecognizedClientException" {
			e = newErr(403, "InvalidClientTokenId", e.msg)
		} else {
			e = newErr(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
		}
		writeSTSError(w, e)
		return
	}
	var out any
	switch op {
	case "AssumeRole":
		out, e = s.assumeRole(c, r)
	case "GetCallerIdentity":
		out, e = s.getCallerIdentity(c)
	default:
		e = newErr(400, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2011-06-15", op))
	}
	if e != nil {
		writeSTSError(w, e)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(out)
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
		AssumedRoleUser struct {
			AssumedRoleID string `xml:"AssumedRoleId"`
			Arn           string `xml:"Arn"`
		} `xml:"AssumedRoleUser"`
		PackedPolicySize int `xml:"PackedPolicySize"`
	} `xml:"AssumeRoleResult"`
	ResponseMetadata responseMetadata `xml:"ResponseMetadata"`
}

// assumeRole issues temporary credentials that belong to the role's account.
// The emulator has no IAM: every well-formed role ARN can be assumed unless
// Deny(roleAccount, region, "AssumeRole") says otherwise.
func (s *Server) assumeRole(c caller, r *http.Request) (any, *apiError) {
	roleARN := r.Form.Get("RoleArn")
	m := roleARNRE.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, newErr(400, "ValidationError", fmt.Sprintf("%s is invalid", strconv.Quote(roleARN)))
	}
	name := r.Form.Get("RoleSessionName")
	if !sessionNameRE.MatchString(name) {
		return nil, newErr(400, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match [\\w+=,.@-]*")
	}
	dur := time.Hour
	if v := r.Form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			return nil, newErr(400, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
		}
		dur = time.Duration(n) * time.Second
	}
	account := m[1]
	if s.isDenied(account, c.region, "AssumeRole") {
		return nil, newErr(403, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.arn(), roleARN))
	}
	sess := &session{
		account:  account,
		roleName: m[3],
		roleID:   "AROA" + randomString(17, upperAlnum),
		name:     name,
		token:    "IQoJb3JpZ2luX2VjE" + base64.StdEncoding.EncodeToString([]byte(randomString(96, upperAlnum))),
		expires:  s.now().Add(dur),
	}
	akid := "ASIA" + randomString(16, upperAlnum)
	secret := randomString(40, upperAlnum+"abcdefghijklmnopqrstuvwxyz+/")
	s.mu.Lock()
	s.sessions[akid] = sess
	s.mu.Unlock()

	out := assumeRoleResponse{Xmlns: stsNS}
	out.Result.Credentials.AccessKeyID = akid
	out.Result.Credentials.SecretAccessKey = secret
	out.Result.Credentials.SessionToken = sess.token
	out.Result.Credentials.Expiration = sess.expires.UTC().Format(time.RFC3339)
	out.Result.AssumedRoleUser.AssumedRoleID = sess.roleID + ":" + name
	out.Result.AssumedRoleUser.Arn = sess.assumedARN()
	out.ResponseMetadata.RequestID = requestID()
	return out, nil
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
		Arn     string `xml:"Arn"`
	} `xml:"GetCallerIdentityResult"`
	ResponseMetadata responseMetadata `xml:"ResponseMetadata"`
}

func (s *Server) getCallerIdentity(c caller) (any, *apiError) {
	if s.isDenied(c.account, c.region, "GetCallerIdentity") {
		return nil, newErr(403, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:GetCallerIdentity", c.arn()))
	}
	out := getCallerIdentityResponse{Xmlns: stsNS}
	out.Result.Account = c.account
	out.Result.Arn = c.arn()
	if c.sess != nil {
		out.Result.UserID = c.sess.roleID + ":" + c.sess.name
	} else {
		out.Result.UserID = "AIDA" + strings.Repeat("E", 17)
	}
	out.ResponseMetadata.RequestID = requestID()
	return out, nil
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeSTSError(w http.ResponseWriter, e *apiError) {
	out := stsErrorResponse{Xmlns: stsNS, RequestID: requestID()}
	out.Error.Type, out.Error.Code, out.Error.Message = "Sender", e.code, e.msg
	if e.status >= 500 {
		out.Error.Type = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(out)
}
