"""Server-side request forgery through the provider's outbound calls (issue 8, finding 3).

A client registers a `jwks_uri` (or a `backchannel_logout_uri`) and the provider fetches
it. An attacker who can register a client points it at the cloud metadata service, at
the provider's own loopback services or at the province's internal network: directly, by
a redirect, by a host name that resolves there, or by an IPv6 form of such an address.
Every outbound call goes through idp.outbound, which refuses all of these; the tests call
it directly with many forms, and through the token endpoint with real servers.
"""

from __future__ import annotations

import time

import pytest
from helpers.hostile_peers import (
    Peer,
    add_client,
    answer,
    assertion_form,
    huge_body,
    huge_headers,
    new_key,
    redirect,
    tls_certificates,
)
from helpers.hostile_peers import jwks as serve_jwks

# ---------------------------------------------------------------- which addresses


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "100.127.255.254",
        "0.0.0.0",  # "this host": Linux connects it to loopback
        "0.1.2.3",
        "192.0.0.1",
        "192.0.2.1",
        "192.88.99.1",  # 6to4 relay anycast
        "198.18.0.1",
        "198.51.100.1",
        "203.0.113.1",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1%eth0",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fec0::1",  # site-local
        "ff02::1",  # multicast
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "::ffff:0:7f00:1",  # IPv4-translated
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 prefix (RFC 8215)
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "2001:db8::1",  # documentation
        "3fff::1",
        "100::1",  # discard
        "5f00::1",
        "not-an-address",
    ],
)
def test_non_public_addresses_are_refused(address):
    from idp.outbound import is_public_address

    assert is_public_address(address) is False


@pytest.mark.parametrize(
    "address",
    [
        "203.113.131.1",
        "8.8.8.8",
        "1.1.1.1",
        "2402:800::1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",  # IPv4-mapped public address: judged by the IPv4 address
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2002:808:808::1",  # 6to4 of 8.8.8.8
    ],
)
def test_public_addresses_are_allowed(address):
    from idp.outbound import is_public_address

    assert is_public_address(address) is True


# ---------------------------------------------------------------- real calls, refused


@pytest.fixture
def listener():
    """A server that would answer anything; the tests check it was never even connected to."""
    peer = Peer(answer(200, b'{"keys": []}'))
    yield peer
    peer.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "https://127.0.0.1:{port}/",
        "http://localhost:{port}/",  # a name resolving to loopback
        "http://[::ffff:127.0.0.1]:{port}/",
        "https://[::ffff:7f00:1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://127.1:{port}/",
        "http://2130706433:{port}/",  # 127.0.0.1 as one decimal number
        "http://0x7f000001:{port}/",
    ],
)
def test_private_targets_are_refused_before_connecting(listener, url):
    from idp.outbound import FORBIDDEN_ADDRESS, OutboundError, fetch

    with pytest.raises(OutboundError) as refused:
        fetch(
            url.format(port=listener.port),
            deadline_seconds=2,
            max_bytes=1000,
            allow_private=False,
        )
    assert refused.value.reason == FORBIDDEN_ADDRESS and refused.value.permanent
    assert "OUTBOUND_ALLOW_PRIVATE_TARGETS" in str(refused.value)
    time.sleep(0.05)
    assert listener.connections == 0


@pytest.mark.parametrize("allow_private", [False, True], ids=["auto", "private-allowed"])
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[2002:a9fe:a9fe::1]/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::a9fe:a9fe%251]/latest/meta-data/",
        "http://[64:ff9b:1::a9fe:a9fe]/latest/meta-data/",  # local-use NAT64, RFC 8215
        "http://[::a9fe:a9fe]/latest/meta-data/",  # IPv4-compatible
        "http://[::ffff:0:a9fe:a9fe]/latest/meta-data/",  # IPv4-translated
        "http://[2001:0:4136:e378:8000:63bf:5601:5601]/latest/meta-data/",  # Teredo client
        "http://0.0.0.0:{port}/",
        "http://[::]:{port}/",
        "http://224.0.0.1/",
    ],
)
def test_the_metadata_service_and_link_local_are_refused_in_every_form(
    listener, url, allow_private
):
    """Link-local (the cloud metadata service), multicast and unspecified addresses are
    refused even where private targets are allowed (a provincial intranet)."""
    from idp.outbound import FORBIDDEN_ADDRESS, OutboundError, fetch

    with pytest.raises(OutboundError) as refused:
        fetch(
            url.format(port=listener.port),
            deadline_seconds=2,
            max_bytes=1000,
            allow_private=allow_private,
        )
    assert refused.value.reason == FORBIDDEN_ADDRESS
    time.sleep(0.05)
    assert listener.connections == 0


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:a9fe:a9fe",  # IPv4-mapped
        "::a9fe:a9fe",  # IPv4-compatible
        "::ffff:0:a9fe:a9fe",  # IPv4-translated
        "64:ff9b::a9fe:a9fe",  # NAT64, well-known prefix (RFC 6052)
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 (RFC 8215), /96 layout
        "64:ff9b:1:a9fe:a9:fe00::",  # the same, /48 layout (RFC 6052 2.2)
        "64:ff9b:1:a9:fe:a9fe::",  # /56 layout
        "64:ff9b:1:0:a9:fea9:fe00:0",  # /64 layout
        "2002:a9fe:a9fe::1",  # 6to4
        "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254
        "::ffff:e000:1",  # mapped multicast
        "64:ff9b:1::e000:1",  # local-use NAT64 of multicast
        "::e000:1",  # compatible multicast
        "::ffff:0.0.0.0",
    ],
)
def test_every_ipv6_form_of_a_never_called_ipv4_address_is_never_called(address):
    """docs/outbound.md: link-local "and their IPv6 forms of IPv4" are never called, even
    with private targets allowed; each form that embeds an IPv4 address is judged by it."""
    from idp.outbound import is_never_called, may_call

    assert is_never_called(address)
    assert not may_call(address, allow_private=True)


@pytest.mark.parametrize(
    "address", ["::1", "127.0.0.1", "10.1.2.3", "::ffff:10.1.2.3", "64:ff9b:1::a01:203", "fd12::1"]
)
def test_private_addresses_stay_callable_where_private_targets_are_allowed(address):
    from idp.outbound import is_never_called, may_call

    assert not is_never_called(address)
    assert may_call(address, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@127.0.0.1:{port}/",
        "http://evil.example@127.0.0.1:{port}/",
        "http://127.0.0.1:{port}\\@evil.example/",
        "http://127.0.0.1:{port}/a b",
        "http://127.0.0.1:{port}/\r\nX-Injected: 1",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/_GET",
        "ftp://127.0.0.1:{port}/",
        "//127.0.0.1:{port}/",
        "http:///nohost",
        "http://127.0.0.1:99999/",
        "http://[::1/",
    ],
)
def test_urls_outside_the_rules_are_refused(listener, url):
    from idp.outbound import BAD_URL, OutboundError, fetch

    with pytest.raises(OutboundError) as refused:
        fetch(url.format(port=listener.port), deadline_seconds=2, max_bytes=10, allow_private=True)
    assert refused.value.reason == BAD_URL and refused.value.permanent
    time.sleep(0.05)
    assert listener.connections == 0


def test_a_redirect_is_an_error_and_never_followed():
    from idp.outbound import REDIRECT, OutboundError, fetch

    target = Peer(answer(200, b"secret"))
    hop = Peer(redirect(target.url("/latest/meta-data/iam/security-credentials/")))
    try:
        with pytest.raises(OutboundError) as refused:
            fetch(hop.url(), deadline_seconds=2, max_bytes=1000, allow_private=True)
    finally:
        hop.stop()
        target.stop()
    assert refused.value.reason == REDIRECT and refused.value.status == 302
    assert target.connections == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_a_huge_body_is_cut_at_the_cap(declared):
    from idp.outbound import TOO_LARGE, OutboundError, fetch

    peer = Peer(huge_body(200 * 1024 * 1024, declared=declared))
    started = time.monotonic()
    try:
        with pytest.raises(OutboundError) as refused:
            fetch(peer.url(), deadline_seconds=5, max_bytes=65536, allow_private=True)
    finally:
        peer.stop()
    assert refused.value.reason == TOO_LARGE
    assert time.monotonic() - started < 2


def test_huge_headers_are_cut_at_the_cap():
    from idp.outbound import TOO_LARGE, OutboundError, fetch

    peer = Peer(huge_headers())
    try:
        with pytest.raises(OutboundError) as refused:
            fetch(peer.url(), deadline_seconds=5, max_bytes=65536, allow_private=True)
    finally:
        peer.stop()
    assert refused.value.reason == TOO_LARGE


def test_a_body_may_be_cut_instead_when_only_its_start_matters():
    from idp.outbound import fetch

    peer = Peer(answer(200, b"x" * 100_000))
    try:
        response = fetch(
            peer.url(), deadline_seconds=2, max_bytes=4096, allow_private=True, truncate=True
        )
    finally:
        peer.stop()
    assert response.status == 200 and response.body == b"x" * 4096 and response.truncated


def test_an_allowed_call_goes_to_the_checked_address_with_the_urls_host():
    from idp.outbound import fetch

    peer = Peer(answer(200, b"{}", {"Content-Type": "application/json"}))
    try:
        response = fetch(
            peer.url("/jwks.json?v=1").replace("127.0.0.1", "localhost"),
            method="POST",
            body=b"a=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            deadline_seconds=2,
            max_bytes=100,
            allow_private=True,
        )
    finally:
        peer.stop()
    assert response.status == 200 and response.body == b"{}"
    assert response.headers["content-type"] == "application/json"
    assert response.address in ("127.0.0.1", "::1")
    [hit] = peer.hits
    assert (hit.method, hit.path, hit.body) == ("POST", "/jwks.json?v=1", b"a=1")


def test_tls_verifies_the_urls_host_name_on_the_pinned_connection(tmp_path, monkeypatch):
    """The connection goes to the checked address, yet the certificate is checked against
    the URL's host name (SNI): a certificate for `localhost` passes for
    https://localhost/, not for https://127.0.0.1/, and one from an unknown authority never."""
    from idp import outbound
    from idp.outbound import TLS, OutboundError, fetch

    ca_file, server = tls_certificates(tmp_path)
    peer = Peer(answer(200, b"{}"), tls=server)
    try:
        # Without the test authority: refused.
        monkeypatch.setattr(outbound, "_tls_context", None)
        with pytest.raises(OutboundError) as unknown:
            fetch(
                f"https://localhost:{peer.port}/",
                deadline_seconds=3,
                max_bytes=10,
                allow_private=True,
            )
        assert unknown.value.reason == TLS
        # Trusting it (a context made afresh reads SSL_CERT_FILE).
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)
        monkeypatch.setattr(outbound, "_tls_context", None)
        response = fetch(
            f"https://localhost:{peer.port}/", deadline_seconds=3, max_bytes=10, allow_private=True
        )
        assert response.status == 200 and response.address in ("127.0.0.1", "::1")
        with pytest.raises(OutboundError) as mismatch:
            fetch(
                f"https://127.0.0.1:{peer.port}/",
                deadline_seconds=3,
                max_bytes=10,
                allow_private=True,
            )
        assert mismatch.value.reason == TLS
    finally:
        peer.stop()


# ---------------------------------------------------------------- through the token endpoint


def _token(client, key, client_id="attacker"):
    return client.post("/oauth2/token", data=assertion_form(key, client_id))


@pytest.mark.parametrize(
    "app_config", [{"OUTBOUND_ALLOW_PRIVATE_TARGETS": True}], ids=["loopback-allowed"]
)
def test_a_jwks_uri_that_redirects_to_the_metadata_service_is_not_followed(app, client):
    """The reported attack: a loopback jwks_uri answered 302 to another host's
    /latest/meta-data/iam/security-credentials/, and the provider followed it. Here the
    other host even serves the attacker's keys: following the redirect would let the
    assertion through."""
    key = new_key()
    metadata = Peer(serve_jwks([key]))
    hop = Peer(redirect(metadata.url("/latest/meta-data/iam/security-credentials/")))
    try:
        add_client(app, "attacker", jwks_uri=hop.url())
        response = _token(client, key)
    finally:
        hop.stop()
        metadata.stop()
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"
    assert len(hop.hits) == 1
    assert metadata.connections == 0


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:{port}/jwks.json",
        "http://localhost:{port}/jwks.json",
        "https://127.0.0.1:{port}/jwks.json",
        "https://[::ffff:127.0.0.1]:{port}/jwks.json",
    ],
)
def test_a_loopback_jwks_uri_is_refused_when_the_issuer_is_not_on_loopback(app, client, uri):
    """The issuer is http://idp.test: OUTBOUND_ALLOW_PRIVATE_TARGETS=auto refuses loopback,
    for https targets too (whose addresses were not checked at all before)."""
    key = new_key()
    peer = Peer(serve_jwks([key]))
    try:
        add_client(app, "attacker", jwks_uri=uri.format(port=peer.port))
        response = _token(client, key)
    finally:
        peer.stop()
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"
    assert peer.connections == 0
