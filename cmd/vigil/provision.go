package main

import (
	"fmt"

	"github.com/vigilaudit/vigil/contentapi"
	"github.com/vigilaudit/vigil/contentapi/ldapauth"
)

// signInAuthorities are the external authorities that content.ldap and
// content.oidc configure (after SetDefaults and Validate); nil for an
// absent section. Neither reaches its server before the first sign-in.
func signInAuthorities(c ContentConfig) (contentapi.Directory, *contentapi.OIDC, error) {
	var (
		dir  contentapi.Directory
		oidc *contentapi.OIDC
	)
	if c.LDAP != nil {
		d, err := ldapauth.New(*c.LDAP)
		if err != nil {
			return nil, nil, fmt.Errorf("content.ldap: %w", err)
		}
		dir = d
	}
	if c.OIDC != nil {
		oidc = contentapi.NewOIDC(*c.OIDC, nil)
	}
	return dir, oidc, nil
}
