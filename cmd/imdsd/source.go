package main

import (
	"context"
	"fmt"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
)

// singleRole adapts one refresher to imds.Source: every caller gets the one
// role, as on an instance whose instance profile holds it.
func singleRole(role roles.Resolved, r *roles.Refresher) imds.Source {
	return imds.SourceFunc(func(context.Context, imds.Caller) (imds.Role, error) {
		out := imds.Role{Name: role.Name}
		creds, err := r.Credentials()
		if err != nil {
			out.Err = fmt.Errorf("role %s: %w", role.Name, err)
			return out, nil
		}
		account := creds.AccountID
		if account == "" {
			account = role.AccountID
		}
		out.Credentials = imds.Credentials{
			AccessKeyID:     creds.AccessKeyID,
			SecretAccessKey: creds.SecretAccessKey,
			SessionToken:    creds.SessionToken,
			Expires:         creds.Expires,
			LastUpdated:     r.Obtained(),
			AccountID:       account,
		}
		return out, nil
	})
}
