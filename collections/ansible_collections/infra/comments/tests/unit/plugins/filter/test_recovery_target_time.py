# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""restore_target_time as restore.yml reads it: zones required, normalised to RFC 3339 UTC, never in the future."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.infra.comments.plugins.filter.recovery_target_time import recovery_target_time

NOW = "2026-12-06T02:00:00Z"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-12-06T01:02:03Z", "2026-12-06T01:02:03Z"),
        ("2026-12-06 02:02:03+01:00", "2026-12-06T01:02:03Z"),
        ("2026-12-05T20:02:03-0500", "2026-12-06T01:02:03Z"),
        ("2026-12-06T03:02:03+02", "2026-12-06T01:02:03Z"),
        ("2026-12-06T01:02:03.25Z", "2026-12-06T01:02:03.250000Z"),
    ],
)
def test_a_zoned_time_is_given_back_in_utc(text, expected):
    assert recovery_target_time(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("2026-12-06 01:02:03", "is not a timestamp with a time zone"),
        ("yesterday", "is not a timestamp with a time zone"),
        ("2026-02-30T01:02:03Z", "is not a real date and time"),
        ("2026-12-06T25:02:03Z", "is not a real date and time"),
        ("2026-12-06T01:02:03+15:00", "impossible time zone offset"),
        ("2026-12-06T02:00:00Z", "is not in the past"),
        ("2027-01-01T00:00:00+01:00", "is not in the past"),
    ],
)
def test_a_bad_time_is_refused_naming_the_variable(text, message):
    with pytest.raises(AnsibleFilterError, match=message) as caught:
        recovery_target_time(text, now=NOW)
    assert "restore_target_time" in str(caught.value)


def test_a_non_string_is_refused():
    with pytest.raises(AnsibleFilterError, match="restore_target_time must be a string"):
        recovery_target_time(20261206)
