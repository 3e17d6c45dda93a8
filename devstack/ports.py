"""Free loopback ports for the servers the dev stack, the soak and the test fixtures start."""

from __future__ import annotations

import contextlib
import socket


def free_port(host: str = "127.0.0.1", also_on: tuple[str, ...] = ("127.0.0.2",)) -> int:
    """A port free for both UDP and TCP on `host` and on every address of `also_on`.

    The DNS servers listen on both protocols, and on one port for all of them (an NS record has
    no port): BIND on 127.0.0.1, the Knot secondary on 127.0.0.2 (Linux routes 127/8 to lo).
    """
    for _ in range(50):
        with contextlib.ExitStack() as stack:
            tcp = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            others = [(host, socket.SOCK_DGRAM)] + [
                (address, kind) for address in also_on for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)
            ]
            try:
                for address, kind in others:
                    stack.enter_context(socket.socket(socket.AF_INET, kind)).bind((address, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for the DNS servers")
