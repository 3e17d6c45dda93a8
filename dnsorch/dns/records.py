"""DNS rules for requested records: values are checked and built as dnspython rdata.

Everything a request carries is checked before it is stored or reaches Ansible, so the playbook only
ever sees well-formed names and values: its names here in names.py, its TTL and free text in
fields.py, its values in this module. Strings are only the edges' form: the contracts and the
database hold a value in presentation format (what `rdata_values` returns), as they always have.
"""

from __future__ import annotations

import ipaddress
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
from dnsorch.dns.fields import text_problem
from dnsorch.dns.names import check_name

SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV")
MAX_TXT_LENGTH = 4000
MAX_CHARACTER_STRING = 255  # octets in one TXT character-string (RFC 1035 §3.3.14)

IN = dns.rdataclass.IN
_TYPES_WITH_PRIORITY = ("MX", "SRV")


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
    """The host a CNAME, MX or SRV value points at (an MX or SRV target must not be an alias:
    RFC 2181 §10.3)."""
    if isinstance(rdata, CNAME):
        return rdata.target
    if isinstance(rdata, MX):
        return rdata.exchange
    if isinstance(rdata, SRV):
        return rdata.target
    return None
