"""Checks of client input. Each failure raises ValidationError with a message naming the field."""

import json
import re
from typing import NamedTuple

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

CONTENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_content_id_re = re.compile(CONTENT_ID_PATTERN)
# Numeric ids are the 64-bit integers most content systems use; anything else can be a string.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Lone surrogates (JSON allows "\ud800") cannot be encoded as UTF-8, and NUL cannot be stored in a
# PostgreSQL text column: both are refused up front instead of failing inside the database.
_unstorable_re = re.compile("[\x00\ud800-\udfff]")
# The common address, checked in about 1 us instead of email_validator's 80 us: a strict subset
# of what email_validator accepts (tests/test_email_fast_path.py checks that on generated
# addresses, again at each upgrade of email-validator). Local part: dot-separated runs of
# letters, digits, "_", "+", "-", at most 64 characters. Domain: at least two labels of
# letters and digits joined by single hyphens (no "--", which IDNA treats specially), each at
# most 63 characters, the last one letters only. Anything else, and domains under a
# special-use name (".test", ".local", ...), goes to email_validator, which alone decides and
# words the error message.
_common_email_re = re.compile(
    r"(?=[^@]{1,64}@)[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:(?=[A-Za-z0-9-]{1,63}\.)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+[A-Za-z]{2,63}"
)
_special_use_tlds = frozenset(name.rsplit(".", 1)[-1] for name in SPECIAL_USE_DOMAIN_NAMES)


class ValidationError(ValueError):
    """Input the API refuses; str(error) is the message for the client."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class NewComment(NamedTuple):
    """A checked comment (immutable; a NamedTuple costs a fifth of a frozen dataclass to build)."""

    email: str
    comment: str
    content_id: str


def canonical_content_id(value, field: str = "content_id") -> str:
    """The stored form of a content id: integers become their decimal string."""
    if isinstance(value, bool):
        raise ValidationError(f"{field} must be an integer or a string matching {CONTENT_ID_PATTERN}, got a boolean")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValidationError(
                f"{field} must be an integer or a string matching {CONTENT_ID_PATTERN}, got {value!r}"
            )
        value = int(value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValidationError(
                f"{field} as a number must be between {INT64_MIN} and {INT64_MAX}; send larger ids as strings"
            )
        return str(value)
    if isinstance(value, str):
        if not _content_id_re.fullmatch(value):
            raise ValidationError(
                f"{field} must match {CONTENT_ID_PATTERN} (letters, digits, '_' or '-', 1 to 64 characters)"
            )
        return value
    raise ValidationError(
        f"{field} must be an integer or a string matching {CONTENT_ID_PATTERN}, got {_json_type(value)}"
    )


def parse_json_body(raw: bytes, loads=json.loads):
    """The body as JSON; `loads` is json.loads or one that gives its results (the app's JSON provider)."""
    if not raw:
        raise ValidationError("request body is empty; send a JSON object")
    try:
        return loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"request body is not valid JSON: {_first_line(exc)}") from None


def new_comment(body, max_comment_length: int) -> NewComment:
    if not isinstance(body, dict):
        raise ValidationError(f"request body must be a JSON object, got {_json_type(body)}")
    missing = [name for name in ("email", "comment", "content_id") if name not in body]
    if missing:
        raise ValidationError("missing required field" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))

    email = _text_field(body, "email")
    if len(email) > 254:
        raise ValidationError("email is longer than 254 characters")
    if not is_common_email(email):
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"email is not a valid e-mail address: {exc}") from None

    comment = _text_field(body, "comment")
    if not comment.strip():
        raise ValidationError("comment must not be empty")
    if len(comment) > max_comment_length:
        raise ValidationError(f"comment is longer than {max_comment_length} characters ({len(comment)})")

    return NewComment(email=email, comment=comment, content_id=canonical_content_id(body["content_id"]))


def is_common_email(email: str) -> bool:
    """True for an address of the common shape, all of which email_validator accepts; False
    means "ask email_validator", not "invalid"."""
    return (
        len(email) <= 254
        and _common_email_re.fullmatch(email) is not None
        and email.rsplit(".", 1)[1].lower() not in _special_use_tlds
    )


def page(args, max_page_size: int) -> tuple[int | None, int]:
    """(limit, offset) from query arguments; (None, 0) without them: everything, as the original."""
    raw_limit, raw_offset = args.get("limit"), args.get("offset")
    if raw_limit is None and raw_offset is None:
        return None, 0
    limit = max_page_size if raw_limit is None else _int_arg("limit", raw_limit)
    offset = 0 if raw_offset is None else _int_arg("offset", raw_offset)
    if not 1 <= limit <= max_page_size:
        raise ValidationError(f"limit must be between 1 and {max_page_size}, got {limit}")
    if offset < 0:
        raise ValidationError(f"offset must be 0 or more, got {offset}")
    return limit, offset


def _int_arg(name: str, raw: str) -> int:
    if not re.fullmatch(r"-?[0-9]{1,18}", raw):
        raise ValidationError(f"{name} must be an integer, got {raw[:40]!r}")
    return int(raw)


def _text_field(body: dict, name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {_json_type(value)}")
    if _unstorable_re.search(value):
        raise ValidationError(f"{name} contains a NUL character or an unpaired surrogate")
    return value


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
