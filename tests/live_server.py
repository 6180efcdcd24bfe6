"""Run a Flask app under waitress on a free loopback port, for clients that need HTTP.

GDAL, browsers and load tests talk to a real server, not to Flask's test client::

    from live_server import live_server     # pytest puts tests/ on sys.path

    with live_server(app) as base_url:      # "http://127.0.0.1:54321"
        urllib.request.urlopen(base_url + "/collections")

The server runs in a daemon thread and is shut down (listening socket, open
connections, worker threads) when the block ends. A client that holds the GIL while it
waits on the network (GDAL through pyogrio does) must run in a child process, or it
starves the server thread: see tests/test_ogcapi_clients.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from waitress.server import create_server


@contextmanager
def live_server(app, host: str = "127.0.0.1", threads: int = 4, **options) -> Iterator[str]:
    """Serve ``app`` on ``host`` at a free port; yields the base URL (no trailing slash).

    ``options`` go to waitress (``hehu serve`` passes ``server.security.waitress_options``).
    """
    server = create_server(app, host=host, port=0, threads=threads, ident="hehu-test", **options)
    port = server.effective_port
    thread = threading.Thread(target=server.run, name=f"live-server-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        _shutdown(server, thread)


def _shutdown(server, thread: threading.Thread) -> None:
    """Close the listener and every connection from the server's own loop thread.

    Closing sockets from another thread while the loop sits in ``select`` makes it fail
    with EBADF; the trigger runs the closing inside the loop instead, which then finds
    its map empty and returns.
    """
    logging.getLogger("waitress").setLevel(logging.ERROR)

    def close_all() -> None:
        for channel in list(server._map.values()):
            if channel is not server.trigger:
                channel.close()
        server.trigger.close()

    server.trigger.pull_trigger(close_all)
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()
