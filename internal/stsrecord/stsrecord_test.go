package stsrecord

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestRecorder_RecordsAndForwards: the recorder keeps the form and the
// signing key of what it forwards, and the answer is the target's.
func TestRecorder_RecordsAndForwards(t *testing.T) {
	var got string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = r.PostForm.Get("RoleArn")
		_, _ = w.Write([]byte("target answer"))
	}))
	t.Cleanup(target.Close)
	rec := Start(t, target.URL)
	form := url.Values{"Action": {"AssumeRole"}, "RoleArn": {"arn:aws:iam::123456789012:role/a"}, "Tags.member.1.Key": {"team"}}
	req, _ := http.NewRequest(http.MethodPost, rec.URL+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "arn:aws:iam::123456789012:role/a" {
		t.Errorf("target got RoleArn %q: the body was not forwarded", got)
	}
	last, ok := rec.Last("AssumeRole")
	if !ok || last.Form.Get("Tags.member.1.Key") != "team" || last.AccessKeyID != "AKIAEXAMPLE000000001" {
		t.Errorf("recorded %+v, want the form and key AKIAEXAMPLE000000001", last)
	}
	if n := len(rec.Action("GetCallerIdentity")); n != 0 {
		t.Errorf("Action(GetCallerIdentity) = %d requests, want 0", n)
	}
}

// TestRecorder_Changed: Changed is closed by the next request, not before.
func TestRecorder_Changed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(target.Close)
	rec := Start(t, target.URL)
	ch := rec.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed with no request")
	default:
	}
	resp, err := http.PostForm(rec.URL, url.Values{"Action": {"GetCallerIdentity"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-ch // closed by the request; a hang here is the failure
	if len(rec.Action("GetCallerIdentity")) != 1 {
		t.Error("the request was not recorded")
	}
}
