"""The worker's metrics endpoint, built as `dnsorch worker` builds it (its client's runtime is
`telemetry.worker_runtime`), after real runs of the Ansible activity: the Temporal SDK's own
`temporal_*` series and our `dnsorch_playbook_*` ones, on the same port.

The playbook is a stub that fails at once, so each attempt is a real ansible-runner run (≈1.5 s)
with no DNS server needed; the workflow is a tiny one that retries the activity once.
"""

from __future__ import annotations

import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from prometheus_client.parser import text_string_to_metric_families
    from temporalio.common import RetryPolicy
    from temporalio.exceptions import ActivityError
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities.ansible import AnsibleActivities
    from devstack.temporal import find_test_server
    from dnsorch import telemetry, temporal
    from dnsorch.contracts import DnsChange
    from dnsorch.settings import Settings
    from dnsorch.temporal import ensure_search_attributes
    from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration

FAILING_PLAYBOOK = """\
- name: A stand-in for nsupdate that always fails
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Fail at once
      ansible.builtin.fail:
        msg: stub playbook failed on purpose
"""


@workflow.defn(name="ApplyTwice")
class ApplyTwice:
    @workflow.run
    async def run(self, change: DnsChange) -> str:
        try:
            await workflow.execute_activity(
                "apply_dns_change",
                change,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2),
            )
        except ActivityError as error:
            return f"failed: {error.cause}"
        return "applied"


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(figures: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in figures.items() if n == name and wanted <= ls)


async def test_worker_endpoint_serves_sdk_and_playbook_metrics_after_activity_runs(tmp_path: Path) -> None:
    playbook = tmp_path / "fail.yml"
    playbook.write_text(FAILING_PLAYBOOK)
    key = tmp_path / "tsig.key"
    key.write_text('key "k" { algorithm hmac-sha256; secret "c2VjcmV0"; };\n')
    key.chmod(0o600)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=find_test_server())
    try:
        await ensure_search_attributes(env.client, "default")
        settings = Settings(
            temporal_address=env.client.service_client.config.target_host,
            state_dir=tmp_path / "state",
            playbook_path=playbook,
            tsig_key_file=key,
            worker_metrics_port=free_port(),
        )
        client = await temporal.connect(settings, runtime=telemetry.worker_runtime(settings))
        task_queue = f"metrics-{uuid.uuid4()}"
        change = DnsChange(
            request_id=str(uuid.uuid4()),
            operation="create",
            record_type="AAAA",
            domain="www.example.test",
            zone="example.test",
            values=["2001:db8::1"],
            ttl=300,
        )
        ansible = AnsibleActivities(settings)
        async with Worker(
            client, task_queue=task_queue, workflows=[ApplyTwice], activities=[ansible.apply_dns_change]
        ):
            result = await client.execute_workflow(
                ApplyTwice.run, change, id=f"metrics-{uuid.uuid4()}", task_queue=task_queue
            )
        assert result == "failed: DnsChangeFailed: stub playbook failed on purpose", result

        figures = scrape(settings.worker_metrics_port)
    finally:
        await env.shutdown()

    # Ours: one histogram observation and one attempt per playbook run, labelled by outcome.
    duration = "dnsorch_playbook_duration_seconds"
    assert value(figures, f"{duration}_count", outcome="failed", record_type="AAAA") == 2
    assert value(figures, f"{duration}_bucket", outcome="failed", record_type="AAAA", le="+Inf") == 2
    assert value(figures, f"{duration}_sum", outcome="failed", record_type="AAAA") > 0.1
    assert (
        value(figures, "dnsorch_playbook_attempts_total", outcome="failed", activity_type="apply_dns_change")
        == 2
    )
    # Batching: each attempt was a batch of one, flushed by age.
    assert value(figures, "dnsorch_batch_flushes_total", reason="age") == 2
    assert value(figures, "dnsorch_batch_changes_count") == 2
    assert value(figures, "dnsorch_batch_changes_sum") == 2
    # The SDK's: workflow end-to-end time, and the activity's failed attempts (the retry included).
    assert value(figures, "temporal_workflow_completed_total", workflow_type="ApplyTwice") == 1
    assert value(figures, "temporal_workflow_endtoend_latency_seconds_count", workflow_type="ApplyTwice") == 1
    assert value(figures, "temporal_activity_execution_failed_total", activity_type="apply_dns_change") == 2
    assert (
        value(figures, "temporal_activity_execution_latency_seconds_count", activity_type="apply_dns_change")
        == 2
    )
