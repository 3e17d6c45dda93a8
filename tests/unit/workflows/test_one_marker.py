"""ONE_MARKER (workflows/patches.py): every step asks its patch through `patched`, and one marker stands
for all the patches that shipped before it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, start, worker
from workflows.patches import UNDER_ONE_MARKER

WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows"
SHIPPED_AFTER_ONE_MARKER = {"served-stands-asks-dns"}
"""A patch that ships after ONE_MARKER records its own marker: list it here, never under the marker."""


def asked_patches() -> dict[str, set[str]]:
    """Each patch id the workflow's code asks `patched` or `workflow.patched`, with the modules that ask."""
    asked: dict[str, set[str]] = {}
    for path in sorted(WORKFLOWS.glob("*.py")):
        module = importlib.import_module(f"workflows.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name != "patched":
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Name) and isinstance(getattr(module, arg.id, None), str):
                asked.setdefault(getattr(module, arg.id), set()).add(path.name)
            elif isinstance(arg, ast.Constant):
                asked.setdefault(str(arg.value), set()).add(path.name)
    return asked


def test_every_patch_the_workflow_asks_is_under_one_marker_or_shipped_after_it() -> None:
    asked = asked_patches()
    asked.pop("patch_id", None)  # patches.py's own `workflow.patched(patch_id)`
    assert set(asked) - {"one-marker"} == UNDER_ONE_MARKER | SHIPPED_AFTER_ONE_MARKER, asked
    direct = {m for m in set().union(*asked.values()) if m != "patches.py"}
    assert not any("workflow.patched(" in (WORKFLOWS / m).read_text() for m in direct)


async def test_a_new_request_with_its_ptr_records_one_patch_marker(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=["2.0.192.in-addr.arpa"])
        assert (await handle.result()).status == "COMPLETED"
    history = await handle.fetch_history()
    markers = [e for e in history.events if e.marker_recorded_event_attributes.marker_name == "core_patch"]
    assert len(markers) == 1
