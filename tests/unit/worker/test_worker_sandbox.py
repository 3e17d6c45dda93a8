"""The worker's workflow sandbox (worker/main.py): a new workflow instance reuses the worker's own
workflow module instead of executing workflows/provisioning.py again, as the SDK's default does."""

from __future__ import annotations

from typing import Any

import temporalio.converter
import temporalio.workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _fake_info  # the info the SDK validates with

from worker.main import workflow_runner
from workflows.provisioning import DnsProvisioningWorkflow


def sandboxed_class(runner: SandboxedWorkflowRunner) -> Any:
    """The workflow class a new instance of the runner runs (what the sandbox imported)."""
    defn = temporalio.workflow._Definition.must_from_class(DnsProvisioningWorkflow)
    converter = temporalio.converter.DataConverter.default
    instance = runner.create_instance(
        WorkflowInstanceDetails(
            payload_converter_factory=converter._new_payload_converter,
            failure_converter_class=converter.failure_converter_class,
            interceptor_classes=[],
            defn=defn,
            info=_fake_info,
            randomness_seed=-1,
            extern_functions={},
            disable_eager_activity_execution=False,
            worker_level_failure_exception_types=[],
            patch_activation_callback=None,
            last_completion_result=Payloads(),
            last_failure=Failure(),
        )
    )
    return instance.globals_and_locals["__temporal_workflow_class"]  # type: ignore[attr-defined]


async def test_a_new_instance_in_the_workers_sandbox_reuses_the_imported_workflow_module() -> None:
    assert sandboxed_class(workflow_runner()) is DnsProvisioningWorkflow


async def test_the_sdks_default_sandbox_imports_the_workflow_module_again() -> None:
    """What the tests' workers do: their sandbox still catches a non-deterministic call."""
    again = sandboxed_class(SandboxedWorkflowRunner())
    assert again is not DnsProvisioningWorkflow
    assert again.__qualname__ == DnsProvisioningWorkflow.__qualname__
