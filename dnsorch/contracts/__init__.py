"""Types only: what a request is, the change it makes, drift, errors and failure-type names.

The workflows, the activities and every door share these. Workflow inputs and results are stored
in Temporal's history, so they hold request data only, never a secret, and new fields must have
defaults so running histories keep decoding. This package imports nothing else of dnsorch.

Its modules do without `from __future__ import annotations`: the workflow sandbox holds only the
modules a workflow imports (this package), not the files behind it, so a field annotated as a string
could not be resolved there when Temporal decodes a payload (tests/unit/dnsorch/contracts/test_contracts.py).
"""

from dnsorch.contracts.change import (
    ApplyResult,
    ChangePlan,
    ChangeSet,
    ChangeSetResult,
    DnsChange,
    NameServer,
    PtrApplied,
    ServedCheck,
    ServerAnswer,
    TurnsPlanned,
    TurnsToPlan,
    ZoneServed,
)
from dnsorch.contracts.drift import (
    DriftedRRset,
    DriftRequests,
    DriftRequestStart,
    DriftScanInput,
    DriftScanSummary,
    ManagedRecord,
    ServedBy,
    ZoneDriftSummary,
    ZoneScan,
    ZoneScanInput,
)
from dnsorch.contracts.errors import (
    AlreadyApproved,
    DnsorchError,
    FourEyes,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    NameNotManaged,
    NameOwnedByAnotherAccount,
    ProtectedName,
    RecordConflict,
    RecordExists,
    RecordMissing,
    RequestFinished,
    RequestNotFound,
    ServiceUnavailable,
)
from dnsorch.contracts.expiry import (
    EXPIRING,
    EXPIRY_SOURCE,
    ExpiryInput,
    ExpiryNotice,
    ExpiryOutcome,
    ExpiryState,
    ExtendExpiry,
    expiry_workflow_id_for,
)
from dnsorch.contracts.failures import (
    DNS_CHANGE_CONFLICT,
    DNS_CHANGE_FAILED,
    DNS_CHANGE_NOT_SERVED,
    DNS_CHANGE_REJECTED,
    NAME_OWNED_BY_ANOTHER_ACCOUNT,
    REQUEST_ENDED,
    REQUEST_ROW_MISSING,
    REQUEST_UNSTORABLE,
    SERVERS_UNKNOWN,
)
from dnsorch.contracts.freeze import Freeze
from dnsorch.contracts.name_lock import LockRequest, LockState
from dnsorch.contracts.request import (
    DRIFT_SOURCE,
    PTR_SOURCE,
    TERMINAL_STATUSES,
    UNFINISHED_STATUSES,
    Action,
    ApplyPolicy,
    DnsRequestSpec,
    Judgement,
    OperatorAction,
    ProvisioningInput,
    RequestStatus,
    Reschedule,
    StatusChange,
    WorkflowState,
    ZoneFacts,
    workflow_id_for,
)
from dnsorch.contracts.rows import (
    BeginAnswer,
    BeginRequest,
    FinishRequest,
    KeptPtr,
    LogLine,
    LogStep,
    RecordRow,
)

__all__ = [
    # a request and its workflow
    "DRIFT_SOURCE",
    "PTR_SOURCE",
    "TERMINAL_STATUSES",
    "UNFINISHED_STATUSES",
    "Action",
    "ApplyPolicy",
    "DnsRequestSpec",
    "OperatorAction",
    "Reschedule",
    "Judgement",
    "ProvisioningInput",
    "RequestStatus",
    "StatusChange",
    "WorkflowState",
    "ZoneFacts",
    "workflow_id_for",
    # expiring records
    "EXPIRING",
    "EXPIRY_SOURCE",
    "ExpiryInput",
    "ExpiryNotice",
    "ExpiryOutcome",
    "ExpiryState",
    "ExtendExpiry",
    "expiry_workflow_id_for",
    # freeze windows
    "Freeze",
    # the change, its plan, what the servers answer
    "ApplyResult",
    "ChangePlan",
    "ChangeSet",
    "ChangeSetResult",
    "DnsChange",
    "NameServer",
    "PtrApplied",
    "ServedCheck",
    "ServerAnswer",
    "TurnsPlanned",
    "TurnsToPlan",
    "ZoneServed",
    # the request's row
    "BeginAnswer",
    "BeginRequest",
    "FinishRequest",
    "KeptPtr",
    "LogLine",
    "LogStep",
    "RecordRow",
    # the name lock (workflows started before lean-request)
    "LockRequest",
    "LockState",
    # drift
    "DriftRequestStart",
    "DriftRequests",
    "DriftScanInput",
    "DriftScanSummary",
    "DriftedRRset",
    "ManagedRecord",
    "ServedBy",
    "ZoneDriftSummary",
    "ZoneScan",
    "ZoneScanInput",
    # errors the core raises
    "DnsorchError",
    "IdempotencyConflict",
    "AlreadyApproved",
    "FourEyes",
    "IllegalTransition",
    "InvalidRequest",
    "NameNotManaged",
    "NameOwnedByAnotherAccount",
    "ProtectedName",
    "RecordConflict",
    "RecordExists",
    "RecordMissing",
    "RequestFinished",
    "RequestNotFound",
    "ServiceUnavailable",
    # failure types activities raise (ApplicationError.type)
    "DNS_CHANGE_CONFLICT",
    "DNS_CHANGE_FAILED",
    "DNS_CHANGE_NOT_SERVED",
    "DNS_CHANGE_REJECTED",
    "NAME_OWNED_BY_ANOTHER_ACCOUNT",
    "REQUEST_ENDED",
    "REQUEST_ROW_MISSING",
    "REQUEST_UNSTORABLE",
    "SERVERS_UNKNOWN",
]
