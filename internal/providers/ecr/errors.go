package ecr

import (
	"context"
	"errors"
	"fmt"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/immutag/immutag/internal/providers"
)

// apiError turns an SDK error into a *providers.APIError carrying the API's
// code and message. optional marks calls to features an endpoint may not
// implement (pull-through cache, creation templates): there an unmodelled
// server error means "unsupported" (moto answers such calls with a bare 500).
// Errors that are not API answers (network, context) pass through.
func apiError(err error, optional bool) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, httpapi.ErrBodyTooLarge) {
		return fmt.Errorf("%w: more than the %d MiB limit; the answer was refused rather than cut short", httpapi.ErrBodyTooLarge, httpapi.MaxBodyBytes>>20)
	}
	if errors.Is(err, httpapi.ErrRedirect) {
		var rd *httpapi.RedirectError
		if errors.As(err, &rd) {
			return rd
		}
		return err
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if status == 0 {
			return err
		}
		// An answer that is not an AWS JSON error at all (an HTML 500 from a
		// proxy or a partial emulator): keep the status, say what it was.
		return &providers.APIError{
			Class:   classify("", status, optional),
			Status:  status,
			Message: fmt.Sprintf("unexpected HTTP %d answer without an AWS error body", status),
			Err:     err,
		}
	}
	code := ae.ErrorCode()
	return &providers.APIError{
		Class:   classify(code, status, optional),
		Status:  status,
		Code:    code,
		Message: ae.ErrorMessage(),
		Err:     err,
	}
}

func classify(code string, status int, optional bool) providers.ErrorClass {
	switch code {
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
		"InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
		"InvalidSignatureException", "SignatureDoesNotMatch", "MissingAuthenticationToken":
		return providers.ErrDenied
	case "RepositoryNotFoundException", "TemplateNotFoundException", "PullThroughCacheRuleNotFoundException":
		return providers.ErrNotFound
	case "TooManyRequestsException", "RequestLimitExceeded":
		return providers.ErrThrottled
	case "UnknownOperation", "UnknownOperationException", "InvalidAction", "UnsupportedOperation":
		return providers.ErrUnsupported
	}
	switch {
	case strings.HasPrefix(code, "Throttl"), strings.HasSuffix(code, "ThrottledException"):
		return providers.ErrThrottled
	case status == http.StatusTooManyRequests:
		return providers.ErrThrottled
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return providers.ErrDenied
	case status == http.StatusNotImplemented:
		return providers.ErrUnsupported
	case optional && status >= 500 && code != "ServerException":
		return providers.ErrUnsupported
	}
	return providers.ErrOther
}

// message is the API's own text for a warning, or the error itself.
func message(err error) string {
	var ae *providers.APIError
	if errors.As(err, &ae) {
		if ae.Message != "" {
			return ae.Message
		}
		return ae.Error()
	}
	return err.Error()
}
