# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks MetalLB-style address pool entries (CIDRs or start-end ranges)."""

DOCUMENTATION = r"""
name: ip_range_errors
short_description: List what is wrong with address pool entries (CIDRs or ranges)
version_added: 0.1.0
author: infra.comments maintainers
description:
  - Checks each entry of a list the way MetalLB reads an C(IPAddressPool) address,
    a CIDR such as C(10.0.0.0/28) or a range C(a.b.c.d-e.f.g.h) whose ends are of the same IP family with start <= end.
  - Returns one error message per bad entry, naming the entry and its position, so a role can fail before any change
    with a message that says what to fix. An empty result means every entry is valid.
  - Entries that overlap each other are reported too, because MetalLB's admission webhook rejects overlapping pools.
options:
  _input:
    description: The list of entries to check.
    type: list
    elements: raw
    required: true
"""

EXAMPLES = r"""
- name: Fail on a bad pool entry.
  ansible.builtin.assert:
    that: metallb_address_pools | infra.comments.ip_range_errors | length == 0
    fail_msg: "{{ metallb_address_pools | infra.comments.ip_range_errors | join('; ') }}"

# ['192.168.56.200-192.168.56.220', '10.0.0.0/28'] | infra.comments.ip_range_errors  => []
# ['192.168.56.20-192.168.56.10'] | infra.comments.ip_range_errors
#   => ["entry 1 '192.168.56.20-192.168.56.10': range start 192.168.56.20 is after its end 192.168.56.10"]
"""

RETURN = r"""
_value:
  description: One message per problem found; empty when every entry is valid.
  type: list
  elements: str
"""

import ipaddress

from ansible.errors import AnsibleFilterError


def _parse_entry(entry):
    """Return (first, last) addresses of one entry, or raise ValueError saying why it is not valid."""
    if not isinstance(entry, str):
        raise ValueError(
            "a %s, not a string (a CIDR like 10.0.0.0/28 or a range like 10.0.0.10-10.0.0.20)" % type(entry).__name__
        )
    text = entry.strip()
    if text != entry or not text:
        raise ValueError("a CIDR or a range must not have surrounding spaces")
    if "/" in text:
        try:
            # strict: a CIDR with host bits set (10.0.0.1/24) is almost always a typo for a different pool.
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            raise ValueError("not a valid CIDR (%s)" % exc) from exc
        return network[0], network[-1]
    if "-" in text:
        start_text, end_text = text.split("-", 1)
        try:
            start = ipaddress.ip_address(start_text.strip())
            end = ipaddress.ip_address(end_text.strip())
        except ValueError as exc:
            raise ValueError("not a valid range (%s)" % exc) from exc
        if start.version != end.version:
            raise ValueError("range mixes IPv%d and IPv%d addresses" % (start.version, end.version))
        if start > end:
            raise ValueError("range start %s is after its end %s" % (start, end))
        return start, end
    raise ValueError("neither a CIDR (10.0.0.0/28) nor a range (10.0.0.10-10.0.0.20)")


def ip_range_errors(entries):
    """Return a list of messages, one per invalid or overlapping entry."""
    if not isinstance(entries, (list, tuple)):
        raise AnsibleFilterError("ip_range_errors expects a list of CIDRs or ranges, got a %s" % type(entries).__name__)
    errors = []
    parsed = []
    for position, entry in enumerate(entries, start=1):
        try:
            first, last = _parse_entry(entry)
        except ValueError as exc:
            errors.append("entry %d %r: %s" % (position, entry, exc))
            continue
        for other_position, other_entry, other_first, other_last in parsed:
            if first.version == other_first.version and first <= other_last and other_first <= last:
                errors.append("entry %d %r: overlaps entry %d %r" % (position, entry, other_position, other_entry))
        parsed.append((position, entry, first, last))
    return errors


class FilterModule:
    """Address pool checks."""

    def filters(self):
        return {"ip_range_errors": ip_range_errors}
