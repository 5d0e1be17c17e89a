package kube

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ErrTokenRejected: TokenReview did not authenticate the token (forged,
// expired, wrong audience, deleted pod), or it is not a pod's token.
var ErrTokenRejected = errors.New("service account token rejected")

// Defaults and bounds of the Reviewer.
const (
	// DefaultAudience is EKS Pod Identity's projected-token audience.
	DefaultAudience = "pods.eks.amazonaws.com"
	// DefaultMaxEntries bounds the review cache.
	DefaultMaxEntries = 10000
	// rejectTTL is how long a rejection is cached: briefly, so a flood of
	// one bad token costs one review per rejectTTL, and a token that was
	// refused for a passing reason is retried soon.
	rejectTTL = 5 * time.Second
	// goneTTL is how long the tokens of a deleted pod are refused without
	// asking (the API server's own token cache accepts them for ~10 s).
	goneTTL = 5 * time.Minute
	// maxGone bounds the deleted pods remembered.
	maxGone       = 4096
	reviewTimeout = 5 * time.Second
	// User.Extra keys of a token bound to a pod.
	extraPodName = "authentication.kubernetes.io/pod-name"
	extraPodUID  = "authentication.kubernetes.io/pod-uid"
	extraNode    = "authentication.kubernetes.io/node-name"
	saPrefix     = "system:serviceaccount:"
)

// TokenIdentity is who a valid pod-bound service-account token is.
type TokenIdentity struct {
	Namespace, ServiceAccount, PodName, PodUID, Node string
	// Expiry is the token's own exp.
	Expiry time.Time
}

// ReviewerOptions configure a Reviewer.
type ReviewerOptions struct {
	Client kubernetes.Interface
	// Audience the token must be for (default DefaultAudience).
	Audience string
	// MaxEntries bounds the cache (default DefaultMaxEntries).
	MaxEntries int
	Now        func() time.Time
	Logger     *slog.Logger
}

// ReviewStats count the Reviewer's work.
type ReviewStats struct {
	// Calls are TokenReviews sent to the API server; Hits are answers
	// from the cache; Rejected are refusals (from either).
	Calls, Hits, Rejected int64
}

// Reviewer validates projected service-account tokens with the TokenReview
// API, once per token: results are cached under the token's SHA-256 (never
// the token) until the token's own exp.
type Reviewer struct {
	o   ReviewerOptions
	log *slog.Logger

	mu       sync.Mutex
	cache    map[[32]byte]review
	inflight map[[32]byte]*reviewCall
	gone     map[string]time.Time // pod UID → when it was forgotten

	calls, hits, rejected atomic.Int64
}

type review struct {
	id      TokenIdentity
	err     error // a rejection
	expires time.Time
}

type reviewCall struct {
	done chan struct{}
	r    review
	err  error // the API call failed (not cached)
}

// NewReviewer checks o and builds a Reviewer.
func NewReviewer(o ReviewerOptions) (*Reviewer, error) {
	if o.Client == nil {
		return nil, errors.New("token reviewer: no Kubernetes client")
	}
	if o.Audience == "" {
		o.Audience = DefaultAudience
	}
	switch {
	case o.MaxEntries == 0:
		o.MaxEntries = DefaultMaxEntries
	case o.MaxEntries < 0:
		return nil, fmt.Errorf("token reviewer: max entries %d is negative: use a positive bound", o.MaxEntries)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reviewer{o: o, log: o.Logger, cache: map[[32]byte]review{}, inflight: map[[32]byte]*reviewCall{}, gone: map[string]time.Time{}}, nil
}

// Stats are the Reviewer's counters.
func (r *Reviewer) Stats() ReviewStats {
	return ReviewStats{Calls: r.calls.Load(), Hits: r.hits.Load(), Rejected: r.rejected.Load()}
}

// Review returns the identity of token: a TokenReview for the Reviewer's
// audience, the pod from the review's User.Extra. The answer is cached
// until the token's exp (read from its payload, trusted only to shorten
// the cache: an exp in the past is refused without asking), concurrent
// reviews of one token share one call, and rejections are cached briefly.
// ErrTokenRejected when it is not a valid token of a pod.
func (r *Reviewer) Review(ctx context.Context, token string) (TokenIdentity, error) {
	if token == "" {
		r.rejected.Add(1)
		return TokenIdentity{}, fmt.Errorf("%w: empty token", ErrTokenRejected)
	}
	exp, err := tokenExpiry(token)
	if err != nil {
		r.rejected.Add(1)
		return TokenIdentity{}, fmt.Errorf("%w: %w", ErrTokenRejected, err)
	}
	now := r.o.Now()
	if !now.Before(exp) {
		r.rejected.Add(1)
		return TokenIdentity{}, fmt.Errorf("%w: expired at %s", ErrTokenRejected, exp.UTC().Format(time.RFC3339))
	}
	key := sha256.Sum256([]byte(token))

	r.mu.Lock()
	if c, ok := r.cache[key]; ok && now.Before(c.expires) {
		rej := c.err != nil || r.goneLocked(c.id.PodUID, now)
		r.mu.Unlock()
		r.hits.Add(1)
		if rej {
			r.rejected.Add(1)
			if c.err == nil {
				return TokenIdentity{}, fmt.Errorf("%w: pod %s/%s was deleted", ErrTokenRejected, c.id.Namespace, c.id.PodName)
			}
			return TokenIdentity{}, c.err
		}
		return c.id, nil
	}
	call, ok := r.inflight[key]
	if !ok {
		call = &reviewCall{done: make(chan struct{})}
		r.inflight[key] = call
		go r.run(key, token, exp, call)
	}
	r.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return TokenIdentity{}, fmt.Errorf("token review: %w", ctx.Err())
	}
	if call.err != nil {
		return TokenIdentity{}, call.err
	}
	r.mu.Lock()
	gone := call.r.err == nil && r.goneLocked(call.r.id.PodUID, r.o.Now())
	r.mu.Unlock()
	if call.r.err != nil || gone {
		r.rejected.Add(1)
		if gone {
			return TokenIdentity{}, fmt.Errorf("%w: pod %s/%s was deleted", ErrTokenRejected, call.r.id.Namespace, call.r.id.PodName)
		}
		return TokenIdentity{}, call.r.err
	}
	return call.r.id, nil
}

// run does the one TokenReview of a token, detached from the caller's
// context (other requests share it), and caches its outcome.
func (r *Reviewer) run(key [32]byte, token string, exp time.Time, call *reviewCall) {
	ctx, cancel := context.WithTimeout(context.Background(), reviewTimeout)
	defer cancel()
	r.calls.Add(1)
	tr, err := r.o.Client.AuthenticationV1().TokenReviews().Create(ctx, &authv1.TokenReview{
		Spec: authv1.TokenReviewSpec{Token: token, Audiences: []string{r.o.Audience}},
	}, metav1.CreateOptions{})
	r.mu.Lock()
	defer func() {
		delete(r.inflight, key)
		r.mu.Unlock()
		close(call.done)
	}()
	if err != nil {
		call.err = fmt.Errorf("token review: %w", err)
		return
	}
	now := r.o.Now()
	id, rerr := identity(tr, r.o.Audience)
	if rerr != nil {
		until := now.Add(rejectTTL)
		if exp.Before(until) {
			until = exp
		}
		call.r = review{err: rerr, expires: until}
		r.log.Info("service account token rejected", "reason", rerr)
	} else {
		id.Expiry = exp
		call.r = review{id: id, expires: exp}
	}
	r.storeLocked(key, call.r, now)
}

// identity reads a TokenReview's answer.
func identity(tr *authv1.TokenReview, audience string) (TokenIdentity, error) {
	st := tr.Status
	if !st.Authenticated {
		return TokenIdentity{}, fmt.Errorf("%w: not authenticated by the API server", ErrTokenRejected)
	}
	if !slices.Contains(st.Audiences, audience) {
		return TokenIdentity{}, fmt.Errorf("%w: not for audience %q", ErrTokenRejected, audience)
	}
	rest, ok := strings.CutPrefix(st.User.Username, saPrefix)
	ns, sa, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || ns == "" || sa == "" {
		return TokenIdentity{}, fmt.Errorf("%w: user %q is not a service account", ErrTokenRejected, st.User.Username)
	}
	one := func(k string) string {
		if v := st.User.Extra[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	id := TokenIdentity{Namespace: ns, ServiceAccount: sa, PodName: one(extraPodName), PodUID: one(extraPodUID), Node: one(extraNode)}
	if id.PodName == "" || id.PodUID == "" {
		return TokenIdentity{}, fmt.Errorf("%w: service account %s/%s token is not bound to a pod (use a projected token)", ErrTokenRejected, ns, sa)
	}
	return id, nil
}

// storeLocked caches v, keeping the cache within MaxEntries: expired
// entries go first, then the ones expiring soonest.
func (r *Reviewer) storeLocked(key [32]byte, v review, now time.Time) {
	if _, ok := r.cache[key]; !ok && len(r.cache) >= r.o.MaxEntries {
		for k, c := range r.cache {
			if !now.Before(c.expires) {
				delete(r.cache, k)
			}
		}
		for len(r.cache) >= r.o.MaxEntries {
			var (
				victim [32]byte
				first  time.Time
			)
			for k, c := range r.cache {
				if first.IsZero() || c.expires.Before(first) {
					victim, first = k, c.expires
				}
			}
			delete(r.cache, victim)
		}
	}
	r.cache[key] = v
}

// ForgetPod turns the cached reviews of the pod with this UID into
// rejections and refuses its tokens from now on without asking (for
// goneTTL, well past the API server's own ~10 s token cache, which would
// still accept them): call it on the pod's delete event.
func (r *Reviewer) ForgetPod(uid string) {
	if uid == "" {
		return
	}
	now := r.o.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.cache {
		if c.err == nil && c.id.PodUID == uid {
			c.err = fmt.Errorf("%w: pod %s/%s was deleted", ErrTokenRejected, c.id.Namespace, c.id.PodName)
			c.id = TokenIdentity{}
			if until := now.Add(goneTTL); until.Before(c.expires) {
				c.expires = until
			}
			r.cache[k] = c
		}
	}
	if len(r.gone) >= maxGone {
		for u, t := range r.gone {
			if now.Sub(t) > goneTTL {
				delete(r.gone, u)
			}
		}
		for u := range r.gone { // still full: forget arbitrary old ones
			if len(r.gone) < maxGone {
				break
			}
			delete(r.gone, u)
		}
	}
	r.gone[uid] = now
}

func (r *Reviewer) goneLocked(uid string, now time.Time) bool {
	t, ok := r.gone[uid]
	return ok && now.Sub(t) <= goneTTL
}

// tokenExpiry reads the exp claim of a JWT's payload without verifying
// the token: it only bounds how long an answer of the API server is kept.
func tokenExpiry(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("not a JWT (want three dot-separated parts)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, errors.New("JWT payload is not base64url")
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return time.Time{}, errors.New("JWT payload is not JSON")
	}
	if claims.Exp == nil {
		return time.Time{}, errors.New("JWT has no exp claim")
	}
	secs, err := claims.Exp.Int64()
	if err != nil || secs <= 0 {
		return time.Time{}, errors.New("JWT exp claim is not a positive integer")
	}
	return time.Unix(secs, 0), nil
}
