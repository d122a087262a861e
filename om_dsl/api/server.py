"""Running the API: `om serve`'s server on the main thread, the engine's
work loop (embedded: driving orders, timers, deliveries) on a thread beside
it, both over the one service; stopped by Ctrl-C or SIGTERM (uvicorn's
graceful shutdown: requests in flight are answered first).

`processes`: `om serve --workers N` forks N - 1 more processes, each with a
listening socket of its own on the one port (SO_REUSEPORT: the kernel spreads
new connections evenly over them, where one shared socket lets whichever
process wakes first take them all) and its own service (its own connections
to the store), so HTTP, the schema check, planning and rendering use every
core; the runner lock serializes their commits. Only the first process runs
the work loop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from typing import Callable, Iterator, Optional

from om_dsl.api import auth, schemas
from om_dsl.api.app import DEFAULTS, Settings, build_app
from om_dsl.systems.asgi import ServerThread, listening_socket, server_config


def serve(
    service,
    tokens: auth.Tokens,
    listen: tuple[str, int],
    callbacks=None,
    work: Optional[Callable[[threading.Event], None]] = None,
    request_timeout_s: float = 5.0,
    tls: tuple = (None, None),
    ready: Optional[Callable[[str], None]] = None,
    settings: Settings = DEFAULTS,
    sock=None,
) -> None:
    """Serve until interrupted. `work(stop)`: the engine's loop, run on its own thread.
    `sock`: a listening socket to serve (`processes`'s), instead of binding `listen`."""
    import uvicorn

    from om_dsl import service as svc

    app = build_app(service, tokens, callbacks, settings)
    threading.Thread(target=schemas.warm, name="om-schemas", daemon=True).start()  # the request checks compiled before the first orders come
    config = server_config(app, request_timeout_s, *tls)
    try:
        config.load()  # a certificate that cannot be read fails here, before anything listens
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise svc.Misconfigured(f"cannot use the TLS certificate {tls[0]} and key {tls[1]}: {getattr(exc, 'strerror', None) or exc}") from None
    if sock is None:
        sock = bind(listen)
    stop = threading.Event()
    loop = threading.Thread(target=work, args=(stop,), name="om-work", daemon=True) if work else None
    try:
        if loop is not None:
            loop.start()
        if ready is not None:
            host, port = sock.getsockname()[:2]
            ready(f"{'https' if tls[0] else 'http'}://{host}:{port}")
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the signal again once it has shut down
        pass
    finally:
        stop.set()
        if loop is not None:
            loop.join(60)
        sock.close()


def in_thread(service, tokens: auth.Tokens, host: str = "127.0.0.1", port: int = 0, callbacks=None, request_timeout_s: float = 5.0, tls: tuple = (None, None), settings: Settings = DEFAULTS) -> ServerThread:
    """The API on a thread of its own (tests, the benchmark): `.start()`, `.url`, `.stop()`."""
    return ServerThread(build_app(service, tokens, callbacks, settings), host, port, request_timeout_s, *tls, name="om-api")


def bind(listen: tuple[str, int], reuse_port: bool = False):
    from om_dsl import service as svc

    try:
        return listening_socket(*listen, reuse_port=reuse_port)
    except (OSError, OverflowError) as exc:
        raise svc.Misconfigured(f"cannot listen on {listen[0]}:{listen[1]}: {getattr(exc, 'strerror', None) or exc}") from None


STOP_S = 10.0  # a worker process has this long to answer its requests in flight and stop, then it is killed


@contextlib.contextmanager
def processes(listen: tuple[str, int], count: int, run: Callable[[object], None]) -> Iterator[object]:
    """Bind `listen`, fork `count - 1` worker processes that each bind the same
    port and call `run(sock)` (their exit code: 0, or 1 when it raised), and
    yield this one's socket.
    Call it before anything opens a database or starts a thread: a forked child
    gets copies of neither. On the way out each worker is sent SIGTERM (uvicorn
    answers what is in flight, then stops) and reaped; a worker whose parent
    dies stops too."""
    sock = bind(listen, reuse_port=count > 1)
    parent, children = os.getpid(), []
    if count > 1:  # SIGTERM: as Ctrl-C, so that the way out (stopping the workers) is taken
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        for _ in range(count - 1):
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _worker(parent, sock, run)  # never returns
            children.append(pid)
        yield sock
    finally:
        _stop(children)
        sock.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _worker(parent: int, sock, run: Callable[[object], None]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (uvicorn takes it over to shut down gracefully)
        threading.Thread(target=_orphaned, args=(parent,), name="om-parent", daemon=True).start()
        own = bind(sock.getsockname()[:2], reuse_port=True)
        sock.close()  # (the parent's: connections queued on it are the parent's to take)
        run(own)
        code = 0
    except KeyboardInterrupt:
        code = 0
    except BaseException as exc:  # noqa: BLE001 - reported, and the process ends: the others go on serving
        print(f"om serve: worker process {os.getpid()} stopped: {exc}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _orphaned(parent: int) -> None:
    """A worker whose parent is gone (kill -9) stops as if told to: nothing is left listening."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def _stop(children: list[int]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_S
    waiting = set(children)
    while waiting:
        for pid in list(waiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                waiting.discard(pid)
        if waiting and time.monotonic() > deadline:
            for pid in waiting:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        if waiting:
            time.sleep(0.05)
