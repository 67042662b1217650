"""Who commits: the entry points (views, commands, the worker), never the code they call.

A service or store that committed would end its caller's transaction half-way: what the
caller writes after it could then fail and leave the first half stored. This test reads
every module of idp/ and refuses a commit (`x.commit()`, `commit()` or `transaction()` of
idp.extensions, `engine.begin()`) outside the modules that own transactions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

IDP = Path(__file__).resolve().parents[1] / "idp"

# Besides every views.py and cli.py (request views and commands), with the reason.
OWNERS = {
    "idp/cli.py": "the `idp` command line",
    "idp/extensions.py": "defines commit(), transaction() and own_transaction()",
    "idp/sessions/worker.py": "`idp worker`, and deliveries right after a sign-out",
    "idp/mail/worker.py": "the mail job of `idp worker` (and of `idp mail send-test`)",
    "idp/oidc/authorize.py": "the authorization endpoint's view",
    "idp/oidc/logout.py": "the end_session endpoint's view",
    "idp/oidc/registration.py": "the views of the registration endpoints (RFC 7591, 7592)",
    "idp/admin/console.py": "the console's frame: a refusal's audit event (admin.denied)",
    "idp/admin/people.py": "the console's people pages and actions",
    "idp/admin/api/auth.py": "the admin API's refusals' audit events (admin.denied)",
    "idp/admin/api/resources/people.py": "the admin API's actions on a person",
    "idp/admin/units.py": "the console's units pages and changes",
    "idp/admin/api/resources/unit_changes.py": "the admin API's changes to units",
    "idp/admin/api/resources/clients.py": "the admin API's changes to applications",
    "idp/admin/api/resources/deliveries.py": "the admin API's retries of deliveries",
    "idp/admin/api/resources/keys.py": "the admin API's key rotation",
    "idp/admin/clients_pages.py": "the console's applications pages",
    "idp/admin/deliveries_pages.py": "the console's deliveries pages (retry now)",
    "idp/admin/keys_pages.py": "the console's keys page (rotate)",
    "idp/admin/tokens_pages.py": "the console's registration tokens pages",
    "idp/upstreams/link_views.py": "the views of linking an upstream identity",
    "idp/upstreams/signout.py": "the views of signing out with upstreams (back-channel logout)",
}
COMMITTING_NAMES = {"commit", "transaction"}


def _is_owner(relative: str) -> bool:
    return relative in OWNERS or relative.endswith(("/views.py", "/cli.py"))


def _commits(tree: ast.AST) -> list[tuple[int, str]]:
    """Line and text of every call that commits."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "idp.extensions":
            imported |= {alias.asname or alias.name for alias in node.names} & COMMITTING_NAMES
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "commit":
            found.append((node.lineno, ast.unparse(func)))
        elif isinstance(func, ast.Attribute) and func.attr == "begin":
            if "engine" in ast.unparse(func.value):
                found.append((node.lineno, ast.unparse(func)))
        elif isinstance(func, ast.Name) and func.id in imported:
            found.append((node.lineno, func.id))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in IDP.rglob("*.py") if "migrations" not in p.parts)


def test_only_entry_points_commit():
    offenders = []
    for path in _modules():
        relative = path.relative_to(IDP.parent).as_posix()
        if _is_owner(relative):
            continue
        for line, text in _commits(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{relative}:{line}: {text}()")
    assert not offenders, (
        "services and stores must not commit; let the view or command that called them do it:\n"
        + "\n".join(offenders)
    )


@pytest.mark.parametrize(
    "source",
    [
        "from idp.extensions import db\ndef f():\n    db.session.commit()\n",
        "from idp.extensions import commit\ndef f():\n    commit()\n",
        "from idp.extensions import transaction\ndef f():\n    with transaction():\n        pass\n",
        "from idp.extensions import db\ndef f():\n    with db.engine.begin() as c:\n        pass\n",
    ],
)
def test_the_check_sees_every_way_of_committing(source):
    assert _commits(ast.parse(source))


def test_the_check_lets_a_flush_or_a_transaction_of_its_own_pass():
    source = (
        "from idp.extensions import db, own_transaction\n"
        "def f():\n    db.session.flush()\n    with own_transaction() as s:\n        pass\n"
    )
    assert not _commits(ast.parse(source))


def test_every_listed_owner_exists():
    missing = [name for name in OWNERS if not (IDP.parent / name).exists()]
    assert not missing, f"remove from OWNERS: {missing}"
