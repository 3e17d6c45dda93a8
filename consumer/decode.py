"""Turn a Kafka message into a create request, or say exactly why it is poison."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field, StrictBool, ValidationError

from dnsorch.requests import CreateDnsRequest

MAX_JSON_DEPTH = 10
_REQUEST_ID_NAMESPACE = uuid.UUID("5f1d3a52-1c55-4c1e-9a0e-6b7c2e0f9d41")


class MessageBody(CreateDnsRequest):
    """A request message's value: the REST create body, plus API v2's optional `not_before` (a
    scheduled change), `expires_at` (an expiring record) and `emergency`. The accept path refuses a
    time without a UTC offset, passed, or too far ahead, as it does for v2; a value that is no time
    at all, or an `emergency` that is not a JSON boolean, is a wrong schema here."""

    not_before: datetime | None = Field(default=None)
    expires_at: datetime | None = Field(default=None)
    emergency: StrictBool = Field(default=False)


class PoisonMessage(Exception):
    """No retry can make this message valid: it goes to the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class DecodedRequest:
    body: MessageBody
    request_id: str
    message_key: str | None
    position_request_id: str | None = None
    """For a message without its own request_id: the id derived from its position alone, which is
    what such messages were given before dnsorch told an offset reset apart (see ingest.py)."""


def derived_request_id(
    topic: str, partition: int, offset: int, timestamp: int | None, key: bytes | None, value: bytes
) -> str:
    """A stable id for a message without one: the same record read again (a redelivery, a replay
    by another group) maps to the same request. A position alone is not a message's identity:
    after a broker or topic reset the offsets start again, so the record's timestamp and a digest
    of its key and value are part of it."""
    digest = hashlib.sha256()
    for part in (key, value):
        digest.update(b"-" if part is None else str(len(part)).encode() + b":" + part)
    stamp = "-" if timestamp is None or timestamp < 0 else str(timestamp)
    return str(
        uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{topic}/{partition}/{offset}/{stamp}/{digest.hexdigest()}")
    )


def position_request_id(topic: str, partition: int, offset: int) -> str:
    """The id a message without its own was given from its position alone (before resets were told apart)."""
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{topic}/{partition}/{offset}"))


def decode_key(key: bytes | None) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


def decode_request(
    value: bytes | None,
    key: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    max_bytes: int,
    timestamp: int | None = None,
) -> DecodedRequest:
    if value is None:
        raise PoisonMessage("empty message (tombstone)")
    if len(value) > max_bytes:
        raise PoisonMessage(f"oversized: {len(value)} bytes, limit {max_bytes}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PoisonMessage(f"not UTF-8: {error.reason} at byte {error.start}") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise PoisonMessage("not JSON: nested too deeply") from None
    except json.JSONDecodeError as error:
        raise PoisonMessage(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:  # e.g. an integer beyond Python's 4300-digit limit
        reason = "a number with too many digits" if "digits" in str(error) else "unreadable"
        raise PoisonMessage(f"not JSON: {reason}") from None
    if not isinstance(document, dict):
        raise PoisonMessage("wrong schema: the message must be a JSON object")
    if _depth(document) > MAX_JSON_DEPTH:
        raise PoisonMessage(f"wrong schema: nested deeper than {MAX_JSON_DEPTH} levels")

    request_id = document.pop("request_id", None)
    by_position = None
    if request_id is None:
        request_id = derived_request_id(topic, partition, offset, timestamp, key, value)
        by_position = position_request_id(topic, partition, offset)
    else:
        try:
            request_id = str(uuid.UUID(str(request_id)))
        except ValueError:
            raise PoisonMessage("wrong schema: request_id must be a UUID") from None
    try:
        body = MessageBody.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise PoisonMessage(f"wrong schema: {problems}") from None
    return DecodedRequest(body, request_id, decode_key(key), by_position)


def _depth(node: object, level: int = 1) -> int:
    if isinstance(node, dict):
        return max((_depth(v, level + 1) for v in node.values()), default=level)
    if isinstance(node, list):
        return max((_depth(v, level + 1) for v in node), default=level)
    return level
