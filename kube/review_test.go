package kube

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/k8stest"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reviewFixture is a pod with a service account, on a node.
type reviewFixture struct {
	c             *k8stest.Cluster
	ns, node, uid string
}

func newReviewFixture(t *testing.T) reviewFixture {
	t.Helper()
	c := k8stest.Start(t)
	f := reviewFixture{c: c, ns: c.NewNamespace(t, nil), node: nodeName(t)}
	c.CreateServiceAccount(t, f.ns, "sa")
	p := c.CreatePod(t, f.ns, "p", "sa", f.node, nil, false)
	f.uid = string(p.UID)
	return f
}

func (f reviewFixture) reviewer(t *testing.T, now func() time.Time) *Reviewer {
	t.Helper()
	r, err := NewReviewer(ReviewerOptions{Client: f.c.Client, Now: now})
	if err != nil {
		t.Fatalf("NewReviewer: %v", err)
	}
	return r
}

// TestReviewer_ValidToken: a TokenRequest token bound to a pod, for the
// audience, gives the pod's identity; reviewed once however often asked.
func TestReviewer_ValidToken(t *testing.T) {
	f := newReviewFixture(t)
	tok := f.c.PodToken(t, f.ns, "sa", "p", DefaultAudience)
	r := f.reviewer(t, nil)
	before := time.Now()
	var wg sync.WaitGroup
	ids := make([]TokenIdentity, 10)
	errs := make([]error, 10)
	for i := range 10 {
		wg.Go(func() { ids[i], errs[i] = r.Review(context.Background(), tok) })
	}
	wg.Wait()
	for i := range 10 {
		if errs[i] != nil {
			t.Fatalf("Review #%d: %v", i, errs[i])
		}
		id := ids[i]
		if id.Namespace != f.ns || id.ServiceAccount != "sa" || id.PodName != "p" || id.PodUID != f.uid || id.Node != f.node {
			t.Fatalf("Review = %+v; want %s/sa, pod p uid %s on %s", id, f.ns, f.uid, f.node)
		}
		lo, hi := before.Add(k8stest.TokenSeconds*time.Second-time.Minute), time.Now().Add(k8stest.TokenSeconds*time.Second+time.Minute)
		if id.Expiry.Before(lo) || id.Expiry.After(hi) {
			t.Fatalf("Expiry %s; want about %d s from now", id.Expiry, k8stest.TokenSeconds)
		}
	}
	if _, err := r.Review(context.Background(), tok); err != nil {
		t.Fatalf("Review again: %v", err)
	}
	if st := r.Stats(); st.Calls != 1 || st.Hits+st.Calls < 2 || st.Rejected != 0 {
		t.Fatalf("Stats() = %+v; want 1 call for 11 reviews of one token, no rejection", st)
	}
}

// TestReviewer_Rejected: a token for another audience, a tampered one, a
// token that is no JWT, a service-account token not bound to a pod, all
// get ErrTokenRejected; the error never holds the token.
func TestReviewer_Rejected(t *testing.T) {
	f := newReviewFixture(t)
	good := f.c.PodToken(t, f.ns, "sa", "p", DefaultAudience)
	other := f.c.PodToken(t, f.ns, "sa", "p", "sts.amazonaws.com")
	parts := strings.Split(good, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(payload), `"p"`, `"q"`, 1)
	if forged == string(payload) {
		t.Fatalf("test setup: no pod name in the payload to forge")
	}
	secs := int64(k8stest.TokenSeconds)
	unbound, err := f.c.Client.CoreV1().ServiceAccounts(f.ns).CreateToken(context.Background(), "sa", &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{Audiences: []string{DefaultAudience}, ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("unbound token request: %v", err)
	}
	flip := func(s string) string {
		last := s[len(s)-2]
		c := byte('A')
		if last == 'A' {
			c = 'B'
		}
		return s[:len(s)-2] + string(c) + s[len(s)-1:]
	}
	tests := map[string]struct {
		token    string
		wantCall bool
	}{
		"other audience":     {token: other, wantCall: true},
		"tampered signature": {token: flip(good), wantCall: true},
		"tampered payload":   {token: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2], wantCall: true},
		"not bound to a pod": {token: unbound.Status.Token, wantCall: true},
		"not a JWT":          {token: "opaque-secret-value"},
		"empty":              {token: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			r, err := NewReviewer(ReviewerOptions{Client: f.c.Client, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			id, err := r.Review(context.Background(), tc.token)
			if !errors.Is(err, ErrTokenRejected) {
				t.Fatalf("Review = %+v, %v; want ErrTokenRejected", id, err)
			}
			if tc.token != "" && (strings.Contains(err.Error(), tc.token) || strings.Contains(logs.String(), tc.token)) {
				t.Fatal("the error or the log holds the token")
			}
			st := r.Stats()
			if called := st.Calls == 1; called != tc.wantCall || st.Rejected != 1 {
				t.Fatalf("Stats() = %+v; want %v TokenReview calls and 1 rejection", st, tc.wantCall)
			}
		})
	}
}

// TestReviewer_Expiry: the cache never outlives the token's exp, and a
// token past its exp is refused without asking.
func TestReviewer_Expiry(t *testing.T) {
	f := newReviewFixture(t)
	tok := f.c.PodToken(t, f.ns, "sa", "p", DefaultAudience)
	clk := newClock()
	r := f.reviewer(t, clk.Now)
	id, err := r.Review(context.Background(), tok)
	if err != nil {
		t.Fatalf("Review: %v", err)
	}
	clk.Add(id.Expiry.Sub(clk.Now()) - time.Second)
	if _, err := r.Review(context.Background(), tok); err != nil {
		t.Fatalf("Review a second before exp: %v", err)
	}
	if st := r.Stats(); st.Calls != 1 || st.Hits != 1 {
		t.Fatalf("before exp: Stats() = %+v; want 1 call, 1 hit", st)
	}
	clk.Add(2 * time.Second)
	if _, err := r.Review(context.Background(), tok); !errors.Is(err, ErrTokenRejected) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Review past exp: %v; want ErrTokenRejected (expired)", err)
	}
	if st := r.Stats(); st.Calls != 1 || st.Rejected != 1 {
		t.Fatalf("past exp: Stats() = %+v; want no new call, 1 rejection", st)
	}
}

// TestReviewer_RejectionCachedBriefly: a refused token is asked again only
// after the short rejection TTL.
func TestReviewer_RejectionCachedBriefly(t *testing.T) {
	f := newReviewFixture(t)
	other := f.c.PodToken(t, f.ns, "sa", "p", "sts.amazonaws.com")
	clk := newClock()
	r := f.reviewer(t, clk.Now)
	for range 3 {
		if _, err := r.Review(context.Background(), other); !errors.Is(err, ErrTokenRejected) {
			t.Fatalf("Review: %v; want ErrTokenRejected", err)
		}
	}
	if st := r.Stats(); st.Calls != 1 || st.Rejected != 3 {
		t.Fatalf("Stats() = %+v; want 1 call, 3 rejections", st)
	}
	clk.Add(rejectTTL + time.Second)
	if _, err := r.Review(context.Background(), other); !errors.Is(err, ErrTokenRejected) {
		t.Fatalf("Review: %v; want ErrTokenRejected", err)
	}
	if st := r.Stats(); st.Calls != 2 {
		t.Fatalf("after the rejection TTL: Stats() = %+v; want a second call", st)
	}
}

// TestReviewer_DeletedPod: ForgetPod (the watcher's delete event) refuses
// the pod's tokens at once; without it, the API server itself refuses
// them once its own ~10 s token cache has passed.
func TestReviewer_DeletedPod(t *testing.T) {
	f := newReviewFixture(t)
	tok := f.c.PodToken(t, f.ns, "sa", "p", DefaultAudience)
	r := f.reviewer(t, nil)
	if _, err := r.Review(context.Background(), tok); err != nil {
		t.Fatalf("Review: %v", err)
	}
	f.c.DeletePod(t, f.ns, "p")
	r.ForgetPod(f.uid)
	if _, err := r.Review(context.Background(), tok); !errors.Is(err, ErrTokenRejected) {
		t.Fatalf("Review after ForgetPod: %v; want ErrTokenRejected", err)
	}
	if st := r.Stats(); st.Calls != 1 {
		t.Fatalf("after ForgetPod: Stats() = %+v; want no new call", st)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		fresh := f.reviewer(t, nil)
		_, err := fresh.Review(context.Background(), tok)
		if errors.Is(err, ErrTokenRejected) {
			break
		}
		if err != nil {
			t.Fatalf("Review by a fresh reviewer: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the API server still accepts the deleted pod's token after 30 s")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestReviewer_Bounded: the cache holds at most MaxEntries reviews.
func TestReviewer_Bounded(t *testing.T) {
	f := newReviewFixture(t)
	r, err := NewReviewer(ReviewerOptions{Client: f.c.Client, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		tok := f.c.PodToken(t, f.ns, "sa", "p", DefaultAudience)
		if _, err := r.Review(context.Background(), tok); err != nil {
			t.Fatalf("Review: %v", err)
		}
	}
	r.mu.Lock()
	n := len(r.cache)
	r.mu.Unlock()
	if n != 2 {
		t.Fatalf("cache holds %d reviews; want 2 (MaxEntries)", n)
	}
	if _, err := NewReviewer(ReviewerOptions{Client: f.c.Client, MaxEntries: -1}); err == nil {
		t.Fatal("NewReviewer with MaxEntries -1: no error")
	}
	if _, err := NewReviewer(ReviewerOptions{}); err == nil {
		t.Fatal("NewReviewer without a client: no error")
	}
}
