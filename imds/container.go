package imds

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// PathContainerCredentials is the path of the container credentials
// endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v1/credentials inside a
// container (reached at 169.254.170.2), or
// AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/v1/credentials
// on the host. The caller's role is the one its address maps to, as on the
// IMDS paths, so a container cannot ask for another role by changing the
// path.
const PathContainerCredentials = "/v1/credentials"

const (
	headerAuthorization = "Authorization"
	contentJSON         = "application/json"
)

// Error codes of the container endpoint.
const (
	codeUnauthorized  = "Unauthorized"
	codeNotFound      = "NotFound"
	codeNoRole        = "NoRole"
	codeNotIdentified = "ClientNotIdentified"
	codeBadMethod     = "MethodNotAllowed"
	codeForbidden     = "Forbidden"
)

// ContainerOptions configure a [ContainerHandler].
type ContainerOptions struct {
	// Source answers which role a caller may use and its credentials.
	// Required.
	Source Source
	// Token, when not empty, must be the request's Authorization header,
	// exactly (AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]); anything else is
	// 401. Set it on loopback listeners (FULL_URI), where any local process
	// can connect; leave it empty on container bridge listeners
	// (RELATIVE_URI), where the source address identifies the container.
	Token string
	// PodIdentity makes this the EKS Pod Identity–compatible endpoint
	// (podidentity.go): the Authorization header, required, is a
	// service-account token the Source reviews (Caller.Authorization); a
	// rejected one is 401, a caller it gives no role 403. Token must then
	// be empty.
	PodIdentity bool
	// IdentifyCaller, when set, adds to the caller what its addresses do not
	// tell (the uid owning a loopback socket), as Options.IdentifyCaller.
	IdentifyCaller func(Caller) Caller
	// Logger receives the handler's logs; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// ContainerHandler serves the ECS container credentials endpoint
// (shared/reference/imds-protocol.md §4): GET /v1/credentials answers the
// caller's role credentials as application/json; errors are 4xx/5xx with
// {"code","message"}.
type ContainerHandler struct {
	opts ContainerOptions
	log  *slog.Logger
}

// NewContainerHandler checks opts and returns a ContainerHandler.
func NewContainerHandler(opts ContainerOptions) (*ContainerHandler, error) {
	if opts.Source == nil {
		return nil, errors.New("imds: ContainerOptions.Source is required")
	}
	if opts.PodIdentity && opts.Token != "" {
		return nil, errors.New("imds: ContainerOptions.Token and PodIdentity exclude each other")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &ContainerHandler{opts: opts, log: opts.Logger.With("component", "container-endpoint")}, nil
}

// containerDocument is the endpoint's success body. The keys are those the
// Go SDK (endpointcreds), botocore and the JS SDK read.
type containerDocument struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	AccountID       string `json:"AccountId,omitempty"`
}

// containerError is the endpoint's error body.
type containerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ServeHTTP serves one request.
func (h *ContainerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()[headerNoSniffKey] = valueNoSniff
	// The token is checked before anything else, so that a caller without
	// it learns nothing, not even which paths exist.
	if h.opts.PodIdentity && r.Header.Get(headerAuthorization) == "" {
		writeContainerError(w, http.StatusUnauthorized, codeInvalidToken,
			"missing Authorization header: set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to the pod's projected service-account token")
		return
	}
	if h.opts.Token != "" {
		got := r.Header.Get(headerAuthorization)
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) != 1 {
			writeContainerError(w, http.StatusUnauthorized, codeUnauthorized, "missing or wrong Authorization token")
			return
		}
	}
	// A proxy in front (X-Forwarded-For) or a browser (Origin, Referer)
	// means the request does not come straight from an SDK on this host or
	// in a container: refuse rather than hand credentials to whoever is
	// behind it.
	if r.Header.Get(HeaderXForwardedFor) != "" || r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
		writeContainerError(w, http.StatusForbidden, codeForbidden, "proxied or browser requests are refused")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()[headerAllow] = valueAllowGet
		writeContainerError(w, http.StatusMethodNotAllowed, codeBadMethod, "use GET")
		return
	}
	if classify(r.URL.Path).kind != routeContainerCredentials {
		writeContainerError(w, http.StatusNotFound, codeNotFound, "no such path; credentials are at "+PathContainerCredentials)
		return
	}
	h.serveCredentials(w, r)
}

func (h *ContainerHandler) serveCredentials(w http.ResponseWriter, r *http.Request) {
	caller := callerOf(r)
	if h.opts.IdentifyCaller != nil {
		caller = h.opts.IdentifyCaller(caller)
	}
	if h.opts.PodIdentity {
		caller.Authorization = r.Header.Get(headerAuthorization)
	}
	role, err := h.opts.Source.Credentials(r.Context(), caller)
	switch {
	case h.opts.PodIdentity && errors.Is(err, ErrUnauthorized):
		// The Source's text says why (expired, wrong audience, forged),
		// never the token.
		writeContainerError(w, http.StatusUnauthorized, codeInvalidToken, err.Error())
		return
	case h.opts.PodIdentity && (errors.Is(err, ErrNoRole) || errors.Is(err, ErrForbidden)):
		writeContainerError(w, http.StatusForbidden, codeAccessDenied, err.Error())
		return
	case errors.Is(err, ErrNoRole):
		writeContainerError(w, http.StatusNotFound, codeNoRole, "no role for this client")
		return
	case errors.Is(err, ErrForbidden):
		writeContainerError(w, http.StatusForbidden, codeForbidden, "client refused: "+err.Error())
		return
	case err != nil:
		// Not identified yet: 503, which the SDKs retry.
		h.log.Warn("no role for client", "client", r.RemoteAddr, "err", err)
		writeContainerError(w, http.StatusServiceUnavailable, codeNotIdentified, "client not identified yet: "+err.Error())
		return
	}
	if role.Err != nil {
		writeContainerError(w, http.StatusServiceUnavailable, errorCode(role.Err), role.Err.Error())
		return
	}
	c := role.Credentials
	if !h.opts.Now().Before(c.Expires) {
		writeContainerError(w, http.StatusServiceUnavailable, codeExpired,
			"credentials for role "+role.Name+" expired at "+formatTime(c.Expires)+"; a refresh is under way")
		return
	}
	writeJSON(w, http.StatusOK, containerDocument{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		Token:           c.SessionToken,
		Expiration:      formatTime(c.Expires),
		AccountID:       c.AccountID,
	})
}

func writeContainerError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, containerError{Code: code, Message: msg})
}

// writeJSON writes v with Content-Type exactly application/json: the Go SDK
// parses error bodies only then.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"InternalError","message":"encode"}`)
	}
	w.Header()[headerContentType] = []string{contentJSON}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
