"""A request's life in the core, shared by the API and the Kafka consumer: the body it arrives in,
its validation, the rules the managed records impose, approval by risk, accepting it (its row and
queued workflow start together, then the start), operating on it (read it, steer its workflow)
and the read side's lists.

The rules live here, not in routes; the workflow itself asks transitions.py what an operator may do.
"""

from dnsorch.requests import approval, freezes, queries, rules, transitions
from dnsorch.requests.accepting import Accepted, AcceptService, CreateCall, Door, idempotency_request_id
from dnsorch.requests.operating import OperateService, read_request
from dnsorch.requests.schemas import (
    AccountId,
    CreateDnsRequest,
    CreateDnsResponse,
    DnsRequestOut,
    DnsResource,
    Note,
    ProvisionedRecord,
    RecordConfig,
    RequestContext,
    StatusUpdate,
    StatusUpdateResponse,
    printable,
)
from dnsorch.requests.starting import WorkflowStarter
from dnsorch.requests.validation import OPERATIONS, build_spec, request_hash
from dnsorch.requests.workflow_input import apply_policy

__all__ = [
    # the bodies a request arrives in (v1's contract, kept field for field)
    "AccountId",
    "CreateDnsRequest",
    "CreateDnsResponse",
    "DnsRequestOut",
    "DnsResource",
    "Note",
    "ProvisionedRecord",
    "RecordConfig",
    "RequestContext",
    "StatusUpdate",
    "StatusUpdateResponse",
    "printable",
    # validation
    "OPERATIONS",
    "build_spec",
    "request_hash",
    # accept
    "AcceptService",
    "Accepted",
    "CreateCall",
    "Door",
    "apply_policy",
    "idempotency_request_id",
    "WorkflowStarter",
    # operate, and the read side
    "OperateService",
    "read_request",
    "queries",
    # modules read as namespaces: rules.check, approval.verdict, transitions.check_action
    "approval",
    "freezes",
    "rules",
    "transitions",
]
