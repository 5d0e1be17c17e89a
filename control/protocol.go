package control

import (
	"encoding/json"
	"time"
)

// Commands of the control API.
const (
	CmdStatus = "status"
	CmdUse    = "use"
	CmdReload = "reload"
	CmdMFA    = "mfa"
	CmdCreds  = "creds"
)

// maxMessage bounds a request or reply read from the socket.
const maxMessage = 1 << 20

// Request is what a client sends.
type Request struct {
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response is what the server answers.
type Response struct {
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Role states in [RoleStatus].
const (
	StateFresh      = "fresh"      // credentials held, no refresh failing
	StateRefreshing = "refreshing" // waiting for the first set, or under the refresh threshold
	StateFailing    = "failing"    // the last refresh failed; Reason says why
	StateNeedsMFA   = "needs-mfa"  // the role's source needs `imdsd mfa`
)

// Status is the reply to CmdStatus.
type Status struct {
	Version     string         `json:"version"`
	PID         int            `json:"pid"`
	Started     time.Time      `json:"started"`
	ConfigFile  string         `json:"config_file,omitempty"`
	Listen      []string       `json:"listen"`
	Region      string         `json:"region,omitempty"`
	STSEndpoint string         `json:"sts_endpoint,omitempty"` // "" means AWS's regional endpoint
	InstanceID  string         `json:"instance_id,omitempty"`
	Containers  bool           `json:"containers"` // containers.enabled: DNAT rules expected
	DefaultRole string         `json:"default_role"`
	Roles       []RoleStatus   `json:"roles"`
	Clients     []ClientStatus `json:"clients"`
	Reloads     int64          `json:"reloads"`
	LastReload  time.Time      `json:"last_reload,omitzero"`
	ReloadError string         `json:"reload_error,omitempty"`
	// PendingRestart are the keys changed in the config file that only a
	// restart applies: the last reload was refused for them and changed
	// nothing. Empty after a reload that succeeded.
	PendingRestart []string `json:"pending_restart,omitempty"`
	// Kubernetes is the node agent's state; nil when kubernetes mode is
	// off.
	Kubernetes *KubernetesStatus `json:"kubernetes,omitempty"`
}

// KubernetesStatus is the node agent's state in [Status].
type KubernetesStatus struct {
	Node string `json:"node,omitempty"`
	// The pod watcher: synced once its first list is in; Stale while the
	// API server is unreachable (the last pods are served for its grace).
	Synced      bool      `json:"synced"`
	Stale       bool      `json:"stale"`
	LastContact time.Time `json:"last_contact,omitzero"`
	Error       string    `json:"error,omitempty"`
	// Pods are the pods of this node and the role each gets.
	Pods []PodStatus `json:"pods"`
	// PodRoles are the roles assumed for pods by ARN (the pool), with the
	// same fields as Roles.
	PodRoles []PodRoleStatus `json:"pod_roles"`
	MaxRoles int             `json:"max_roles"`
	// Per namespace and role: requests served and refusals by reason.
	Namespaces   []NamespaceStatus `json:"namespaces,omitempty"`
	TokenReviews *TokenReviewStats `json:"token_reviews,omitempty"`
}

// PodStatus is one pod in [KubernetesStatus].
type PodStatus struct {
	Namespace      string   `json:"namespace"`
	Name           string   `json:"name"`
	ServiceAccount string   `json:"service_account,omitempty"`
	IPs            []string `json:"ips,omitempty"`
	HostNetwork    bool     `json:"host_network,omitempty"`
	Phase          string   `json:"phase,omitempty"`
	// Role is what the policy gives it (a role name or ARN), or "" with
	// Refused saying why.
	Role    string `json:"role,omitempty"`
	Refused string `json:"refused,omitempty"`
}

// PodRoleStatus is one role assumed for pods.
type PodRoleStatus struct {
	RoleStatus
	SessionName string `json:"session_name,omitempty"`
	Pods        int    `json:"pods"`
}

// NamespaceStatus counts one namespace's requests for one role and its
// refusals by reason (no-role, not-identified, unidentified, other).
type NamespaceStatus struct {
	Namespace string           `json:"namespace"`
	Role      string           `json:"role,omitempty"`
	Requests  int64            `json:"requests"`
	Refusals  map[string]int64 `json:"refusals,omitempty"`
}

// TokenReviewStats count the Pod Identity endpoint's TokenReviews.
type TokenReviewStats struct {
	Calls    int64 `json:"calls"`
	Hits     int64 `json:"cache_hits"`
	Rejected int64 `json:"rejected"`
}

// RoleStatus is one role in [Status].
type RoleStatus struct {
	Name    string `json:"name"`
	ARN     string `json:"arn,omitempty"`
	Source  string `json:"source,omitempty"`
	Default bool   `json:"default"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	// ErrorKind is the kind of the last failure (roles.ErrorKind: needs-mfa,
	// expired-certificate, untrusted-certificate, certificate-file,
	// access-denied, invalid-source, throttled, network, expired-source,
	// no-source, other), for tools that say what to do about it.
	ErrorKind   string     `json:"error_kind,omitempty"`
	Expires     time.Time  `json:"expires,omitzero"`
	LastRefresh time.Time  `json:"last_refresh,omitzero"`
	NextRefresh time.Time  `json:"next_refresh,omitzero"`
	STSCalls    int64      `json:"sts_calls"`
	STSFailures int64      `json:"sts_failures"`
	Requests    int64      `json:"requests"`
	MFA         *MFAStatus `json:"mfa,omitempty"`
	// Certificate is a Roles Anywhere role's certificate, as its last
	// refresh read it.
	Certificate *CertificateStatus `json:"certificate,omitempty"`
}

// CertificateStatus tells of a Roles Anywhere role's certificate.
type CertificateStatus struct {
	Subject string    `json:"subject"`
	Issuer  string    `json:"issuer"`
	Serial  string    `json:"serial"`
	Expires time.Time `json:"expires"`
	// ExpiresSoon is set within 7 days of Expires (and after it).
	ExpiresSoon bool `json:"expires_soon,omitempty"`
}

// MFAStatus tells about a role's MFA session.
type MFAStatus struct {
	Serial  string    `json:"serial"`
	Expires time.Time `json:"expires,omitzero"` // zero: no session yet
}

// ClientStatus is one client seen by the IMDS server.
type ClientStatus struct {
	// Address is the last address the client came from; a client is
	// one caller (its container, else Caller and Unit, else Address).
	Address string `json:"address"`
	// Caller is the connection's identity ("uid=1000"), as the audit
	// log names it; "" when only the address is known.
	Caller    string    `json:"caller,omitempty"`
	Unit      string    `json:"unit,omitempty"`
	UID       *int      `json:"uid,omitempty"`
	Container string    `json:"container,omitempty"`
	Role      string    `json:"role,omitempty"`
	Requests  int64     `json:"requests"`
	LastSeen  time.Time `json:"last_seen"`
}

// UseArgs are the arguments of CmdUse.
type UseArgs struct {
	Role string `json:"role"`
}

// UseReply is the reply to CmdUse.
type UseReply struct {
	Previous string `json:"previous"`
	Role     string `json:"role"`
}

// ReloadReply is the reply to CmdReload.
type ReloadReply struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
}

// MFAArgs are the arguments of CmdMFA.
type MFAArgs struct {
	Role string `json:"role,omitempty"` // "" means every role that needs MFA
	Code string `json:"code"`
}

// MFAReply is the reply to CmdMFA.
type MFAReply struct {
	Serial  string    `json:"serial"`
	Roles   []string  `json:"roles"`
	Expires time.Time `json:"expires"`
}

// CredsArgs are the arguments of CmdCreds.
type CredsArgs struct {
	Role string `json:"role,omitempty"` // "" means the default role
}

// Creds is the reply to CmdCreds. It carries secrets: it never goes to a
// log.
type Creds struct {
	Role            string    `json:"role"`
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token"`
	Expiration      time.Time `json:"expiration"`
	Region          string    `json:"region,omitempty"`
}
