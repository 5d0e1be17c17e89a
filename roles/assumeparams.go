package roles

// AssumeRole's optional parameters (issue 18): session tags, transitive tag
// keys, source identity and a session policy (an inline JSON file and
// managed policy ARNs). Def keeps the maps and lists as canonical strings
// (Tags, List) so that it stays comparable with ==.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// Limits of STS's AssumeRole parameters (AWS STS API reference,
// AssumeRole; IAM and STS character limits).
const (
	MaxSessionTags    = 50
	MaxTagKeyChars    = 128
	MaxTagValueChars  = 256
	MaxPolicyARNs     = 10
	MaxPolicyChars    = 2048
	minSourceIdentity = 2
	maxSourceIdentity = 64
)

// Validation errors of the AssumeRole parameters, matched with errors.Is.
var (
	ErrInvalidTags           = errors.New("session tags: at most 50, keys 1-128 and values 0-256 characters of letters, digits, spaces and _.:/=+-@")
	ErrInvalidTransitiveKeys = errors.New("transitive tag keys must each be a key of tags")
	ErrInvalidSourceIdentity = errors.New("source identity must be 2-64 characters of [A-Za-z0-9_+=,.@-]")
	ErrInvalidPolicyARN      = errors.New("not an IAM policy ARN (want arn:aws:iam::123456789012:policy/NAME or arn:aws:iam::aws:policy/NAME), at most 10")
	ErrInvalidPolicy         = errors.New("session policy file must hold one JSON object")
	ErrPolicyTooLong         = errors.New("session policy is over STS's 2,048-character limit (counted on the policy with its insignificant whitespace removed)")
)

var (
	tagTextPattern        = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	sourceIdentityPattern = regexp.MustCompile(`^[\w+=,.@-]+$`)
	policyARNPattern      = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$`)
)

// Tags are session tags in a canonical, comparable form: the JSON object
// of the key/value pairs with its keys sorted (encoding/json sorts map
// keys), "" for none. Build one with NewTags; two maps with the same pairs
// give equal Tags, so a reload sees a change exactly when a pair changed.
type Tags string

// NewTags returns the canonical Tags of m; nil or empty m gives "".
func NewTags(m map[string]string) Tags {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("roles: marshal map[string]string: " + err.Error()) // cannot happen
	}
	return Tags(b)
}

// Map returns the pairs of t; nil for "". A Tags not made by NewTags that
// does not decode gives nil, which Validate reports.
func (t Tags) Map() map[string]string {
	if t == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(t), &m); err != nil {
		return nil
	}
	return m
}

// Keys returns the tag keys in sorted order.
func (t Tags) Keys() []string { return slices.Sorted(maps.Keys(t.Map())) }

// String returns the canonical JSON form.
func (t Tags) String() string { return string(t) }

// Validate checks t against STS's limits.
func (t Tags) Validate() error {
	if t == "" {
		return nil
	}
	m := t.Map()
	if m == nil {
		return fmt.Errorf("not a mapping of strings: %w", ErrInvalidTags)
	}
	if len(m) > MaxSessionTags {
		return fmt.Errorf("%d tags: %w", len(m), ErrInvalidTags)
	}
	for _, k := range t.Keys() {
		v := m[k]
		if n := utf8.RuneCountInString(k); n < 1 || n > MaxTagKeyChars || !tagTextPattern.MatchString(k) {
			return fmt.Errorf("key %q: %w", k, ErrInvalidTags)
		}
		if utf8.RuneCountInString(v) > MaxTagValueChars || !tagTextPattern.MatchString(v) {
			return fmt.Errorf("value of %q: %w", k, ErrInvalidTags)
		}
	}
	return nil
}

// sts returns t as STS session tags, in key order.
func (t Tags) sts() []types.Tag {
	m := t.Map()
	out := make([]types.Tag, 0, len(m))
	for _, k := range t.Keys() {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// List is a set of strings in a canonical, comparable form: the JSON array
// of its items sorted with duplicates dropped, "" for none. Build one with
// NewList.
type List string

// NewList returns the canonical List of items; no items gives "".
func NewList(items []string) List {
	if len(items) == 0 {
		return ""
	}
	s := slices.Clone(items)
	slices.Sort(s)
	s = slices.Compact(s)
	b, err := json.Marshal(s)
	if err != nil {
		panic("roles: marshal []string: " + err.Error()) // cannot happen
	}
	return List(b)
}

// Items returns the items of l, sorted; nil for "".
func (l List) Items() []string {
	if l == "" {
		return nil
	}
	var s []string
	if err := json.Unmarshal([]byte(l), &s); err != nil {
		return nil
	}
	return s
}

// String returns the canonical JSON form.
func (l List) String() string { return string(l) }

// ValidateSourceIdentity checks an STS source identity.
func ValidateSourceIdentity(s string) error {
	if n := len(s); n < minSourceIdentity || n > maxSourceIdentity || !sourceIdentityPattern.MatchString(s) {
		return fmt.Errorf("%q: %w", s, ErrInvalidSourceIdentity)
	}
	return nil
}

// ValidatePolicyARNs checks managed session policy ARNs.
func ValidatePolicyARNs(l List) error {
	items := l.Items()
	if len(items) > MaxPolicyARNs {
		return fmt.Errorf("%d policies: %w", len(items), ErrInvalidPolicyARN)
	}
	for _, a := range items {
		if !policyARNPattern.MatchString(a) {
			return fmt.Errorf("%q: %w", a, ErrInvalidPolicyARN)
		}
	}
	return nil
}

// ValidateTransitiveTagKeys checks that every transitive key is a key of
// tags, as STS requires.
func ValidateTransitiveTagKeys(keys List, tags Tags) error {
	m := tags.Map()
	for _, k := range keys.Items() {
		if _, ok := m[k]; !ok {
			return fmt.Errorf("%q: %w", k, ErrInvalidTransitiveKeys)
		}
	}
	return nil
}

// ReadPolicy reads a session policy file and returns it compacted: the
// file must hold one JSON object, and the compacted text (insignificant
// whitespace removed, which is what is sent) must be at most
// MaxPolicyChars characters. STS has a second limit imdsd cannot check:
// the packed (compressed, binary) size of the policy and the session tags
// together, reported by STS as PackedPolicyTooLarge.
func ReadPolicy(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read session policy: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return "", fmt.Errorf("session policy %s: %v: %w", path, err, ErrInvalidPolicy)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return "", fmt.Errorf("session policy %s: %v: %w", path, err, ErrInvalidPolicy)
	}
	if n := utf8.RuneCount(buf.Bytes()); n > MaxPolicyChars {
		return "", fmt.Errorf("session policy %s: %d characters: %w", path, n, ErrPolicyTooLong)
	}
	return buf.String(), nil
}

// policyARNs returns l as STS policy descriptors.
func policyARNs(l List) []types.PolicyDescriptorType {
	var out []types.PolicyDescriptorType
	for _, a := range l.Items() {
		out = append(out, types.PolicyDescriptorType{Arn: aws.String(a)})
	}
	return out
}

// applyParams sets d's AssumeRole parameters on o; policy is the session
// policy read for this call ("" for none).
func applyParams(o *stscreds.AssumeRoleOptions, d Def, policy string) {
	if d.Tags != "" {
		o.Tags = d.Tags.sts()
	}
	o.TransitiveTagKeys = d.TransitiveTagKeys.Items()
	if d.SourceIdentity != "" {
		o.SourceIdentity = aws.String(d.SourceIdentity)
	}
	if policy != "" {
		o.Policy = aws.String(policy)
	}
	o.PolicyARNs = policyARNs(d.PolicyARNs)
}

// readPolicy reads d's policy file, "" when it names none.
func (d Def) readPolicy() (string, error) {
	if d.PolicyFile == "" {
		return "", nil
	}
	p, err := ReadPolicy(d.PolicyFile)
	if err != nil {
		return "", &KeyError{Key: "policy_file", Err: err}
	}
	return p, nil
}

// assumeFetcher assumes spec's role with client at each fetch. The
// stscreds provider is built per fetch, which costs nothing, so that the
// session policy file is read again each time.
func assumeFetcher(client stscreds.AssumeRoleAPIClient, spec Spec, mfaSerial string) Fetcher {
	opts := assumeOptions(spec, mfaSerial)
	return FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
		policy, err := spec.readPolicy()
		if err != nil {
			return aws.Credentials{}, err
		}
		p := stscreds.NewAssumeRoleProvider(client, spec.RoleARN, opts, func(o *stscreds.AssumeRoleOptions) {
			applyParams(o, spec.Def, policy)
		})
		// Called directly, never through aws.CredentialsCache, so Expires
		// is STS's own Expiration.
		return p.Retrieve(ctx)
	})
}
