"""The e-mail fast path never accepts an address that email_validator would refuse.

validation.is_common_email() skips email_validator for the common address shape. The claim is
one-sided: whatever it accepts, email_validator accepts too (with the app's options); whatever it
does not accept still goes to email_validator, which decides and words the error. Checked on
addresses generated from the fast path's own pattern (its whole accepted language, edges
included), on hypothesis' RFC-shaped addresses, and on near-misses built from the characters that
make addresses tricky.
"""

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from comments_api import validation
from comments_api.validation import ValidationError, is_common_email

CHECKED = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def email_validator_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


_alnum = "abcxyzABCXYZ0189"
_atom = st.text(alphabet=_alnum + "_+-", min_size=1, max_size=12)
_label = st.lists(st.text(alphabet=_alnum, min_size=1, max_size=10), min_size=1, max_size=3).map("-".join)
_tld = st.text(alphabet="abczABCZ", min_size=2, max_size=8) | st.sampled_from(
    ["com", "org", "io", "test", "local", "localhost", "arpa", "onion", "invalid", "TEST", "Onion"]
)
# The fast path's language, built piece by piece (hypothesis' from_regex cannot draw through the
# pattern's look-aheads); sizes reach the 64/63-character limits now and then.
_common_shaped = st.builds(
    lambda local, labels, tld: ".".join(local) + "@" + ".".join(labels + [tld]),
    st.lists(_atom, min_size=1, max_size=6),
    st.lists(_label, min_size=1, max_size=4),
    _tld,
)


@CHECKED
@given(_common_shaped)
@example("a@b.co")
@example("a" * 64 + "@" + "b" * 63 + ".com")
@example("x@sub.localhost.com")
@example("x@" + ".".join(["b" * 63] * 3) + ".com")
def test_what_the_fast_path_accepts_email_validator_accepts(address):
    if is_common_email(address):
        assert email_validator_accepts(address), address


@CHECKED
@given(st.emails())
def test_rfc_shaped_addresses_accepted_by_the_fast_path_are_valid(address):
    if is_common_email(address):
        assert email_validator_accepts(address), address


# Characters around the edges of both checks: dots, hyphens (and "--", IDNA's marker), digits
# in the top-level domain, non-ASCII letters, quotes, spaces, a second "@".
_tricky = st.text(alphabet="aZ09.-_+@é\"' xn", min_size=1, max_size=40)


@CHECKED
@given(st.builds(lambda local, domain: f"{local}@{domain}", _tricky, _tricky) | _tricky)
@example("a@x--y.com")
@example("a@xn--abc.com")
@example("a@x.test")
@example("a@b.c0m")
def test_near_misses_accepted_by_the_fast_path_are_valid(address):
    if is_common_email(address):
        assert email_validator_accepts(address), address


@pytest.mark.parametrize(
    "address",
    ["a@b.co", "guilherme@example.com", "First.Last+tag@Mail.Example.ORG", "u_1-2@a-b.c-d.io"],
)
def test_common_addresses_take_the_fast_path(address):
    assert is_common_email(address)
    assert email_validator_accepts(address)


@pytest.mark.parametrize(
    "address",
    [
        "user@localhost",
        "user@host.test",
        "a..b@example.com",
        "a@x--y.com",
        "a@b.c",
        '"q"@example.com',
        "a@b.123",
        "a@" + "b" * 64 + ".com",
        "a" * 65 + "@example.com",
        "ünï@example.com",
    ],
)
def test_other_addresses_are_left_to_email_validator_and_keep_its_message(address):
    assert not is_common_email(address)
    body = {"email": address, "comment": "hi", "content_id": 1}
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        with pytest.raises(ValidationError, match="^email is not a valid e-mail address: ") as refused:
            validation.new_comment(body, 100)
        assert str(refused.value) == f"email is not a valid e-mail address: {exc}"
    else:  # valid, only not of the common shape: still accepted
        assert validation.new_comment(body, 100).email == address
