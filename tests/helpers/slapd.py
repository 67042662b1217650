"""A real OpenLDAP server (Debian's slapd) on loopback, and directories to load into it.

`Slapd` writes a slapd.conf into a temporary folder (mdb database, the ppolicy overlay for
`pwdAccountLockedTime`, a small schema with the Zimbra attributes the sync reads), starts
slapd in the foreground on a free port of 127.0.0.1 and stops it afterwards. Entries are
loaded with Debian's ldapadd. Each test loads its own subtree (`o=<name>`), so tests share
one server and never see each other's entries.

The server answers a bind with a DN and an empty password as an anonymous success
(`allow bind_anon_dn`, RFC 4513 5.1.2), as Active Directory and older OpenLDAP set-ups do:
the tests show the provider never sends one.

`province_ldif` writes a directory the way the mail systems hold one: people in units that
are organisational units, Vietnamese names whose diacritics arrive composed (NFC) for some
entries and decomposed (NFD) for others, aliases, locked accounts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import unicodedata
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

from helpers.ci import unavailable

SLAPD = "/usr/sbin/slapd"
LDAPADD = shutil.which("ldapadd") or "/usr/bin/ldapadd"
ROOT = "dc=haugiang,dc=gov,dc=vn"
ROOT_DN = f"cn=admin,{ROOT}"
ROOT_PASSWORD = "admin-secret-2026"
SERVICE_DN = f"cn=sync,{ROOT}"
SERVICE_PASSWORD = "sync-secret-2026"
# The password of every person in the loaded directories (bind pass-through).
PERSON_PASSWORD = "HauGiang@ThuDienTu2026"

ZIMBRA_SCHEMA = """\
attributetype ( 1.3.6.1.4.1.99999.19348.1.1 NAME 'zimbraMailAlias'
  EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )
attributetype ( 1.3.6.1.4.1.99999.19348.1.2 NAME 'zimbraAccountStatus'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.19348.2.1 NAME 'zimbraAccount' SUP top AUXILIARY
  MAY ( zimbraMailAlias $ zimbraAccountStatus ) )
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slapd_missing() -> str | None:
    if not os.path.exists(SLAPD) or not os.path.exists(LDAPADD):
        return "slapd and ldap-utils are not installed (apt-get install slapd ldap-utils)"
    return None


class Slapd:
    """slapd on 127.0.0.1; with `tls` (a PEM holding certificate and key, from
    helpers.hostile_peers.tls_certificates) it also offers StartTLS, and LDAPS on
    `tls_port`."""

    def __init__(self, folder: Path, tls: str | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.process: subprocess.Popen | None = None

    def _write_config(self) -> Path:
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        (self.folder / "zimbra.schema").write_text(ZIMBRA_SCHEMA)
        conf = self.folder / "slapd.conf"
        tls = (
            f"TLSCertificateFile {self.tls}\nTLSCertificateKeyFile {self.tls}\n" if self.tls else ""
        )
        conf.write_text(
            tls
            + f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {self.folder}/zimbra.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {self.folder}/slapd.pid
argsfile {self.folder}/slapd.args
sizelimit unlimited
allow bind_anon_dn
database mdb
maxsize 1073741824
suffix "{ROOT}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {data}
index objectClass eq
index entryUUID eq
index mail eq
overlay ppolicy
access to attrs=userPassword
  by dn.exact="{SERVICE_DN}" read
  by anonymous auth
  by * none
access to *
  by * read
"""
        )
        return conf

    def start(self) -> None:
        conf = self._write_config() if self.process is None else self.folder / "slapd.conf"
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", str(conf), "-h", self.listen()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd stopped: " + self.process.stderr.read().decode()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("slapd did not start listening")
        if not (self.folder / "root-loaded").exists():
            self.add(
                f"dn: {ROOT}\nobjectClass: dcObject\nobjectClass: organization\n"
                f"dc: haugiang\no: Hau Giang\n\n"
                f"dn: {SERVICE_DN}\nobjectClass: person\nobjectClass: simpleSecurityObject\n"
                f"cn: sync\nsn: sync\nuserPassword: {SERVICE_PASSWORD}\n"
            )
            (self.folder / "root-loaded").touch()

    def listen(self) -> str:
        urls = [self.url + "/"]
        if self.tls_port:
            urls.append(f"ldaps://127.0.0.1:{self.tls_port}/")
        return " ".join(urls)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()

    def add(self, ldif: str) -> None:
        path = self.folder / f"add-{time.monotonic_ns()}.ldif"
        path.write_text(ldif, encoding="utf-8")
        self.ldap("ldapadd", "-f", str(path))
        path.unlink()

    def modify(self, ldif: str) -> None:
        path = self.folder / f"modify-{time.monotonic_ns()}.ldif"
        path.write_text(ldif, encoding="utf-8")
        self.ldap("ldapmodify", "-f", str(path))
        path.unlink()

    def ldap(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr.strip()[-2000:]}")


def start_slapd(folder: Path, tls: str | None = None) -> Slapd:
    """A started slapd, or the test skipped (failed under CI=true) when it is missing."""
    reason = slapd_missing()
    if reason:
        unavailable(reason)
    server = Slapd(folder, tls)
    server.start()
    return server


# -- directories ---------------------------------------------------------------------------

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Hữu", "Thu", "Quốc", "Thanh"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Hằng", "Khoa", "Lộc", "Nhung", "Phúc", "Thư", "Yến"]
TITLES = ["Chuyên viên", "Phó Trưởng phòng", "Trưởng phòng", "Cán bộ"]
# (OU path below the subtree, unit code the test database has): the last one's OU path is
# mapped through LDAP_UNIT_MAP, the others' nearest OU is the code itself.
UNITS = [("STC", "STC"), ("SNV", "SNV"), ("SYT", "SYT"), ("VT", "VT"), ("VT/PTP", "VT-PTP")]
UNIT_MAP = {"VT/PTP": "VT-PTP"}
DOMAIN = "haugiang.gov.vn"


@dataclass
class Person:
    uid: str
    name: str
    mail: str
    unit_path: str
    aliases: list[str] = field(default_factory=list)
    locked: bool = False
    phone: str | None = None
    title: str | None = None
    nfd: bool = False
    # The entry's userPassword (a hash, as a mail system stores it); None: PERSON_PASSWORD.
    user_password: str | None = None


def people(count: int, units: list[tuple[str, str]] | None = None) -> list[Person]:
    """`count` people spread over the units, generated the same way every time."""
    units = units or UNITS
    result = []
    for i in range(count):
        path, code = units[i % len(units)]
        name = f"{FAMILY[i % 10]} {MIDDLE[(i // 10) % 8]} {GIVEN[i % 11]}"
        uid = f"u{i:05d}"
        result.append(
            Person(
                uid=uid,
                name=name,
                mail=f"{uid}.{code.lower()}@{DOMAIN}",
                unit_path=path,
                aliases=[f"{uid}.alias@{DOMAIN}"] if i % 7 == 3 else [],
                locked=i % 25 == 24,
                phone=f"+84 293 38{i:05d}" if i % 3 else None,
                title=TITLES[i % 4] if i % 2 else None,
                nfd=i % 2 == 1,
            )
        )
    return result


def _value(name: str, value: str) -> str:
    """An LDIF line; non-ASCII values base64 (RFC 2849), bytes as given (NFC or NFD)."""
    if value.isascii():
        return f"{name}: {value}\n"
    return f"{name}:: {b64encode(value.encode('utf-8')).decode()}\n"


def ou_dn(path: str, base: str) -> str:
    return ",".join(f"ou={part}" for part in reversed(path.split("/"))) + "," + base


def person_dn(person: Person, base: str) -> str:
    return f"uid={person.uid},{ou_dn(person.unit_path, base)}"


def person_ldif(person: Person, base: str, flavour: str) -> str:
    name = unicodedata.normalize("NFD" if person.nfd else "NFC", person.name)
    words = name.split()
    lines = [
        f"dn: {person_dn(person, base)}\n",
        "objectClass: inetOrgPerson\n",
        f"uid: {person.uid}\n",
        _value("cn", name),
        _value("sn", words[0]),
        _value("givenName", " ".join(words[1:])),
        f"mail: {person.mail}\n",
        _value("userPassword", person.user_password or PERSON_PASSWORD),
    ]
    if person.phone:
        lines.append(f"telephoneNumber: {person.phone}\n")
    if person.title:
        lines.append(_value("title", person.title))
    if flavour == "zimbra":
        lines.append("objectClass: zimbraAccount\n")
        lines.append(_value("displayName", name))
        lines.append(f"zimbraAccountStatus: {'locked' if person.locked else 'active'}\n")
        lines.extend(f"zimbraMailAlias: {a}\n" for a in person.aliases)
    else:
        lines.extend(f"mail: {a}\n" for a in person.aliases)
        if person.locked:
            lines.append("pwdAccountLockedTime: 000001010000Z\n")
    return "".join(lines) + "\n"


def province_ldif(base: str, persons: list[Person], flavour: str = "openldap") -> str:
    """The subtree `base` (an `o=` entry under the root), its OUs and its people."""
    name = base.split(",", 1)[0].split("=", 1)[1]
    parts = [f"dn: {base}\nobjectClass: organization\no: {name}\n\n"]
    paths = sorted({p.unit_path for p in persons} | {u for u, _ in UNITS}, key=len)
    for path in paths:
        parts.append(
            f"dn: {ou_dn(path, base)}\nobjectClass: organizationalUnit\n"
            f"ou: {path.split('/')[-1]}\n\n"
        )
    parts.extend(person_ldif(p, base, flavour) for p in persons)
    return "".join(parts)


_trees = iter(range(1, 1_000_000))


@dataclass
class LdapTree:
    """A subtree of its own in a running slapd, loaded with `persons`, and the settings
    that point the provider at it."""

    server: Slapd
    base: str
    persons: list[Person]
    flavour: str = "openldap"

    @classmethod
    def load(cls, server: Slapd, persons: list[Person], flavour: str = "openldap") -> LdapTree:
        base = f"o=t{next(_trees)}x{os.getpid()},{ROOT}"
        server.add(province_ldif(base, persons, flavour))
        return cls(server, base, persons, flavour)

    def settings(self, **more: object) -> dict[str, object]:
        return {
            "LDAP_URL": self.server.url,
            "LDAP_START_TLS": False,
            "LDAP_BIND_DN": SERVICE_DN,
            "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
            "LDAP_BASE_DN": self.base,
            "LDAP_PRESET": self.flavour,
            "LDAP_UNIT_MAP": UNIT_MAP,
            "LDAP_TIMEOUT_SECONDS": 5,
            **more,
        }

    def dn(self, person: Person) -> str:
        return person_dn(person, self.base)
