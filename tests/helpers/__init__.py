"""Code the tests share: plain functions and classes, imported as `helpers.<module>`
(pyproject.toml puts tests/ on the path). Fixtures stay in the conftest.py files.

- apps: the test settings, migrated databases (PostgreSQL template copies), app_on
- ci: what a test needs from the machine, skipped without it (failed in CI)
- people: the person make_user makes unless told otherwise
- pages: CSRF tokens, signing in and out with the test client, AuthActions (`auth`)
- clients: client rows, initial access tokens, dynamic registration, JSON errors
- oidc_flow: the protocol tests' relying party (RelyingParty, ClientKeys, basic, pkce_pair)
- logout_flow: end_session, the logout outbox, a relying party's logout-token checks
- session_flow: signed-in browsers, relying parties opened with the SSO session, aging
- throttle: browsers at client addresses, the sign-in steps in-process, delays ended
- receiver: a relying party's back-channel logout endpoint on 127.0.0.1
- hostile_peers: servers the provider calls out to, hostile ones; the provider under attack
- live: real servers and subprocesses on 127.0.0.1 (LiveIdp, NodeRP, Server, idp_serve)
- apache: Apache httpd with mod_auth_openidc as a relying party
- national_portal: the national public-service portal's stand-in (tests/upstreams/
  national_portal, oidc-provider in Node.js) and our provider brokering it (start_brokered)
- clock, db, csvimport, cli, logs: clocks moved by hand, rows counted or moved back, the
  directory imports, command errors, caplog's `idp` records
"""
