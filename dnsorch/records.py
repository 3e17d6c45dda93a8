"""DNS rules for requested records: names and values are checked and built as dnspython objects.

Everything a request carries is checked here before it is stored or reaches Ansible, so the
playbook only ever sees well-formed names and values. Strings are only the edges' form: the
contracts and the database hold a name as its lower-case text without the final dot, and a value
in presentation format (what `rdata_values` returns), as they always have.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping

import dns.exception
import dns.inet
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV

from dnsorch.contracts import InvalidRequest

SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV")
MAX_NAME_LENGTH = 253  # characters without the final dot: 255 octets on the wire (RFC 1035 §2.3.4)
MAX_LABEL_LENGTH = 63
MAX_TXT_LENGTH = 4000
MAX_CHARACTER_STRING = 255  # octets in one TXT character-string (RFC 1035 §3.3.14)
MAX_TTL = 604_800  # one week
MAX_EXTRA_KEYS = 20
MAX_EXTRA_KEY_LENGTH = 64
MAX_EXTRA_STRING = 256
EXTRA_CONFIG_FIELD = "resource.config.extra_config"

IN = dns.rdataclass.IN
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")  # RFC 1123 §2.1
# Owners of TXT/SRV records may carry service labels such as `_sip` or `_dmarc` (RFC 8552).
_SERVICE_LABEL = re.compile(r"^_?(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NAME_CHARACTERS = "may only contain ASCII letters, digits, '-', '.' (and '_' in service labels)"
_TYPES_WITH_PRIORITY = ("MX", "SRV")


# ---- names ---------------------------------------------------------------------------------------


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


# ---- free text and extra_config --------------------------------------------------------------------


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


# ---- values ------------------------------------------------------------------------------------


def check_target(record_type: str, target: str) -> str:
    """Validate the value for its record type and return it as stored.

    Addresses in their canonical text, host names as `name_text`, TXT as sent.
    """
    field = "resource.target"
    if not isinstance(target, str) or not target:
        raise InvalidRequest(field, "must not be empty")
    if record_type in ("A", "AAAA"):
        return presentation(_address(record_type, target))
    if record_type == "TXT":
        if len(target) > MAX_TXT_LENGTH:
            raise InvalidRequest(field, f"TXT value is longer than {MAX_TXT_LENGTH} characters")
        if problem := text_problem(target):
            raise InvalidRequest(field, f"TXT value {problem}")
        return target
    # CNAME, MX and SRV data is a domain name (RFC 1035 §3.3.1, §3.3.9; RFC 2782): an address there
    # is a common mistake.
    if _is_address(target):
        raise InvalidRequest(field, f"a {record_type} target must be a host name, not an IP address")
    return check_name(target, field=field)


def _address(record_type: str, text: str) -> dns.rdata.Rdata:
    """The A or AAAA rdata for `text`, which must be exactly an address (no spaces, zone ids, zeros
    leading an IPv4 octet). Built by its class, not `from_text`: the zone-file tokenizer would also
    take `192.0.2.1 ; comment`."""
    kind, what = (A, "an IPv4 address") if record_type == "A" else (AAAA, "an IPv6 address")
    try:
        return kind(IN, dns.rdatatype.from_text(record_type), text)
    except (dns.exception.DNSException, ValueError):
        raise InvalidRequest("resource.target", f"must be {what}, got {text!r}") from None


def _is_address(text: str) -> bool:
    """Whether a host name was given as an IP literal (with or without a final dot)."""
    try:
        name = dns.name.from_text(text)
    except dns.exception.DNSException:
        return False
    return dns.inet.is_address(name.to_text(omit_final_dot=True))


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


def srv_port_weight(extra_config: Mapping[str, object]) -> tuple[int, int]:
    """SRV records take `port` (required) and `weight` (default 0) from `extra_config`."""
    port, weight = extra_config.get("port"), extra_config.get("weight", 0)
    for name, value in (("port", port), ("weight", weight)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise InvalidRequest(
                f"resource.config.extra_config.{name}", "must be an integer from 0 to 65535 for SRV"
            )
    assert isinstance(port, int) and isinstance(weight, int)
    return port, weight


def record_rdata(
    record_type: str, target: str, priority: int | None, extra_config: Mapping[str, object]
) -> dns.rdata.Rdata:
    """The record's value as dnspython builds it, from a validated request's fields (as stored)."""
    if record_type in ("A", "AAAA"):
        return _address(record_type, target)
    rdtype = dns.rdatatype.from_text(record_type)
    if record_type == "TXT":
        return TXT(IN, rdtype, character_strings(target))
    host = dns.name.from_text(target)  # stored without the final dot; absolute all the same
    if record_type == "CNAME":
        return CNAME(IN, rdtype, host)
    if record_type == "PTR":  # written by dnsorch only, for the A/AAAA records it manages (reverse.py)
        return PTR(IN, rdtype, host)
    if record_type == "MX":
        return MX(IN, rdtype, priority, host)
    if record_type == "SRV":
        port, weight = srv_port_weight(extra_config)
        return SRV(IN, rdtype, priority, weight, port, host)
    raise InvalidRequest("resource.record_type", f"must be one of {', '.join(SUPPORTED_TYPES)}")


def character_strings(text: str) -> list[bytes]:
    """TXT text as character-strings of at most 255 octets (RFC 1035 §3.3.14), split by bytes as
    BIND and dig split long text, even inside a multi-byte character."""
    raw = text.encode("utf-8")
    step = MAX_CHARACTER_STRING
    return [raw[i : i + step] for i in range(0, len(raw), step)] or [b""]


def rdata_values(
    record_type: str, target: str, priority: int | None, extra_config: Mapping[str, object]
) -> list[str]:
    """The record's value(s) in DNS presentation format, as the `DnsChange` contract carries them."""
    return [presentation(record_rdata(record_type, target, priority, extra_config))]


def presentation(rdata: dns.rdata.Rdata) -> str:
    """`rdata.to_text()`, absolute names included, except one thing stored values fix: an IPv6
    address is written as Python writes it. dnspython writes IPv4-mapped addresses dotted
    (`::ffff:192.0.2.1`), Python 3.11's `ipaddress` in hex (`::ffff:c000:201`), which is what the
    database and workflow histories hold; both read back to the same rdata."""
    if rdata.rdtype == dns.rdatatype.AAAA:
        return str(ipaddress.IPv6Address(rdata.to_digestable()))
    return rdata.to_text()


def parse_values(
    record_type: str, values: Iterable[str], origin: dns.name.Name | str | None = None
) -> set[dns.rdata.Rdata]:
    """Presentation-format values (a contract's, or a server's answer) as rdata, so that they compare
    as what goes on the wire: `"a" "b"` and `"a""b"`, `Mail.` and `mail.` are the same data. Names
    in them stay absolute (a relative one is completed with `origin`)."""
    if isinstance(origin, str):
        origin = dns.name.from_text(origin)
    rdtype = dns.rdatatype.from_text(record_type)
    return {dns.rdata.from_text(IN, rdtype, value, origin=origin, relativize=False) for value in values}


def target_host(rdata: dns.rdata.Rdata) -> dns.name.Name | None:
    """The host an MX or SRV value points at (it must not be an alias: RFC 2181 §10.3)."""
    if isinstance(rdata, MX):
        return rdata.exchange
    if isinstance(rdata, SRV):
        return rdata.target
    return None
