package roles

// The checks of a definition's source and AssumeRole parameters that need
// no network: which sources go together, and STS's limits on the
// parameters. config runs them for `config check` and at load; Resolve
// runs them again (with the policy file read), so no caller can skip them.

import (
	"errors"
	"fmt"
)

// Source combination errors, matched with errors.Is.
var (
	ErrSourceConflict     = errors.New("a role has one source: a profile (or the default chain), a web identity token, a Roles Anywhere certificate, or source_role")
	ErrSourceNeedsRoleARN = errors.New("needs role_arn: the role to assume with it")
	ErrNotForWebIdentity  = errors.New("AssumeRoleWithWebIdentity does not take it: session tags and the source identity come from the token's claims; set it on a role chained from this one (source_role)")
	ErrAudienceNoGitHub   = errors.New("only GitHub's OIDC endpoint is asked for an audience: set web_identity_github too, or drop it")
)

// KeyError is a bad key of a role's definition. Key names it as the file
// does (tags, source_role, or roles.NAME.source_role for a check across
// roles); Value is the bad value, "" when it is a secret or not one value.
type KeyError struct {
	Key, Value string
	Err        error
}

func (e *KeyError) Error() string {
	if e.Value == "" {
		return e.Key + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s: %q: %v", e.Key, e.Value, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// CheckSource checks that d names at most one source, with the role ARN
// and parameters that source takes, and that its AssumeRole parameters
// are within STS's limits. It reads no file.
func (d Def) CheckSource() error {
	bad := func(key, value string, err error) error { return &KeyError{Key: key, Value: value, Err: err} }
	web := d.IsWebIdentity()
	if web {
		if _, err := tokenSourceOf(d); err != nil {
			return bad(KeyWebIdentityTokenFile, "", fmt.Errorf("%v: %w", err, ErrSourceConflict))
		}
	}
	switch {
	case web && d.Profile != "":
		return bad("profile", d.Profile, ErrSourceConflict)
	case d.SourceRole != "" && (d.Profile != "" || web):
		return bad("source_role", d.SourceRole, ErrSourceConflict)
	case d.TrustAnchorARN != "" && web:
		return bad("trust_anchor_arn", d.TrustAnchorARN, ErrSourceConflict)
	case d.TrustAnchorARN != "" && d.SourceRole != "":
		return bad("source_role", d.SourceRole, ErrSourceConflict)
	case (web || d.SourceRole != "") && d.RoleARN == "":
		return bad("role_arn", "", ErrSourceNeedsRoleARN)
	case d.WebIdentityAudience != "" && !d.WebIdentityGitHub:
		return bad("web_identity_audience", d.WebIdentityAudience, ErrAudienceNoGitHub)
	case web && d.Tags != "":
		return bad("tags", "", ErrNotForWebIdentity)
	case web && d.TransitiveTagKeys != "":
		return bad("transitive_tag_keys", "", ErrNotForWebIdentity)
	case web && d.SourceIdentity != "":
		return bad("source_identity", d.SourceIdentity, ErrNotForWebIdentity)
	case web && d.ExternalID != "":
		return bad("external_id", "", ErrNotForWebIdentity)
	}
	if err := d.Tags.Validate(); err != nil {
		return bad("tags", "", err)
	}
	if err := ValidateTransitiveTagKeys(d.TransitiveTagKeys, d.Tags); err != nil {
		return bad("transitive_tag_keys", "", err)
	}
	if d.SourceIdentity != "" {
		if err := ValidateSourceIdentity(d.SourceIdentity); err != nil {
			return bad("source_identity", "", err)
		}
	}
	if err := ValidatePolicyARNs(d.PolicyARNs); err != nil {
		return bad("policy_arns", "", err)
	}
	return nil
}

// checkSpec is Resolve's check: CheckSource and the policy file read. A
// named role's keys are named under roles.NAME.
func (d Def) checkSpec() error {
	err := d.CheckSource()
	if err == nil {
		_, err = d.readPolicy()
	}
	var ke *KeyError
	if errors.As(err, &ke) && d.Name != "" {
		return &KeyError{Key: "roles." + d.Name + "." + ke.Key, Value: ke.Value, Err: ke.Err}
	}
	return err
}
