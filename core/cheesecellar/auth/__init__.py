"""Authentication and authorisation: passwords, tokens, identities, principals, ACLs."""
