"""The level of an upstream sign-in in idp.assurance: the mapped level, never more; our
second factor on top is a step-up; `fed` in amr."""

from __future__ import annotations

import pytest

from idp import assurance

LOA1, LOA2, LOA3 = "urn:hg:loa:1", "urn:hg:loa:2", "urn:hg:loa:3"


@pytest.mark.parametrize(
    ("methods", "acr", "amr"),
    [
        (["upstream:1"], LOA1, ["fed"]),
        (["upstream:2"], LOA2, ["fed", "mfa"]),
        (["upstream:3"], LOA3, ["fed", "mfa"]),
        (["upstream:1", "otp"], LOA2, ["fed", "otp", "mfa"]),
        (["upstream:2", "otp"], LOA2, ["fed", "otp", "mfa"]),
        (["upstream:1", "hwk", "user"], LOA3, ["fed", "hwk", "user", "mfa"]),
        (["upstream:1", "upstream:2"], LOA2, ["fed", "mfa"]),
        (["upstream:9"], LOA3, ["fed", "mfa"]),  # clamped to our highest level
        (["upstream:x"], "", ["fed"]),  # not a level: none
    ],
)
def test_an_upstream_sign_in_reaches_its_mapped_level(methods, acr, amr):
    assert assurance.acr_for(methods) == acr
    assert assurance.amr_for(methods) == amr


def test_the_method_names_the_rank_of_our_level():
    assert assurance.federated_method(LOA1) == "upstream:1"
    assert assurance.federated_method(LOA2) == "upstream:2"


def test_first_and_second_factor_methods_count_the_upstream():
    times = {"upstream:2": 1, "pwd": 2}
    assert "upstream:2" in assurance.first_factor_methods(times)
    assert "upstream:2" in assurance.second_factor_methods(times)
    assert "upstream:1" not in assurance.second_factor_methods({"upstream:1": 1})


@pytest.mark.parametrize(
    ("methods", "acr"),
    [
        (["upstream:2"], LOA1),
        (["upstream:3"], LOA1),
        (["fed", "mfa"], LOA1),  # the same, read from an amr claim
        (["upstream:2", "otp"], LOA2),
        (["fed", "otp", "mfa"], LOA2),
        (["pwd", "otp"], LOA2),
        (["pwd", "otp", "mfa"], LOA2),
        (["hwk", "user"], LOA3),
        (["pwd"], LOA1),
        (["mfa"], ""),
        ([], ""),
    ],
)
def test_own_factors_count_an_upstream_as_a_first_factor_only(methods, acr):
    assert assurance.acr_by_own_factors(methods) == acr
