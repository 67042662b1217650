"""ldap3 is imported only when LDAP is used: not at every `idp` start or application start
(it takes about 145 ms, and most installations have no LDAP directory)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_starting_the_application_and_the_command_does_not_import_ldap3(sqlite_url):
    probe = (
        "import sys\n"
        "from idp import create_app\n"
        "import idp.cli\n"
        "create_app()\n"
        "from idp.directory.ldap import attributes, bind, source, sync\n"
        "assert 'ldap3' not in sys.modules, 'ldap3 imported at start'\n"
        "attributes.ou_path('uid=a,ou=VT,dc=example,dc=vn', 'dc=example,dc=vn')\n"
        "assert 'ldap3' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "IDP_DATABASE_URL": sqlite_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
