"""Stands in for ansible-playbook under ansible-runner when WORKER_PLAYBOOK_WARM is on.

activities/warm_playbook.py copies this file, behind a `#!python -I` line, into an executable
named `ansible-playbook`. It hands its argv, environment, cwd and stdio to the fork server
(activities/warm_zygote.py), forwards the signals it gets, and exits as the run did. Standard
library only: it starts once per run. Without a server to talk to it runs ansible-playbook cold.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import termios

SOCKET_ENV = "DNSORCH_WARM_SOCKET"
HEADER = struct.Struct("!I")  # as in warm_zygote
STATUS = struct.Struct("!i")


def main() -> int:
    argv = ["ansible-playbook", *sys.argv[1:]]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(os.environ.get(SOCKET_ENV, ""))
    except OSError as exc:
        print(f"dnsorch: no warm playbook server ({exc}); running ansible-playbook cold", file=sys.stderr)
        sys.stderr.flush()
        os.execvp(argv[0], argv)  # noqa: S606 (found on PATH, as ansible-runner would)
    release_terminal()
    body = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    socket.send_fds(conn, [HEADER.pack(len(body))], [0, 1, 2])
    conn.sendall(body)

    def forward(number: int, _: object) -> None:
        with contextlib.suppress(OSError):  # the run leader is gone: the run is over anyway
            conn.send(bytes([number]))

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, forward)
    status = b""
    while len(status) < STATUS.size and (chunk := conn.recv(STATUS.size - len(status))):
        status += chunk
    if len(status) < STATUS.size:
        print("dnsorch: the warm playbook server stopped during the run", file=sys.stderr)
        return 1
    (code,) = STATUS.unpack(status)
    if code < 0:  # killed by a signal: end the same way
        with contextlib.suppress(OSError, ValueError):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def release_terminal() -> None:
    """Let go of ansible-runner's pty, so that the run takes it as its controlling terminal, as a
    cold ansible-playbook has it (`pause` and prompts need that). Only when we lead its session."""
    if os.getsid(0) != os.getpid() or not os.isatty(0):
        return
    with contextlib.suppress(OSError):
        if os.tcgetpgrp(0) != os.getpgrp():
            return
        # A session leader letting go hangs up its terminal's foreground group, that is us.
        hangup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        try:
            fcntl.ioctl(0, termios.TIOCNOTTY)
        finally:
            signal.signal(signal.SIGHUP, hangup)


if __name__ == "__main__":
    sys.exit(main())
