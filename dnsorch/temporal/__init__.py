"""Temporal, as the core reaches it: connecting (search attributes included) and the typed gateway to
a request's workflow, the one place that names what the workflow answers to. The core imports no
workflow (the import-linter contract), so names stand for the workflow's handlers here.
"""

from dnsorch.temporal import search_attributes
from dnsorch.temporal.client import connect, ensure_search_attributes
from dnsorch.temporal.gateway import (
    EXPIRY_HANDLERS,
    EXPIRY_WORKFLOW_TYPE,
    HANDLERS,
    WORKFLOW_TYPE,
    Handler,
    ProvisioningGateway,
    StartedWorkflow,
    UpdateRefused,
    WorkflowNotFound,
    is_temporal_unreachable,
)
from dnsorch.temporal.search_attributes import SEARCH_ATTRIBUTE_NAMES, initial_attributes, request_attributes

__all__ = [
    # connecting
    "connect",
    "ensure_search_attributes",
    # the request's workflow, typed
    "HANDLERS",
    "WORKFLOW_TYPE",
    "Handler",
    "ProvisioningGateway",
    "StartedWorkflow",
    "UpdateRefused",
    "WorkflowNotFound",
    "is_temporal_unreachable",
    # an expiring record's workflow, typed
    "EXPIRY_HANDLERS",
    "EXPIRY_WORKFLOW_TYPE",
    # search attributes operators filter on
    "SEARCH_ATTRIBUTE_NAMES",
    "initial_attributes",
    "request_attributes",
    "search_attributes",
]
