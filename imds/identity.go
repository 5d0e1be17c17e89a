package imds

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"time"
)

// iamInfo is the body of /latest/meta-data/iam/info. The Go SDK's GetIAMInfo
// requires Code "Success" and decodes LastUpdated as RFC 3339.
type iamInfo struct {
	Code               string `json:"Code"`
	LastUpdated        string `json:"LastUpdated"`
	InstanceProfileArn string `json:"InstanceProfileArn"`
	InstanceProfileID  string `json:"InstanceProfileId"`
}

// identityDocument is /latest/dynamic/instance-identity/document, with the
// field names of the EC2 User Guide (instance-identity-documents). Go's
// GetInstanceIdentityDocument decodes pendingTime as RFC 3339.
type identityDocument struct {
	AccountID               string   `json:"accountId"`
	Architecture            string   `json:"architecture"`
	AvailabilityZone        string   `json:"availabilityZone"`
	BillingProducts         []string `json:"billingProducts"`
	DevpayProductCodes      []string `json:"devpayProductCodes"`
	MarketplaceProductCodes []string `json:"marketplaceProductCodes"`
	ImageID                 string   `json:"imageId"`
	InstanceID              string   `json:"instanceId"`
	InstanceType            string   `json:"instanceType"`
	KernelID                *string  `json:"kernelId"`
	PendingTime             string   `json:"pendingTime"`
	PrivateIP               string   `json:"privateIp"`
	RamdiskID               *string  `json:"ramdiskId"`
	Region                  string   `json:"region"`
	Version                 string   `json:"version"`
}

// Fixed values of the identity document for a machine that is not an EC2
// instance.
const (
	identityVersion = "2017-09-30"
	imageID         = "ami-00000000000000000"
	instanceType    = "imdsd.local"
	unknownAccount  = "000000000000"
)

// DefaultInstanceID returns a stable instance ID for this machine, derived
// from /etc/machine-id (or the host name): "i-" and 17 hex digits, the shape
// of a real one.
func DefaultInstanceID() string {
	seed, err := os.ReadFile("/etc/machine-id")
	if err != nil || len(strings.TrimSpace(string(seed))) == 0 {
		h, _ := os.Hostname()
		seed = []byte(h)
	}
	sum := sha256.Sum256(append([]byte("imdsd instance id\x00"), seed...))
	return "i-" + hex.EncodeToString(sum[:])[:17]
}

// profileID returns a stable instance profile ID for a role name: "AIPA"
// and 17 characters, the shape of a real one.
func profileID(role string) string {
	sum := sha256.Sum256([]byte("imdsd instance profile\x00" + role))
	return "AIPA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

func (s *Server) handleRoot(w http.ResponseWriter, _ *http.Request) { writeText(w, "latest") }

func (s *Server) handleLatest(w http.ResponseWriter, _ *http.Request) {
	writeText(w, "dynamic\nmeta-data")
}

// handleMetaData lists the categories served. "iam/" appears only when the
// caller has a role, as on an instance without an instance profile.
func (s *Server) handleMetaData(w http.ResponseWriter, r *http.Request) {
	items := "instance-id\nplacement/"
	if _, err := s.opts.Source.Credentials(r.Context(), s.caller(r)); err == nil {
		items = "iam/\n" + items
	}
	writeText(w, items)
}

func (s *Server) handleIAM(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.lookup(w, r); !ok {
		return
	}
	writeText(w, "info\nsecurity-credentials/")
}

func (s *Server) handleIAMInfo(w http.ResponseWriter, r *http.Request) {
	role, ok := s.lookup(w, r)
	if !ok {
		return
	}
	writeBytes(w, mustJSON(iamInfo{
		Code:               codeSuccess,
		LastUpdated:        formatTime(s.lastUpdated(role)),
		InstanceProfileArn: "arn:aws:iam::" + s.accountOf(role) + ":instance-profile/" + role.Name,
		InstanceProfileID:  profileID(role.Name),
	}))
}

func (s *Server) lastUpdated(role Role) time.Time {
	if role.Err == nil && !role.Credentials.LastUpdated.IsZero() {
		return role.Credentials.LastUpdated
	}
	return s.started
}

func (s *Server) accountOf(role Role) string {
	switch {
	case role.Credentials.AccountID != "":
		return role.Credentials.AccountID
	case s.opts.AccountID != "":
		return s.opts.AccountID
	}
	return unknownAccount
}

func (s *Server) handleInstanceID(w http.ResponseWriter, _ *http.Request) {
	writeText(w, s.opts.InstanceID)
}

func (s *Server) handlePlacement(w http.ResponseWriter, _ *http.Request) {
	writeText(w, "availability-zone\nregion")
}

// handleAvailabilityZone answers with no trailing newline: botocore strips
// the last character to get the region (imds-protocol.md §2.2).
func (s *Server) handleAvailabilityZone(w http.ResponseWriter, _ *http.Request) {
	writeText(w, s.zone)
}

func (s *Server) handleRegion(w http.ResponseWriter, _ *http.Request) { writeText(w, s.opts.Region) }

func (s *Server) handleDynamic(w http.ResponseWriter, _ *http.Request) {
	writeText(w, "instance-identity/")
}

func (s *Server) handleInstanceIdentity(w http.ResponseWriter, _ *http.Request) {
	writeText(w, "document")
}

func (s *Server) handleIdentityDocument(w http.ResponseWriter, r *http.Request) {
	var role Role
	if rl, err := s.opts.Source.Credentials(r.Context(), s.caller(r)); err == nil {
		role = rl
	}
	writeBytes(w, mustJSON(identityDocument{
		AccountID:               s.accountOf(role),
		Architecture:            architecture(),
		AvailabilityZone:        s.zone,
		BillingProducts:         nil,
		DevpayProductCodes:      nil,
		MarketplaceProductCodes: nil,
		ImageID:                 imageID,
		InstanceID:              s.opts.InstanceID,
		InstanceType:            instanceType,
		PendingTime:             formatTime(s.started),
		PrivateIP:               "127.0.0.1",
		Region:                  s.opts.Region,
		Version:                 identityVersion,
	}))
}
