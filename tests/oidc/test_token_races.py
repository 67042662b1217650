"""Codes and refresh tokens presented by several requests at the same moment.

Exactly one request gets tokens; every other is refused with invalid_grant, and the reuse
revokes what the one issued (RFC 6749 4.1.2, RFC 9700 4.14.2), whichever request reaches
the database first.
"""

from __future__ import annotations

import threading

from helpers.oidc_flow import REDIRECT_URI, basic

RACERS = 5


def race(app, data: dict[str, str]) -> list:
    barrier = threading.Barrier(RACERS)
    answers: list = []
    lock = threading.Lock()

    def one() -> None:
        http = app.test_client()
        barrier.wait()
        response = http.post("/oauth2/token", data=data, headers=basic("webmail"))
        with lock:
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=one) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_a_code_raced_by_several_requests_gives_tokens_once_and_revokes_them(app, rp):
    flow = rp.code_flow(scope="openid offline_access")
    answers = race(
        app,
        {"grant_type": "authorization_code", "code": flow.code, "redirect_uri": REDIRECT_URI},
    )
    winners = [body for status, body in answers if status == 200]
    assert len(winners) == 1, answers
    assert sorted(body["error"] for status, body in answers if status != 200) == [
        "invalid_grant"
    ] * (RACERS - 1)
    tokens = winners[0]
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert rp.introspect(token).get_json()["active"] is False


def test_a_refresh_token_raced_by_several_requests_rotates_once_and_revokes_the_family(app, rp):
    first = rp.tokens(scope="openid offline_access")
    answers = race(app, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    winners = [body for status, body in answers if status == 200]
    assert len(winners) == 1, answers
    assert {body["error"] for status, body in answers if status != 200} == {"invalid_grant"}
    rotated = winners[0]
    for token in (rotated["access_token"], rotated["refresh_token"]):
        assert rp.introspect(token).get_json()["active"] is False
