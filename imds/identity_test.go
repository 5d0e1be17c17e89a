package imds

import (
	"encoding/json"
	"regexp"
	"testing"
)

func TestServer_Metadata(t *testing.T) {
	clk := newFakeClock()
	role := Role{Name: "demo", Credentials: testCreds(clk.Now())}
	s, _ := newTestServer(t, Options{Source: staticSource(role, nil), Region: "ap-southeast-2", Now: clk.Now})
	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
	}{
		{"GET", "/", 200, "latest"},
		{"GET", "/latest/", 200, "dynamic\nmeta-data"},
		{"GET", "/latest", 200, "dynamic\nmeta-data"},
		{"GET", "/latest/meta-data/", 200, "iam/\ninstance-id\nplacement/"},
		{"GET", "/latest/meta-data/iam/", 200, "info\nsecurity-credentials/"},
		{"GET", "/latest/meta-data/instance-id", 200, "i-0123456789abcdef0"},
		{"GET", "/latest/meta-data/instance-id/", 200, "i-0123456789abcdef0"},
		{"GET", "/latest/meta-data/placement/", 200, "availability-zone\nregion"},
		// botocore asks with a slash on the leaf and strips the last
		// character for the region: no newline allowed.
		{"GET", "/latest/meta-data/placement/availability-zone/", 200, "ap-southeast-2a"},
		{"GET", "/latest/meta-data/placement/availability-zone", 200, "ap-southeast-2a"},
		{"GET", "/latest/meta-data/placement/region", 200, "ap-southeast-2"},
		{"GET", "/latest/dynamic/", 200, "instance-identity/"},
		{"GET", "/latest/dynamic/instance-identity/", 200, "document"},
		{"HEAD", "/latest/meta-data/instance-id", 200, "i-0123456789abcdef0"}, // net/http drops the body on the wire
		{"GET", "/latest/meta-data/ami-launch-index", 404, ""},
		{"GET", "/latest/user-data", 404, ""},
		{"GET", "/nope", 404, ""},
		{"POST", "/latest/meta-data/instance-id", 405, ""},
		{"DELETE", "/latest/meta-data/", 405, ""},
		{"PUT", "/latest/meta-data/instance-id", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := do(s, tt.method, tt.path)
			if w.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantCode)
			}
			if tt.wantCode == 200 && body(w) != tt.wantBody {
				t.Errorf("body = %q, want %q", body(w), tt.wantBody)
			}
			if tt.wantCode == 405 && w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want %q", w.Header().Get("Allow"), "GET, HEAD")
			}
			if w.Header().Get("Server") != "EC2ws" {
				t.Errorf("Server = %q, want EC2ws", w.Header().Get("Server"))
			}
		})
	}
}

func TestServer_MetadataWithoutRole(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole)})
	if got := body(do(s, "GET", "/latest/meta-data/")); got != "instance-id\nplacement/" {
		t.Errorf("listing without a role = %q, want no iam/ entry", got)
	}
	if w := do(s, "GET", "/latest/meta-data/iam/info"); w.Code != 404 {
		t.Errorf("iam/info without a role: status %d, want 404", w.Code)
	}
}

func TestServer_IdentityConsistency(t *testing.T) {
	clk := newFakeClock()
	role := Role{Name: "demo", Credentials: testCreds(clk.Now())}
	s, _ := newTestServer(t, Options{Source: staticSource(role, nil), Region: "eu-central-1", Now: clk.Now})
	var doc struct {
		AccountID        string `json:"accountId"`
		Region           string `json:"region"`
		AvailabilityZone string `json:"availabilityZone"`
		InstanceID       string `json:"instanceId"`
		PendingTime      string `json:"pendingTime"`
		Version          string `json:"version"`
	}
	w := do(s, "GET", PathIdentityDocument)
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("identity document: %v", err)
	}
	zone := body(do(s, "GET", PathAvailabilityZone+"/"))
	region := body(do(s, "GET", PathRegion))
	id := body(do(s, "GET", PathInstanceID))
	if doc.Region != "eu-central-1" || region != doc.Region || zone != doc.AvailabilityZone || zone[:len(zone)-1] != region {
		t.Errorf("inconsistent placement: doc region %q zone %q, placement/region %q, availability-zone %q", doc.Region, doc.AvailabilityZone, region, zone)
	}
	if doc.InstanceID != id || doc.AccountID != "123456789012" || doc.Version != "2017-09-30" || !secondsUTC.MatchString(doc.PendingTime) {
		t.Errorf("identity document = %+v", doc)
	}

	var info map[string]string
	if err := json.Unmarshal(do(s, "GET", PathIAMInfo).Body.Bytes(), &info); err != nil {
		t.Fatalf("iam/info: %v", err)
	}
	if info["Code"] != "Success" || info["InstanceProfileArn"] != "arn:aws:iam::123456789012:instance-profile/demo" ||
		!regexp.MustCompile(`^AIPA[A-Z2-7]{17}$`).MatchString(info["InstanceProfileId"]) || !secondsUTC.MatchString(info["LastUpdated"]) {
		t.Errorf("iam/info = %v", info)
	}
}

func TestDefaultInstanceID(t *testing.T) {
	id := DefaultInstanceID()
	if !regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(id) {
		t.Fatalf("DefaultInstanceID() = %q, want i- and 17 hex digits", id)
	}
	if again := DefaultInstanceID(); again != id {
		t.Fatalf("DefaultInstanceID() not stable: %q then %q", id, again)
	}
}

func TestNew_Validates(t *testing.T) {
	src := staticSource(Role{}, ErrNoRole)
	for _, opts := range []Options{{Region: "us-east-1"}, {Source: src}, {Source: src, Region: "moon-1"}} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", opts)
		}
	}
}
