"""The LDAP directory the provider mirrors (docs/directory.md).

`config` reads the LDAP_* settings; `attributes` turns an entry into an account with the
presets' attribute maps; `source` talks to the server (ldap3: paged searches, binds, one
deadline per exchange); `entries` checks the entries and matches them with stored
accounts; `sync` plans and applies `idp directory sync`; `lock` keeps two syncs from
overlapping; `bind` checks a password by binding as the person.
"""
