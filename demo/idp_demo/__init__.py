"""Demo data and the `idp demo` commands: development only, never needed by the provider.

The `demo` command group reaches `idp` through Flask's `flask.commands` entry point
(demo/pyproject.toml), so the provider itself never imports this package: an installed
provider without it has no `idp demo` command, and nothing else changes.
"""
