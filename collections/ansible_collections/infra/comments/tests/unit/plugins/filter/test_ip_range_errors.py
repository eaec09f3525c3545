# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pool check that the metallb role runs before any change."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.infra.comments.plugins.filter.ip_range_errors import FilterModule, ip_range_errors


@pytest.mark.parametrize(
    "entries",
    [
        [],
        ["192.168.56.200-192.168.56.220"],
        ["10.128.0.2/32"],
        ["10.0.0.0/28", "10.0.0.16-10.0.0.20"],
        ["10.0.0.5-10.0.0.5"],
        ["fd00::10-fd00::20", "10.0.0.0/30"],
        ["2001:db8::/126"],
        # Same numbers in different families never overlap.
        ["0.0.0.0/30", "::/126"],
    ],
)
def test_valid_entries_have_no_errors(entries):
    assert ip_range_errors(entries) == []


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("192.168.56.220-192.168.56.200", "range start 192.168.56.220 is after its end 192.168.56.200"),
        ("10.0.0.1-fd00::1", "range mixes IPv4 and IPv6 addresses"),
        ("10.0.0.300-10.0.0.301", "not a valid range"),
        ("10.0.0.1/24", "not a valid CIDR (10.0.0.1/24 has host bits set)"),
        ("10.0.0.0/33", "not a valid CIDR"),
        ("10.0.0.7", "neither a CIDR"),
        ("", "surrounding spaces"),
        (" 10.0.0.0/28", "surrounding spaces"),
        (5, "a int, not a string"),
        (None, "a NoneType, not a string"),
    ],
)
def test_each_bad_entry_is_named_with_its_problem(entry, expected):
    errors = ip_range_errors(["10.9.9.0/30", entry])
    assert len(errors) == 1
    assert errors[0].startswith("entry 2 %r: " % (entry,))
    assert expected in errors[0]


def test_overlapping_entries_are_reported_because_metallb_rejects_them():
    errors = ip_range_errors(["10.0.0.0/28", "10.0.0.10-10.0.0.40", "10.0.0.100/32"])
    assert errors == ["entry 2 '10.0.0.10-10.0.0.40': overlaps entry 1 '10.0.0.0/28'"]


def test_every_bad_entry_is_reported_not_only_the_first():
    assert len(ip_range_errors(["nope", "10.0.0.2-10.0.0.1", "10.0.0.0/28"])) == 2


@pytest.mark.parametrize("value", ["10.0.0.0/28", {"pool": "10.0.0.0/28"}, 7])
def test_a_non_list_is_a_filter_error(value):
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        ip_range_errors(value)


def test_the_filter_is_registered_under_its_documented_name():
    assert FilterModule().filters()["ip_range_errors"] is ip_range_errors
