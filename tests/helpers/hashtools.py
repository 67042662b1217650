"""Password hashes made the way mail systems make them, by their own tools at test time:
OpenLDAP's slappasswd, OpenSSL's crypt, Apache's htpasswd. Missing tools skip the test,
except under CI=true (.ci/run installs ldap-utils/slapd, openssl and apache2-utils)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess

from helpers.ci import unavailable

# OpenLDAP's SHA-2 module, shipped with Debian's slapd: {SSHA256}, {SSHA512}.
PW_SHA2 = "/usr/lib/ldap/pw-sha2.so"


def _run(*command: str) -> str:
    if shutil.which(command[0]) is None:
        unavailable(f"{command[0]} is not installed")
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return result.stdout.strip()


def slappasswd(password: str, scheme: str = "{SSHA}") -> str:
    extra: list[str] = []
    if scheme in ("{SSHA256}", "{SSHA512}"):
        if not os.path.exists(PW_SHA2):
            unavailable(f"OpenLDAP's pw-sha2 module ({PW_SHA2}) is not installed")
        extra = ["-o", "module-load=pw-sha2"]
    return _run("slappasswd", *extra, "-h", scheme, "-s", password)


def slappasswd_crypt(password: str, prefix: str = "$6$") -> str:
    """{CRYPT}$6$... as OpenLDAP writes it with password-crypt-salt-format."""
    return _run("slappasswd", "-h", "{CRYPT}", "-c", prefix + "%.16s", "-s", password)


def openssl_crypt(password: str, variant: str = "-6") -> str:
    return _run("openssl", "passwd", variant, password)


def htpasswd_bcrypt(password: str) -> str:
    line = _run("htpasswd", "-nbB", "user", password)
    return line.split(":", 1)[1]


def ldap_pbkdf2_sha512(password: str, salt: bytes = b"0123456789abcdef", rounds: int = 10000):
    """{PBKDF2-SHA512} in the form of OpenLDAP's pw-pbkdf2 module (iterations$salt$dk, each in
    adapted base64: '.' for '+', no padding), computed with hashlib, not with libpass."""
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)

    def ab64(data: bytes) -> str:
        return base64.b64encode(data).decode().rstrip("=").replace("+", ".")

    return f"{{PBKDF2-SHA512}}{rounds}${ab64(salt)}${ab64(dk)}"
