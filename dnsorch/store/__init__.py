"""All SQL: dnsorch's rows in PostgreSQL, one module per idea, and the engine they go through.

Every write can be repeated safely: a retried activity or a redelivered request must never add a
second row, a second record or a second copy of a log line. Modules read as namespaces
(`request_rows.insert_request(conn, …)`):

- `request_rows`: a request's row, its log lines and status changes, and their outbox events;
- `served_records`: the records DNS serves for dnsorch (`dns_records`);
- `owners`: who owns a name, read the one way every path asks it; `name_transfers`: an operator's
  transfer or grant of a name;
- `name_claims`: which request may change a name now, in the order the requests were accepted;
- `expiries`: expiring records (when an expiry starts, what stands in its way, its warning event);
- `freezes`: operators' freeze windows, and the one that freezes a zone at a time;
- `dead_letters`: the Kafka messages already sent to the dead-letter topic;
- `workflow_starts`: the outbox of request workflows accepted and not yet started;
- `keys`: API keys (stored as hashes) and who they stand for;
- `managed_zone`: what dnsorch manages in one zone (`ManagedZone`), as drift and adoption read it;
  `adopted`: an adoption's writes.
"""

from dnsorch.store import (
    dead_letters,
    expiries,
    freezes,
    keys,
    name_claims,
    name_transfers,
    owners,
    request_rows,
    served_records,
    workflow_starts,
)
from dnsorch.store.adopted import OwnerChangedDuringAdoption, hold_records, write_adopted
from dnsorch.store.db import make_engine, ping, session_scope
from dnsorch.store.keys import Principal, Role
from dnsorch.store.listings import RequestFilters, select_records, select_requests
from dnsorch.store.managed_zone import ManagedZone, read_managed_zone, unfinished_requests
from dnsorch.store.models import (
    ApiKey,
    DeadLetter,
    DnsRecord,
    DnsRequest,
    FreezeWindow,
    NameClaim,
    NameOwner,
    NameTransfer,
    RequestEvent,
    WorkflowStart,
)
from dnsorch.store.zone_facts import read_zone_facts

__all__ = [
    # the engine
    "make_engine",
    "ping",
    "session_scope",
    # the tables
    "ApiKey",
    "DeadLetter",
    "DnsRecord",
    "DnsRequest",
    "FreezeWindow",
    "NameClaim",
    "NameOwner",
    "NameTransfer",
    "RequestEvent",
    "WorkflowStart",
    # modules read as namespaces
    "dead_letters",
    "expiries",
    "freezes",
    "keys",
    "name_claims",
    "name_transfers",
    "owners",
    "request_rows",
    "served_records",
    "workflow_starts",
    # API keys
    "Principal",
    "Role",
    # what dnsorch manages in a zone (drift, adoption), and adopting it
    "ManagedZone",
    "read_managed_zone",
    "unfinished_requests",
    "OwnerChangedDuringAdoption",
    "hold_records",
    "write_adopted",
    # what accept and the read side ask
    "RequestFilters",
    "select_records",
    "select_requests",
    "read_zone_facts",
]
