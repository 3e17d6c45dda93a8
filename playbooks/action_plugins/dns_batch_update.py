"""dnsorch's playbook runs `dns_batch_update` inside ansible-playbook itself, not as a module.

The play targets localhost over the local connection, so a module only adds a Python process of its
own per run: AnsiballZ packs the module and its module_utils into a zip, and the new interpreter
compiles them from that zip on every run. Measured on the 2-core dev machine, an empty batch's run
cost about 1.1 s of CPU with the module and 0.7 s with a play that sends nothing at all; this action
runs the same code (playbooks/library/dns_batch_update.py, loaded from its file) in the process
that already has Ansible imported. The module stays for playbooks that call it on another host.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.plugins.action import ActionBase

_LIBRARY = Path(__file__).resolve().parent.parent / "library" / "dns_batch_update.py"
_loaded: ModuleType | None = None


def _batch_module() -> ModuleType:
    global _loaded
    if _loaded is None:
        spec = importlib.util.spec_from_file_location("dnsorch_dns_batch_update", _LIBRARY)
        assert spec is not None and spec.loader is not None
        _loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_loaded)
    return _loaded


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        batch = _batch_module()
        _, params = self.validate_argument_spec(argument_spec=batch.ARGUMENT_SPEC)
        try:
            result.update(batch.run(params))
        except batch.Unreadable as error:
            result.update(failed=True, msg=str(error))
        return result
