"""The `type` of every ApplicationError an activity raises on purpose, named once.

Workflows decide on these names (retry or not, REJECTED or NEEDS_ATTENTION) and histories record
them, so a name never changes once shipped.
"""

DNS_CHANGE_FAILED = "DnsChangeFailed"
"""The Ansible step failed in a way a retry may get past (a timeout, SERVFAIL)."""
DNS_CHANGE_REJECTED = "DnsChangeRejected"
"""The server refused our key or the zone, or our own configuration is missing: never retried."""
DNS_CHANGE_CONFLICT = "DnsChangeConflict"
"""The UPDATE's prerequisites failed: data dnsorch does not manage is in the way (REJECTED)."""
DNS_CHANGE_NOT_SERVED = "DnsChangeNotServed"
"""The primary does not serve the change after the apply."""
NAME_OWNED_BY_ANOTHER_ACCOUNT = "NameOwnedByAnotherAccount"
"""The name belongs to another account (REJECTED): only an operator can transfer it."""
REQUEST_ENDED = "RequestEnded"
"""A name's turn was asked for a request that has already ended."""
REQUEST_ROW_MISSING = "RequestRowMissing"
"""A log line was written for a request whose row does not exist."""
REQUEST_UNSTORABLE = "RequestUnstorable"
"""PostgreSQL refused the request's values: retrying cannot make them storable."""
SERVERS_UNKNOWN = "AuthoritativeServersUnknown"
"""A zone's authoritative servers could not be looked up (verify everywhere cannot ask them)."""
