# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks and normalises a point-in-time recovery target (restore_target_time)."""

DOCUMENTATION = r"""
name: recovery_target_time
short_description: Check a recovery target time and give it as RFC 3339 in UTC
version_added: 0.1.0
author: infra.comments maintainers
description:
  - Reads a timestamp with an explicit time zone, C(2026-12-06T01:02:03Z), C(2026-12-06 02:02:03+01:00),
    C(2026-12-06T01:02:03.250+0000), and returns it as RFC 3339 in UTC (C(2026-12-06T01:02:03.250000Z)), the form
    CloudNativePG's C(recoveryTarget.targetTime) takes.
  - A timestamp without a zone is refused (CloudNativePG would read it as UTC, which is rarely what a person meant),
    as is anything that is not a real date and time. With C(now), a time not before it is refused too, since
    PostgreSQL would replay every WAL and then fail because the target was never reached.
options:
  _input:
    description: The timestamp.
    type: str
    required: true
  now:
    description: The current time (RFC 3339 with a zone); when given, the target must be before it.
    type: str
"""

EXAMPLES = r"""
- name: Normalise the target.
  ansible.builtin.set_fact:
    target: "{{ restore_target_time | infra.comments.recovery_target_time(now=now(utc=true).isoformat() ~ 'Z') }}"
"""

RETURN = r"""
_value:
  description: The target as RFC 3339 in UTC, with microseconds when the input had a fraction.
  type: str
"""

import re
from datetime import UTC, datetime, timedelta, timezone

from ansible.errors import AnsibleFilterError

_PATTERN = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d{1,6})?"
    r"(?P<zone>Z|[+-]\d{2}(:?\d{2})?)$"
)
EXAMPLE = "2026-12-06T01:02:03Z or 2026-12-06 02:02:03+01:00"


def _parse(text, name):
    if not isinstance(text, str):
        raise AnsibleFilterError("%s must be a string such as %s, got %r" % (name, EXAMPLE, text))
    match = _PATTERN.match(text.strip())
    if not match:
        raise AnsibleFilterError(
            "%s %r is not a timestamp with a time zone: write it as %s (a time without a zone would be read as UTC)"
            % (name, text, EXAMPLE)
        )
    zone = match["zone"]
    if zone == "Z":
        offset = timedelta(0)
    else:
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 14 or minutes > 59:
            raise AnsibleFilterError("%s %r has an impossible time zone offset %s" % (name, text, zone))
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
    try:
        moment = datetime.strptime("%s %s" % (match["date"], match["time"]), "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise AnsibleFilterError("%s %r is not a real date and time (%s)" % (name, text, exc)) from exc
    fraction = match["fraction"]
    if fraction:
        moment = moment.replace(microsecond=int(fraction[1:].ljust(6, "0")))
    return moment.replace(tzinfo=timezone(offset)).astimezone(UTC), bool(fraction)


def recovery_target_time(text, now=None):
    """The target as RFC 3339 UTC; AnsibleFilterError naming restore_target_time when it is not usable."""
    moment, has_fraction = _parse(text, "restore_target_time")
    if now is not None:
        current = _parse(now, "now")[0]
        if moment >= current:
            raise AnsibleFilterError(
                "restore_target_time %r is not in the past (now is %s): a restore can only reach a time the WAL "
                "archive has already passed" % (text, current.strftime("%Y-%m-%dT%H:%M:%SZ"))
            )
    return moment.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if has_fraction else "") + "Z")


class FilterModule:
    def filters(self):
        return {"recovery_target_time": recovery_target_time}
