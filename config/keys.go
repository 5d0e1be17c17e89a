package config

import (
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/roles"
)

// Kind is the type of a key's value in the file.
type Kind int

// The kinds of values.
const (
	KindString   Kind = iota // a string (numbers are read as their text)
	KindList                 // a string or a list of strings
	KindIDList               // a uid/gid or name, or a list of them
	KindBool                 // true or false
	KindInt                  // an integer
	KindDuration             // a duration such as 45m or 1h
	KindNested               // a mapping or list with keys of its own
	KindTags                 // a mapping of strings (roles.Tags)
	KindSet                  // a string or a list of strings, order and repeats not kept (roles.List)
)

// Key is one config key: everything imdsd knows of it is here.
type Key struct {
	// Name is the key as the file spells it; its serve flag (plain kinds
	// only) is the same with dashes: role_arn is --role-arn.
	Name string
	Kind Kind
	// Doc is one line for docs and -h; a `word` in it names the flag's
	// value, as package flag reads it.
	Doc string
	// Default says what an unset key means, where the zero value does
	// not tell (e.g. "1h", "imdsd-HOSTNAME").
	Default string
	// Secret keys are never printed, logged or echoed in errors.
	Secret bool
	// Restart keys are read at start only: a reload that changes one
	// cannot apply it.
	Restart bool

	// field returns a pointer to the key's value in c.
	field func(c *Config) any
	// decode decodes a nested key's value (KindNested only).
	decode func(c *Config) func(*yaml.Node) error
}

// Flag returns the serve flag of k, or "" for a nested key (file only).
func (k Key) Flag() string {
	if k.Kind == KindNested {
		return ""
	}
	return FlagName(k.Name)
}

// Keys returns the table of every top-level config key, in the order docs
// list them. The role keys (role_arn, profile, ...) come from RoleKeys: the
// flat keys are the implicit single role, the same keys as roles.NAME.
func Keys() []Key {
	keys := []Key{
		{Name: "listen", Kind: KindList, Restart: true,
			Doc:   "listen `address` IP:PORT; may repeat",
			field: func(c *Config) any { return &c.Listen }, Default: "127.0.0.1:9254 and [::1]:9254"},
		{Name: "imdsv2", Kind: KindString, Restart: true,
			Doc:   "IMDSv2 `tokens`: optional or required",
			field: func(c *Config) any { return &c.IMDSv2 }},
	}
	for _, rk := range RoleKeys() {
		keys = append(keys, rk.top())
	}
	return append(keys,
		Key{Name: "instance_id", Kind: KindString, Restart: true,
			Doc:   "instance `ID` to serve",
			field: func(c *Config) any { return &c.InstanceID }, Default: "derived from /etc/machine-id"},
		Key{Name: "log_level", Kind: KindString, Restart: true,
			Doc:   "log `level`: debug, info, warn, error",
			field: func(c *Config) any { return &c.LogLevel }},
		Key{Name: "log_format", Kind: KindString, Restart: true,
			Doc:   "log `format`: auto (text on a terminal, else JSON), text, json",
			field: func(c *Config) any { return &c.LogFormat }},
		Key{Name: "link_local", Kind: KindBool, Restart: true,
			Doc:   "put 169.254.169.254 and fd00:ec2::254 on loopback and serve there on port 80 (needs CAP_NET_ADMIN)",
			field: func(c *Config) any { return &c.LinkLocal }},
		Key{Name: "control_socket", Kind: KindString, Restart: true,
			Doc:   "control API socket `path`, or off",
			field: func(c *Config) any { return &c.ControlSocket }, Default: "the runtime directory's control.sock"},
		Key{Name: "metrics_listen", Kind: KindString, Restart: true,
			Doc:   "serve Prometheus metrics on `IP:PORT`",
			field: func(c *Config) any { return &c.MetricsListen }, Default: "off"},
		Key{Name: "state_file", Kind: KindString,
			Doc:   "`file` that keeps the role chosen with 'imdsd use'",
			field: func(c *Config) any { return &c.StateFile }, Default: "in the state directory"},

		Key{Name: "sts_max_in_flight", Kind: KindInt, Restart: true,
			Doc:   "most STS calls (credential fetches) of all roles running at once",
			field: func(c *Config) any { return &c.STS.MaxInFlight }, Default: strconv.Itoa(roles.DefaultSTSMaxInFlight)},
		Key{Name: "sts_rate", Kind: KindInt, Restart: true,
			Doc:   "most STS calls of all roles started per second; STS throttling lowers it for a while",
			field: func(c *Config) any { return &c.STS.Rate }, Default: strconv.Itoa(roles.DefaultSTSRate)},
		Key{Name: "idle_after", Kind: KindDuration, Restart: true,
			Doc:   "stop refreshing a role no client asked for in this `duration` (never the default role); its next request then waits one STS round trip (at most 0.8 s). 0 is off",
			field: func(c *Config) any { return &c.STS.IdleAfter }, Default: "off"},

		Key{Name: "allowed_hosts", Kind: KindList, Restart: true,
			Doc:   "extra `Host` values to accept besides the metadata names and the listen addresses",
			field: func(c *Config) any { return &c.Security.AllowedHosts }},
		Key{Name: "hop_limit", Kind: KindInt, Restart: true,
			Doc:   "IP TTL / IPv6 hop `limit` of answers; 0 leaves the system default",
			field: func(c *Config) any { return &c.Security.HopLimit }},
		Key{Name: "rate_limit", Kind: KindInt, Restart: true,
			Doc:   "requests per second per client; 0 is off",
			field: func(c *Config) any { return &c.Security.RateLimit }},
		Key{Name: "rate_burst", Kind: KindInt, Restart: true,
			Doc:   "burst of the per-client rate limit",
			field: func(c *Config) any { return &c.Security.RateBurst }},
		Key{Name: "max_conns_per_client", Kind: KindInt, Restart: true,
			Doc:   "concurrent connections per client; 0 is no cap",
			field: func(c *Config) any { return &c.Security.MaxConnsPerClient }},
		Key{Name: "max_conns", Kind: KindInt, Restart: true,
			Doc:   "concurrent connections in all; past it the oldest idle one is closed; 0 is no cap",
			field: func(c *Config) any { return &c.Security.MaxConns }},
		Key{Name: "allow_uids", Kind: KindIDList,
			Doc:   "local `users` (uid or name) given the default role",
			field: func(c *Config) any { return &c.Security.Users.AllowUIDs }},
		Key{Name: "allow_groups", Kind: KindIDList,
			Doc:   "local `groups` (gid or name) whose members get the default role",
			field: func(c *Config) any { return &c.Security.Users.AllowGroups }},
		Key{Name: "user_roles", Kind: KindNested,
			Doc:    "a role per local user or group: [{user|group, role}], first match wins",
			field:  func(c *Config) any { return &c.Security.Users.UserRoles },
			decode: func(c *Config) func(*yaml.Node) error { return userRolesValue(&c.Security.Users.UserRoles) }},

		Key{Name: "units", Kind: KindNested,
			Doc:    "a role per systemd system unit: [{unit: NAME.service, role}], before user_roles",
			field:  func(c *Config) any { return &c.Security.Users.Units },
			decode: func(c *Config) func(*yaml.Node) error { return unitsValue(&c.Security.Users.Units) }},

		Key{Name: "roles", Kind: KindNested,
			Doc:    "named roles, each with its own STS session: {NAME: {role_arn|profile, ...}}",
			field:  func(c *Config) any { return &c.Roles },
			decode: func(c *Config) func(*yaml.Node) error { return rolesValue(&c.Roles) }},
		Key{Name: "clients", Kind: KindNested,
			Doc:    "rules giving callers a role: [{cidr|container_label|namespace|service_account, role}], first match wins",
			field:  func(c *Config) any { return &c.Clients },
			decode: func(c *Config) func(*yaml.Node) error { return clientsValue(&c.Clients) }},
		Key{Name: "containers", Kind: KindNested, Restart: true,
			Doc:    "containers on this host's bridges: {enabled, interfaces, cidrs, docker_socket, port, endpoint_port, default_role}",
			field:  func(c *Config) any { return &c.Containers },
			decode: func(c *Config) func(*yaml.Node) error { return containersValue(&c.Containers) }},
		Key{Name: "container_endpoint", Kind: KindNested, Restart: true,
			Doc:    "the loopback container credentials endpoint: {listen, token_file, token_group}",
			field:  func(c *Config) any { return &c.ContainerEndpoint },
			decode: func(c *Config) func(*yaml.Node) error { return containerEndpointValue(&c.ContainerEndpoint) }},
		Key{Name: "kubernetes", Kind: KindNested, Restart: true,
			Doc: "Kubernetes node agent: {enabled, node_name ($NODE_NAME), node_ip ($NODE_IP), port (9254), pod_identity_port (9255; 0: none), kubeconfig, base_role_arn, default_role, " +
				"namespace_restrictions (true), namespace_restriction_format (glob|regexp), session_per_pod (true), session_tags (true), " +
				"audience (pods.eks.amazonaws.com), wait (1s), grace (5m), prefetch_grace (10m), max_roles (256), " +
				"interfaces (cali+ cni0 veth+ eni+ lxc+), print_rules, profile, region, sts_endpoint, source_role}",
			field:  func(c *Config) any { return &c.Kubernetes },
			decode: func(c *Config) func(*yaml.Node) error { return kubernetesValue(&c.Kubernetes) }},
	)
}

// RoleKey is one key of a role: at the top of the file for the flat role,
// and under roles.NAME for a named one. Its Key says all but where the
// value lives, which is a field of roles.Def; Key.Restart here means the
// flat key is also read at start only (region names the instance
// identity's region too).
type RoleKey struct {
	Key
	// FlatOnly keys exist at the top of the file only.
	FlatOnly bool
	def      func(d *roles.Def) any
}

// RoleKeys returns the keys that define a role (roles.Def).
func RoleKeys() []RoleKey {
	return []RoleKey{
		{Key: Key{Name: "role_arn", Kind: KindString, Doc: "`ARN` of the IAM role to assume"},
			def: func(d *roles.Def) any { return &d.RoleARN }},
		{Key: Key{Name: "profile", Kind: KindString, Doc: "shared-config `profile` for source credentials, or one that names the role", Default: "$AWS_PROFILE"},
			def: func(d *roles.Def) any { return &d.Profile }},
		{Key: Key{Name: "region", Kind: KindString, Doc: "AWS `region` for STS and the instance metadata", Restart: true, Default: "the profile's, else us-east-1"},
			def: func(d *roles.Def) any { return &d.Region }},
		{Key: Key{Name: "sts_endpoint", Kind: KindString, Doc: "STS endpoint `URL` (VPC endpoint, FIPS, local STS)"},
			def: func(d *roles.Def) any { return &d.STSEndpoint }},
		{Key: Key{Name: "session_name", Kind: KindString, Doc: "role session `name`", Default: "imdsd-HOSTNAME"},
			def: func(d *roles.Def) any { return &d.SessionName }},
		{Key: Key{Name: "duration", Kind: KindDuration, Doc: "session `duration`, 15m to 12h", Default: "1h"},
			def: func(d *roles.Def) any { return &d.Duration }},
		{Key: Key{Name: "external_id", Kind: KindString, Doc: "external `ID` for AssumeRole", Secret: true},
			def: func(d *roles.Def) any { return &d.ExternalID }},
		{Key: Key{Name: "web_identity_token_file", Kind: KindString, Doc: "`file` of an OIDC token for AssumeRoleWithWebIdentity, read again at every refresh"},
			def: func(d *roles.Def) any { return &d.WebIdentityTokenFile }},
		{Key: Key{Name: "web_identity_token_command", Kind: KindString, Doc: "shell `command` whose output is an OIDC token for AssumeRoleWithWebIdentity, run at every refresh (30s timeout)"},
			def: func(d *roles.Def) any { return &d.WebIdentityTokenCommand }},
		{Key: Key{Name: "web_identity_github", Kind: KindBool, Doc: "get the OIDC token from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN) at every refresh"},
			def: func(d *roles.Def) any { return &d.WebIdentityGitHub }},
		{Key: Key{Name: "web_identity_audience", Kind: KindString, Doc: "`audience` asked of GitHub's OIDC endpoint", Default: roles.DefaultWebIdentityAudience},
			def: func(d *roles.Def) any { return &d.WebIdentityAudience }},
		{Key: Key{Name: "source_role", Kind: KindString, Doc: "`name` of another role of this config whose credentials assume this one (chaining: sessions of at most 1h)"},
			def: func(d *roles.Def) any { return &d.SourceRole }},
		{Key: Key{Name: "tags", Kind: KindTags, Doc: "session tags, `KEY=VALUE` as a flag (may repeat)"},
			def: func(d *roles.Def) any { return &d.Tags }},
		{Key: Key{Name: "transitive_tag_keys", Kind: KindSet, Doc: "session tag `keys` passed on to chained sessions"},
			def: func(d *roles.Def) any { return &d.TransitiveTagKeys }},
		{Key: Key{Name: "source_identity", Kind: KindString, Doc: "source `identity` for AssumeRole, kept through chaining"},
			def: func(d *roles.Def) any { return &d.SourceIdentity }},
		{Key: Key{Name: "policy_file", Kind: KindString, Doc: "`file` of an inline JSON session policy (at most 2,048 characters compacted), read again at every refresh"},
			def: func(d *roles.Def) any { return &d.PolicyFile }},
		{Key: Key{Name: "policy_arns", Kind: KindSet, Doc: "managed session policy `ARNs` (at most 10)"},
			def: func(d *roles.Def) any { return &d.PolicyARNs }},
		{Key: Key{Name: "trust_anchor_arn", Kind: KindString, Doc: "IAM Roles Anywhere trust anchor `ARN`: the role is assumed with an X.509 certificate (certificate, private_key, profile_arn)"},
			def: func(d *roles.Def) any { return &d.TrustAnchorARN }},
		{Key: Key{Name: "profile_arn", Kind: KindString, Doc: "IAM Roles Anywhere profile `ARN`, in the trust anchor's region"},
			def: func(d *roles.Def) any { return &d.ProfileARN }},
		{Key: Key{Name: "certificate", Kind: KindString, Doc: "Roles Anywhere certificate PEM `file`, read again at every refresh"},
			def: func(d *roles.Def) any { return &d.Certificate }},
		{Key: Key{Name: "certificate_chain", Kind: KindString, Doc: "PEM `file` of the certificate's intermediate CAs"},
			def: func(d *roles.Def) any { return &d.CertificateChain }},
		{Key: Key{Name: "private_key", Kind: KindString, Doc: "the certificate's private key PEM `file` (PKCS#8, PKCS#1 RSA or SEC1 EC; mode 0600, owned by root or the daemon's user), or a pkcs11: URI (token, object, module-path, pin-source)"},
			def: func(d *roles.Def) any { return &d.PrivateKey }},
		{Key: Key{Name: "rolesanywhere_endpoint", Kind: KindString, Doc: "Roles Anywhere CreateSession endpoint `URL`", Default: "https://rolesanywhere.REGION.amazonaws.com"},
			def: func(d *roles.Def) any { return &d.RolesAnywhereEndpoint }},
		{Key: Key{Name: "min_remaining", Kind: KindDuration, Doc: "least lifetime served credentials have"}, FlatOnly: true,
			def: func(d *roles.Def) any { return &d.MinRemaining }},
		{Key: Key{Name: "mfa_serial", Kind: KindString, Doc: "MFA device `ARN` of the source credentials; the role is assumed from an 'imdsd mfa' session"}, FlatOnly: true,
			def: func(d *roles.Def) any { return &d.MFASerial }},
		{Key: Key{Name: "mfa_session_duration", Kind: KindDuration, Doc: "how long one MFA code lasts, 15m to 36h", Default: "12h"}, FlatOnly: true,
			def: func(d *roles.Def) any { return &d.MFADuration }},
	}
}

// top is the flat role's key: the same key, its value in Config.Role.
func (rk RoleKey) top() Key {
	k := rk.Key
	k.field = func(c *Config) any { return rk.def(&c.Role) }
	return k
}

// secretNames returns the names of every secret key, at any depth.
func secretNames() map[string]bool {
	out := map[string]bool{}
	for _, k := range Keys() {
		if k.Secret {
			out[k.Name] = true
		}
	}
	for _, k := range RoleKeys() {
		if k.Secret {
			out[k.Name] = true
		}
	}
	return out
}

// keyDecoder returns the decoder of k's value into c.
func (k Key) keyDecoder(c *Config) func(*yaml.Node) error {
	if k.decode != nil {
		return k.decode(c)
	}
	return plainValue(k.Kind, k.field(c))
}

// plainValue returns the decoder of a plain kind into ptr.
func plainValue(kind Kind, ptr any) func(*yaml.Node) error {
	switch p := ptr.(type) {
	case *string:
		return stringValue(p)
	case *[]string:
		if kind == KindIDList {
			return idListValue(p)
		}
		return listValue(p)
	case *bool:
		return boolValue(p)
	case *int:
		return intValue(p)
	case *time.Duration:
		return durationValue(p)
	case *roles.Tags:
		return tagsValue(p)
	case *roles.List:
		return setValue(p)
	}
	panic("config: key of unknown type") // a bad table, caught by TestKeys_Table
}
