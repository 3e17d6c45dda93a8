"""DNS rules for requested records: names, values per type, and their presentation format.

Everything a request carries is checked here before it is stored or reaches Ansible, so
the playbook only ever sees well-formed names and values.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping

from dnsorch.errors import InvalidRequest

SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV")
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_TXT_LENGTH = 4000
MAX_TTL = 604_800  # one week
MAX_EXTRA_KEYS = 20
MAX_EXTRA_KEY_LENGTH = 64
MAX_EXTRA_STRING = 256
EXTRA_CONFIG_FIELD = "resource.config.extra_config"

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Owners of TXT/SRV records may carry service labels such as `_sip` or `_dmarc`.
_SERVICE_LABEL = re.compile(r"^_?(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_TYPES_WITH_PRIORITY = ("MX", "SRV")


def normalise_name(name: str) -> str:
    """Lower-case, without the trailing dot: how names are stored and compared."""
    return name.rstrip(".").lower()


def check_name(name: str, *, field: str, allow_service_labels: bool = False) -> str:
    """Validate a domain name per RFC 1035/1123 and return it normalised."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(field, "must be a non-empty domain name")
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in name):
        raise InvalidRequest(
            field, "may only contain ASCII letters, digits, '-', '.' (and '_' in service labels)"
        )
    normalised = normalise_name(name)
    if len(normalised) > MAX_NAME_LENGTH:
        raise InvalidRequest(field, f"is longer than {MAX_NAME_LENGTH} characters")
    labels = normalised.split(".")
    if len(labels) < 2:
        raise InvalidRequest(field, "must be a fully qualified name (at least two labels)")
    pattern = _SERVICE_LABEL if allow_service_labels else _HOST_LABEL
    for label in labels:
        if not label:
            raise InvalidRequest(field, "has an empty label")
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidRequest(field, f"has a label longer than {MAX_LABEL_LENGTH} characters")
        if not pattern.match(label):
            raise InvalidRequest(field, f"label {label!r} is not a valid hostname label")
    return normalised


def zone_of(domain: str, zones: Iterable[str]) -> str:
    """The most specific managed zone that contains `domain`."""
    candidates = [z for z in zones if domain == z or domain.endswith("." + z)]
    if not candidates:
        raise InvalidRequest("resource.domain", f"{domain!r} is not inside a managed zone")
    return max(candidates, key=len)


def text_problem(value: str, *, allow_newlines: bool = False) -> str | None:
    """Why `value` cannot be stored and passed on as it is, or None.

    A lone surrogate (JSON may escape one, `\\ud800`) is not Unicode: it has no UTF-8 form, so
    PostgreSQL, Temporal's payloads and the playbook would each refuse it later, mid-request.
    """
    allowed = ("\n", "\t", "\r") if allow_newlines else ()
    if any((ord(ch) < 0x20 and ch not in allowed) or ord(ch) == 0x7F for ch in value):
        return "must not contain control characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def check_extra_config(extra: Mapping[str, object]) -> dict[str, object]:
    """Flat scalars that every later step takes as they are: JSONB, Temporal, the playbook.

    No NaN or Infinity (JSON has no such numbers and JSONB refuses them), no nested values,
    no control characters or lone surrogates, and bounded sizes.
    """
    field = EXTRA_CONFIG_FIELD
    if len(extra) > MAX_EXTRA_KEYS:
        raise InvalidRequest(field, f"has {len(extra)} keys; at most {MAX_EXTRA_KEYS} are allowed")
    for key, item in extra.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequest(field, "keys must be non-empty strings")
        shown = _shown(key)
        if len(key) > MAX_EXTRA_KEY_LENGTH:
            raise InvalidRequest(field, f"key {shown} is longer than {MAX_EXTRA_KEY_LENGTH} characters")
        if problem := text_problem(key):
            raise InvalidRequest(field, f"key {shown} {problem}")
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidRequest(field, f"{shown} must be a finite number, not {item}")
        if isinstance(item, str):
            if len(item) > MAX_EXTRA_STRING:
                raise InvalidRequest(field, f"{shown} is longer than {MAX_EXTRA_STRING} characters")
            if problem := text_problem(item):
                raise InvalidRequest(field, f"{shown} {problem}")
        elif item is not None and not isinstance(item, int | float):  # bool is an int
            raise InvalidRequest(field, f"{shown} must be a string, number, boolean or null")
    return dict(extra)


def _shown(key: str) -> str:
    """A key as an error message may quote it: short, and escaped (repr) so it prints safely."""
    return repr(key[:40]) + ("…" if len(key) > 40 else "")


def check_ttl(ttl: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise InvalidRequest("resource.config.ttl", f"must be an integer from 1 to {MAX_TTL}")
    return ttl


def check_target(record_type: str, target: str) -> str:
    """Validate the value for its record type and return it normalised."""
    field = "resource.target"
    if not isinstance(target, str) or not target:
        raise InvalidRequest(field, "must not be empty")
    if record_type == "A":
        return str(_parse_ip(target, ipaddress.IPv4Address, field, "an IPv4 address"))
    if record_type == "AAAA":
        return str(_parse_ip(target, ipaddress.IPv6Address, field, "an IPv6 address"))
    if record_type == "TXT":
        if len(target) > MAX_TXT_LENGTH:
            raise InvalidRequest(field, f"TXT value is longer than {MAX_TXT_LENGTH} characters")
        if problem := text_problem(target):
            raise InvalidRequest(field, f"TXT value {problem}")
        return target
    if _is_ip_literal(target):  # a host name is meant; an address here is a common mistake
        raise InvalidRequest(field, f"a {record_type} target must be a host name, not an IP address")
    return check_name(target, field=field)


def _is_ip_literal(value: str) -> bool:
    try:
        ipaddress.ip_address(value.rstrip("."))
    except ValueError:
        return False
    return True


def check_priority(record_type: str, priority: int | None) -> int | None:
    field = "resource.config.priority"
    if record_type not in _TYPES_WITH_PRIORITY:
        if priority is not None:
            raise InvalidRequest(field, f"only applies to {' and '.join(_TYPES_WITH_PRIORITY)} records")
        return None
    if priority is None:
        raise InvalidRequest(field, f"is required for {record_type} records")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 65535:
        raise InvalidRequest(field, "must be an integer from 0 to 65535")
    return priority


def srv_port_weight(extra_config: dict[str, object]) -> tuple[int, int]:
    """SRV records take `port` (required) and `weight` (default 0) from `extra_config`."""
    port, weight = extra_config.get("port"), extra_config.get("weight", 0)
    for name, value in (("port", port), ("weight", weight)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise InvalidRequest(
                f"resource.config.extra_config.{name}", "must be an integer from 0 to 65535 for SRV"
            )
    assert isinstance(port, int) and isinstance(weight, int)
    return port, weight


def check_owner(record_type: str, domain: str) -> str:
    """The owner name, with service labels allowed where DNS allows them."""
    domain = check_name(domain, field="resource.domain", allow_service_labels=record_type in ("TXT", "SRV"))
    if record_type == "SRV" and not all(label.startswith("_") for label in domain.split(".")[:2]):
        raise InvalidRequest("resource.domain", "SRV names start with _service._proto labels")
    return domain


def rdata_values(
    record_type: str, target: str, priority: int | None, extra_config: dict[str, object]
) -> list[str]:
    """The record's value(s) in DNS presentation format, as nsupdate and dig write them."""
    if record_type in ("CNAME",):
        return [target + "."]
    if record_type == "MX":
        return [f"{priority} {target}."]
    if record_type == "SRV":
        port, weight = srv_port_weight(extra_config)
        return [f"{priority} {weight} {port} {target}."]
    if record_type == "TXT":
        return [txt_presentation(target)]
    return [target]


def txt_presentation(text: str) -> str:
    """Quote a TXT value, split into 255-byte character-strings, escaping `"` and `\\`."""
    raw = text.encode("utf-8")
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join('"' + _escape_txt(chunk) + '"' for chunk in chunks)


def _escape_txt(chunk: bytes) -> str:
    out = []
    for byte in chunk:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def _parse_ip(value: str, kind: type, field: str, what: str) -> object:
    try:
        return kind(value)
    except ValueError:
        raise InvalidRequest(field, f"must be {what}, got {value!r}") from None
