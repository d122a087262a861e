"""Running the API: `om serve`'s server on the main thread, the engine's
work loop (embedded: driving orders, timers, deliveries) on a thread beside
it, both over the one service; stopped by Ctrl-C or SIGTERM (uvicorn's
graceful shutdown: requests in flight are answered first)."""

from __future__ import annotations

import threading
from typing import Callable, Optional

from om_dsl.api import auth
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
) -> None:
    """Serve until interrupted. `work(stop)`: the engine's loop, run on its own thread."""
    import uvicorn

    from om_dsl import service as svc

    app = build_app(service, tokens, callbacks, settings)
    config = server_config(app, request_timeout_s, *tls)
    try:
        config.load()  # a certificate that cannot be read fails here, before anything listens
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise svc.Misconfigured(f"cannot use the TLS certificate {tls[0]} and key {tls[1]}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        sock = listening_socket(*listen)
    except (OSError, OverflowError) as exc:
        raise svc.Misconfigured(f"cannot listen on {listen[0]}:{listen[1]}: {getattr(exc, 'strerror', None) or exc}") from None
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
