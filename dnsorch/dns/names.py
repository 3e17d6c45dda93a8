"""Domain names as requests carry them: checked and built as dnspython names (RFC 1035 §2.3.1,
RFC 1123 §2.1), held by the contracts and the database as lower-case text without the final dot."""

from __future__ import annotations

import re
from collections.abc import Iterable

import dns.exception
import dns.name

from dnsorch.contracts import InvalidRequest

MAX_NAME_LENGTH = 253  # characters without the final dot: 255 octets on the wire (RFC 1035 §2.3.4)
MAX_LABEL_LENGTH = 63

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")  # RFC 1123 §2.1
# Owners of TXT/SRV records may carry service labels such as `_sip` or `_dmarc` (RFC 8552).
_SERVICE_LABEL = re.compile(r"^_?(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NAME_CHARACTERS = "may only contain ASCII letters, digits, '-', '.' (and '_' in service labels)"


def parse_name(text: object, *, field: str, allow_service_labels: bool = False) -> dns.name.Name:
    """A fully qualified host name (RFC 1035 §2.3.1, RFC 1123 §2.1): absolute and lower-cased."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(field, "must be a non-empty domain name")
    # dnspython reads `\` as an escape and non-ASCII as IDNA; a name sent in JSON is plain ASCII.
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E or ch == "\\" for ch in text):
        raise InvalidRequest(field, _NAME_CHARACTERS)
    try:
        name = dns.name.from_text(text).canonicalize()
    except dns.name.EmptyLabel:
        raise InvalidRequest(field, "has an empty label") from None
    except dns.name.LabelTooLong:
        raise InvalidRequest(field, f"has a label longer than {MAX_LABEL_LENGTH} characters") from None
    except dns.name.NameTooLong:
        raise InvalidRequest(field, f"is longer than {MAX_NAME_LENGTH} characters") from None
    except dns.exception.DNSException as error:
        raise InvalidRequest(field, f"is not a domain name ({error})") from None
    if len(name.labels) < 3:  # two labels and the root
        raise InvalidRequest(field, "must be a fully qualified name (at least two labels)")
    pattern = _SERVICE_LABEL if allow_service_labels else _HOST_LABEL
    for label in name.labels[:-1]:
        shown = label.decode("ascii")
        if not pattern.match(shown):
            raise InvalidRequest(field, f"label {shown!r} is not a valid hostname label")
    return name


def name_text(name: dns.name.Name) -> str:
    """A name as contracts and the database hold it: lower case, without the final dot."""
    return name.canonicalize().to_text(omit_final_dot=True)


def check_name(name: str, *, field: str, allow_service_labels: bool = False) -> str:
    """Validate a domain name and return it as stored (see `name_text`)."""
    return name_text(parse_name(name, field=field, allow_service_labels=allow_service_labels))


def zone_of(domain: dns.name.Name, zones: Iterable[str]) -> dns.name.Name:
    """The managed zone that holds `domain`: the closest enclosing one (RFC 1034 §4.2)."""
    holding = [zone for zone in map(dns.name.from_text, zones) if domain.is_subdomain(zone)]
    if not holding:
        raise InvalidRequest("resource.domain", f"{name_text(domain)!r} is not inside a managed zone")
    return max(holding, key=lambda zone: len(zone.labels))


def check_owner(record_type: str, domain: str) -> dns.name.Name:
    """The owner name, with service labels allowed where DNS uses them (TXT, SRV).

    BIND's check-names refuses `_` in other owners, so they are refused here first.
    """
    owner = parse_name(domain, field="resource.domain", allow_service_labels=record_type in ("TXT", "SRV"))
    if record_type == "SRV" and not all(label.startswith(b"_") for label in owner.labels[:2]):
        raise InvalidRequest("resource.domain", "SRV names start with _service._proto labels")  # RFC 2782
    return owner
