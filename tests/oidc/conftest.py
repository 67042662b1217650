"""Fixtures of the protocol tests (the relying party of tests/oidc/oidc_flow.py)."""

from oidc_flow import client_keys, rp  # noqa: F401  (fixtures)
