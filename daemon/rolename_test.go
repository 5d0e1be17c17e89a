package daemon

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/roles"
)

// TestResolveRole_LogsNameTheConfigsRole (issue 16 item 10): a named
// role's log lines name it as status, use and creds --role do ("web"),
// not by its ARN's name ("webapp"); the flat role, which has no config
// name, keeps the ARN's.
func TestResolveRole_LogsNameTheConfigsRole(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAROLENAMETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "role-name-secret")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>", http.StatusForbidden)
	}))
	t.Cleanup(sts.Close)
	for _, tc := range []struct{ name, want string }{{"web", "role=web "}, {"", "role=webapp "}} {
		var logs syncBuffer
		def := roles.Def{Name: tc.name, RoleARN: "arn:aws:iam::123456789012:role/webapp", Region: "us-east-1", STSEndpoint: sts.URL}
		e, err := resolveRole(context.Background(), def, nil, resolveEnv{log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		e.start(context.Background())
		<-e.refresher.Fetched()
		e.stop()
		line := logs.String()
		if !strings.Contains(line, `msg="refresh failed"`) || !strings.Contains(line, tc.want) {
			t.Errorf("config name %q: log %q, want a refresh failed line with %q", tc.name, line, tc.want)
		}
	}
}
