package daemon

import (
	"strconv"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/internal/stsrecord"
)

// TestPods_SessionTags: a pod's session carries its namespace, service
// account and node as session tags (and its name and uid when each pod has
// its own session), as STS received them; session_tags off sends none.
func TestPods_SessionTags(t *testing.T) {
	tests := []struct {
		name     string
		perPod   bool
		tags     bool
		session  string
		want     []string
		wantNone []string
	}{
		{name: "per pod", perPod: true, tags: true, session: "team.a",
			want: []string{"kubernetes-namespace=team", "kubernetes-service-account=web", "kubernetes-node-name=node-1",
				"kubernetes-pod-name=a", "kubernetes-pod-uid=uid-a"}},
		{name: "shared", perPod: false, tags: true,
			want:     []string{"kubernetes-namespace=team", "kubernetes-service-account=web", "kubernetes-node-name=node-1"},
			wantNone: []string{"kubernetes-pod-name", "kubernetes-pod-uid"}},
		{name: "off", perPod: true, tags: false, session: "team.a",
			wantNone: []string{"kubernetes-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec *stsrecord.Recorder
			d := startKubeDaemon(t, func(c *config.Config) {
				rec = stsrecord.Start(t, c.Kubernetes.STSEndpoint)
				c.Kubernetes.STSEndpoint = rec.URL
				c.Kubernetes.SessionPerPod, c.Kubernetes.SessionTags = tc.perPod, tc.tags
			})
			d.w.put(testPod("a", "10.244.0.2", map[string]string{access.AnnotationRole: "app-web"}))
			d.waitPool(t)
			var got []string
			found := false
			for _, r := range rec.Action("AssumeRole") {
				if r.Form.Get("RoleArn") != testBase+"app-web" {
					continue
				}
				if tc.session != "" && r.Form.Get("RoleSessionName") != tc.session {
					t.Errorf("RoleSessionName %q, want %q", r.Form.Get("RoleSessionName"), tc.session)
				}
				found = true
				for i := 1; r.Form.Has(keyN(i)); i++ {
					got = append(got, r.Form.Get(keyN(i))+"="+r.Form.Get(valueN(i)))
				}
			}
			if !found {
				t.Fatalf("STS received no AssumeRole of %sapp-web", testBase)
			}
			all := strings.Join(got, " ")
			for _, w := range tc.want {
				if !strings.Contains(" "+all+" ", " "+w+" ") {
					t.Errorf("tags %q: %s missing", all, w)
				}
			}
			for _, n := range tc.wantNone {
				if strings.Contains(all, n) {
					t.Errorf("tags %q: want no %s", all, n)
				}
			}
		})
	}
}

func keyN(i int) string   { return "Tags.member." + strconv.Itoa(i) + ".Key" }
func valueN(i int) string { return "Tags.member." + strconv.Itoa(i) + ".Value" }
