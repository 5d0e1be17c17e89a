// Package stsrecord is a recorder for tests: a reverse proxy in front of a
// real STS (moto) that keeps the form parameters of every request it
// passes on. moto ignores session tags, the source identity and the web
// identity token, so a test that only checked that a call succeeded would
// pass with none of them sent; through the recorder it asserts what STS
// actually received. It is a stand-in for nothing: it forwards every
// request unchanged and the answer comes from moto.
package stsrecord

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sync"
	"testing"
)

// Request is one request as STS received it.
type Request struct {
	// Form is the request's parameters (body and query).
	Form url.Values
	// AccessKeyID is the key that signed it, from the SigV4 Authorization
	// header's Credential; "" for an unsigned request (web identity).
	AccessKeyID string
}

var credentialKey = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

// Recorder is a running recording proxy.
type Recorder struct {
	// URL is the proxy's base URL, to be used as the STS endpoint.
	URL string

	mu      sync.Mutex
	reqs    []Request
	changed chan struct{} // closed and replaced at each request
}

// Start starts a recorder in front of target (moto's URL) and stops it
// when the test ends.
func Start(tb testing.TB, target string) *Recorder {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("stsrecord: target %q: %v", target, err)
	}
	r := &Recorder{changed: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, "stsrecord: read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "stsrecord: body is not a form: "+err.Error(), http.StatusBadRequest)
			return
		}
		for k, v := range req.URL.Query() {
			form[k] = append(form[k], v...)
		}
		rec := Request{Form: form}
		if m := credentialKey.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
			rec.AccessKeyID = m[1]
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, rec)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, req)
	}))
	tb.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Changed returns a channel closed at the next request recorded.
func (r *Recorder) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Requests returns a copy of every recorded request, oldest first.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.reqs))
	for i, q := range r.reqs {
		c := url.Values{}
		for k, v := range q.Form {
			c[k] = append([]string(nil), v...)
		}
		out[i] = Request{Form: c, AccessKeyID: q.AccessKeyID}
	}
	return out
}

// Action returns the requests whose Action is action, oldest first.
func (r *Recorder) Action(action string) []Request {
	var out []Request
	for _, q := range r.Requests() {
		if q.Form.Get("Action") == action {
			out = append(out, q)
		}
	}
	return out
}

// Last returns the last request whose Action is action, and false when
// there was none.
func (r *Recorder) Last(action string) (Request, bool) {
	all := r.Action(action)
	if len(all) == 0 {
		return Request{}, false
	}
	return all[len(all)-1], true
}
