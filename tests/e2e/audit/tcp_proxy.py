"""A loopback TCP proxy a test can cut and restore, to take a real database away from a gateway.

The gateway process connects to the proxy's port instead of the database's. `cut()` breaks
every open connection and refuses new ones (accepted, then closed at once), which is what a
gateway sees when its database host goes away; `restore()` lets connections through again.
Threads, not asyncio: the e2e tests are synchronous and the gateway runs in another process.
Not a mock: bytes pass through unchanged to the real server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self


class CuttableTcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; use as `with CuttableTcpProxy(host, port) as proxy:`."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self.is_up = True
        self.accepted = 0

    def __enter__(self) -> Self:
        self._spawn(self._accept_loop)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed.set()
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def cut(self) -> None:
        """Break every connection now and refuse new ones until `restore()`."""
        with self._lock:
            self.is_up = False
            sockets, self._open = self._open, set()
        for sock in sockets:
            _abort(sock)

    def restore(self) -> None:
        """Let new connections through again."""
        with self._lock:
            self.is_up = True

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            with self._lock:
                up = self.is_up
            if not up:
                _abort(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                _abort(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open |= {client, server}
            self._spawn(self._pump, client, server)
            self._spawn(self._pump, server, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with self._lock:
            self._open -= {source, sink}
        _abort(source)
        _abort(sink)


def _abort(sock: socket.socket) -> None:
    """Close at once; `shutdown` also wakes a thread blocked in `recv` on this socket."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
