"""Fixtures of the protocol tests (the relying party of tests/oidc/oidc_flow.py)."""

from oidc_flow import rp  # noqa: F401  (fixture)
