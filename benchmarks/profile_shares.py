"""Where a py-spy profile's samples went, by the categories issue 24 names.

Usage: python benchmarks/profile_shares.py FILE... (raw collapsed stacks: `py-spy record --format raw`,
as `benchmarks/cpu_per_record.py --profile DIR` writes them). A sample counts for the first category
one of its frames matches, in the order below; a sample of a child process (py-spy's
`--subprocesses`: the worker's ansible-playbook runs and the module processes they start) counts as
"child processes"; idle samples are left out unless `--idle`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

CATEGORIES = [
    ("sandbox: new workflow instance", ("_create_instance", "workflow_sandbox/_importer.py")),
    ("sandbox: activation", ("workflow_sandbox/",)),
    ("pool pre-ping", ("_do_ping", "do_ping")),
    ("SQLAlchemy / psycopg2", ("sqlalchemy/", "psycopg2")),
    ("ansible-runner / pexpect", ("ansible_runner/", "pexpect/", "ptyprocess/")),
    ("Temporal SDK (worker, converter)", ("temporalio/",)),
    ("dnspython", ("dns/",)),
    ("pydantic", ("pydantic",)),
    ("logging", ("logging/",)),
    ("OpenTelemetry", ("opentelemetry",)),
    ("HTTP: uvicorn, Starlette, FastAPI", ("uvicorn/", "starlette/", "fastapi/", "h11/", "httptools")),
    ("asyncio and thread hand-offs", ("asyncio/", "concurrent/futures")),
]
IDLE = (
    "select (selectors.py",
    "poll (selectors.py",
    "epoll",
    "_worker (concurrent/futures/thread.py)",
    "wait (threading.py",
)


def shares(path: Path, idle: bool) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        if not idle and any(marker in frames[-1] for marker in IDLE):
            continue
        n = int(count)
        total += n
        if sum(frame.startswith("process ") for frame in frames) > 1:
            counts["child processes (ansible-playbook and its modules)"] += n
            continue
        category = next((name for name, marks in CATEGORIES if any(m in stack for m in marks)), "other")
        counts[category] += n
    return counts, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--idle", action="store_true", help="count samples of threads waiting too")
    args = parser.parse_args()
    for path in args.files:
        counts, total = shares(path, args.idle)
        print(f"{path} ({total} busy samples)")
        for name, n in counts.most_common():
            print(f"  {100 * n / max(total, 1):5.1f} %  {name}")


if __name__ == "__main__":
    main()
