"""`dnsorch <command>`: one entry point (`main`) that dispatches to each role (api, worker, consumer,
migrate, dev) and runs the operators' commands, one module per command group: requests.py (through
API v2), names.py (owners and transfers, API v2), keys.py and zones.py (straight to PostgreSQL),
with the shared api_client.py, arguments.py and output.py. `python -m dnsorch.cli` runs it too.
"""

from dnsorch.cli.dispatch import main

__all__ = ["main"]
