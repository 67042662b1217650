"""The sync speaks TLS to the LDAP server: StartTLS on ldap://, or LDAPS, checking the
server's certificate against IDP_LDAP_CA_FILE (a provincial CA) or the system's."""

from __future__ import annotations

import pytest
from helpers.hostile_peers import tls_certificates
from helpers.slapd import LdapTree, people, start_slapd


@pytest.fixture(scope="module")
def tls_slapd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slapd-tls")
    ca_file, _context = tls_certificates(folder)
    server = start_slapd(folder / "server", tls=str(folder / "server.pem"))
    yield server, ca_file
    server.stop()


@pytest.fixture
def units(make_unit):
    for code in ("STC", "SNV", "SYT", "VT"):
        make_unit(code)
    make_unit("VT-PTP", parent="VT", kind="office")


def run(app, **settings):
    app.config.update(settings)
    return app.test_cli_runner().invoke(args=["directory", "sync"])


def test_start_tls_and_ldaps_with_the_provincial_ca(app, tls_slapd, units):
    server, ca_file = tls_slapd
    tree = LdapTree.load(server, people(20))
    base = tree.settings(LDAP_CA_FILE=ca_file)
    start_tls = run(
        app,
        **{**base, "LDAP_URL": f"ldap://localhost:{server.port}", "LDAP_START_TLS": True},
    )
    assert start_tls.exit_code == 0, start_tls.output
    ldaps = run(app, **{**base, "LDAP_URL": f"ldaps://localhost:{server.tls_port}"})
    assert ldaps.exit_code == 0, ldaps.output
    assert "Nothing changed" in ldaps.stdout


def test_a_certificate_the_ca_did_not_sign_or_another_name_is_refused(app, tls_slapd, units):
    server, ca_file = tls_slapd
    tree = LdapTree.load(server, people(5))
    # Without the provincial CA (the system's CAs do not know it).
    unknown = run(app, **tree.settings(LDAP_URL=f"ldaps://localhost:{server.tls_port}"))
    assert unknown.exit_code == 1 and "nothing was written" in unknown.stderr
    # The certificate names localhost, not 127.0.0.1.
    wrong_name = run(
        app,
        **tree.settings(LDAP_URL=f"ldaps://127.0.0.1:{server.tls_port}", LDAP_CA_FILE=ca_file),
    )
    assert wrong_name.exit_code == 1, wrong_name.output
    assert "unable to get local issuer certificate" in unknown.stderr
    assert "IP address mismatch, certificate is not valid for 127.0.0.1" in wrong_name.stderr
