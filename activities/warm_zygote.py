"""The warm playbook's fork server: imports the config-free part of Ansible once, then forks one
ansible-playbook run per client (activities/warm_client.py).

Started by activities/warm_playbook.py as a script; standard library only at import. Ansible reads
its configuration (and so each run's environment) when `ansible.constants` is imported, so this
process imports only modules that do not: every run reads its own configuration in its child.

Per connection it forks a run leader, which receives the client's argv, environment, cwd and stdio
fds, forks the run itself in a session of its own, and waits. When the client goes away (ansible-
runner killed it on cancel or timeout) or this server dies, the leader kills the run's whole
process tree, so nothing outlives the run. Signals the client receives are forwarded to the run.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import gc
import importlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import sys
import termios
import traceback
from typing import Any

# What a run imports that reads neither Ansible's configuration (ansible.constants, checked
# below) nor the environment at import time: listed from the modules of a real run (ansible-core
# 2.19), their own imports included. A module missing here is simply imported by each run.
PRE_IMPORTED = (
    "yaml",
    "jinja2.nativetypes",
    "jinja2.sandbox",
    "multiprocessing.queues",
    "multiprocessing.popen_fork",
    "multiprocessing.shared_memory",
    "multiprocessing.synchronize",
    "cryptography.hazmat.backends.openssl",
    "packaging.specifiers",
    "configparser",
    "difflib",
    "getpass",
    "pprint",
    "pty",
    "tarfile",
    "tomllib",
    "ansible.module_utils.basic",
    "ansible.module_utils.connection",
    "ansible._internal._templating._jinja_patches",
    "ansible._internal._templating._access",
    "ansible._internal._templating._utils",
    "ansible._internal._templating._errors",
    "ansible._internal._yaml._errors",
    "ansible._internal._errors._captured",
    "ansible._internal._errors._task_timeout",
    "ansible._internal._ssh._ssh_agent",
    "ansible._internal._display_utils",
    "ansible._internal._datatag._wrappers",
    "ansible.context",
    "ansible.parsing.splitter",
    "ansible.parsing.utils.addresses",
    "ansible.utils._junit_xml",
    "ansible.utils.collection_loader",
    "ansible.utils.hashing",
    "ansible.utils.path",
)
HEADER = struct.Struct("!I")  # client -> leader: length of the JSON request, sent with the fds
STATUS = struct.Struct("!i")  # leader -> client: the run's exit code, or -signal
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    """Serve on the socket `argv[1]` until stdin (a pipe from the worker) closes."""
    path = argv[1]
    for module in PRE_IMPORTED:
        with contextlib.suppress(ImportError):  # another ansible-core: that run imports it itself
            importlib.import_module(module)
    if "ansible.constants" in sys.modules:
        raise SystemExit("a pre-imported module read Ansible's configuration")
    gc.freeze()  # the runs' collections skip what we imported (and so leave those pages shared)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` removes our directory
    signal.signal(signal.SIGCHLD, lambda *_: _reap())  # a leader is reaped (and counted) at once
    server = os.getpid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(64)
        print("ready", flush=True)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # the worker stops reading our stdout once we are ready
        os.close(null)
        while True:
            ready, _, _ = select.select([listener.fileno(), 0], [], [])
            if 0 in ready and not os.read(0, 512):
                return 0  # the worker is gone
            if listener.fileno() in ready:
                conn, _ = listener.accept()
                if os.fork() == 0:
                    code = 1
                    try:  # never back into this loop, nor its `finally`
                        listener.close()
                        code = _lead(conn, server)
                    except BaseException:
                        traceback.print_exc()
                    finally:
                        os._exit(code)
                conn.close()
    finally:
        listener.close()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _lead(conn: socket.socket, server: int) -> int:
    """The run leader: start one run for the client on `conn`, watch both, tell it how it ended."""

    def server_died(*_: object) -> None:
        _end_all()
        os._exit(1)  # the client sees no status: the run failed

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # we wait for our own children
    signal.signal(signal.SIGTERM, server_died)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # what the run orphans comes back to us, to be killed
    if os.getppid() != server:
        return 1
    request, fds = _receive(conn)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _play(request, fds)
    try:
        for fd in fds:
            os.close(fd)
        code = _watch(conn, pid)
    finally:
        _end_all()  # as the cold path's kill_leftovers: nothing outlives its run
    with contextlib.suppress(OSError):
        conn.sendall(STATUS.pack(code))
    return 0


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
    if len(header) != HEADER.size or len(fds) != 3:
        raise SystemExit("a client sent a bad request")
    (size,) = HEADER.unpack(header)
    body = bytearray()
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise SystemExit("a client left mid-request")
        body += chunk
    return json.loads(body), fds


def _watch(conn: socket.socket, pid: int) -> int:
    """Wait for the run to end; forward the client's signals; kill the run if the client leaves."""
    ended = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([conn.fileno(), ended], [], [])
        if ended in ready:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        try:
            signals = conn.recv(64)
        except OSError:
            signals = b""
        if not signals:  # the client was killed: so is its run
            return 1
        for number in signals:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, number)


def _play(request: dict[str, Any], fds: list[int]) -> None:
    """The run itself: become the client's ansible-playbook, then exit as it would."""
    code = 1
    try:
        os.setsid()  # its own process group, which forwarded signals reach
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, 65536)
        if os.isatty(0):  # the pty the client let go of becomes ours, as a cold run's is
            with contextlib.suppress(OSError):
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)
        from ansible.cli.playbook import main as playbook_main

        playbook_main(sys.argv)
        code = 0
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            code = done.code or 0
        else:
            print(done.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # ansible removes its local temp dir at exit
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _end_all() -> None:
    """Kill and reap every process below this one (it is their subreaper), until none is left."""
    while True:
        kill_tree(os.getpid(), keep_root=True)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def kill_tree(root: int, *, keep_root: bool = False) -> None:
    """SIGKILL `root` and every descendant, from one snapshot of /proc (killed parents orphan
    their children, which ansible-playbook's workers, in sessions of their own, would outlive)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    parents[int(entry.name)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
    doomed = {root}
    while grown := {pid for pid, ppid in parents.items() if ppid in doomed} - doomed:
        doomed |= grown
    if keep_root:
        doomed.discard(root)
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _prctl(option: int, value: int) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
