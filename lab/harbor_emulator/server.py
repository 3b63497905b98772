"""Process wiring: storage, the Distribution registry, background workers and the HTTP server."""

import os
import signal
import tempfile
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import Emulator, Settings
from .store import Store

BANNER = "harbor-emulator: LAB ONLY - a Harbor API stand-in for tests and demos, never for production"


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients of real Harbor expect

    def log_request(self, code="-", size="-"):
        if os.environ.get("HARBOR_EMULATOR_ACCESS_LOG"):
            super().log_request(code, size)


def build(db=None, data_dir=None, admin_password="Harbor12345", external_url=None, registry_url=None,
          start_registry=True, listen=("127.0.0.1", 8080)):
    """Create the emulator (and its Distribution registry unless registry_url/no registry)."""
    data_dir = data_dir or tempfile.mkdtemp(prefix="harbor-emulator-")
    os.makedirs(data_dir, exist_ok=True)
    store = Store(db or "sqlite:///" + os.path.join(data_dir, "harbor.db"))
    settings = Settings(admin_password=admin_password,
                        external_url=external_url or f"http://{listen[0]}:{listen[1]}",
                        registry_url=registry_url, data_dir=data_dir)
    emulator = Emulator(store, settings)
    from . import workers

    workers.attach(emulator, start_registry=start_registry)
    return emulator


class Server:
    """The emulator on a socket; `port=0` picks a free port."""

    def __init__(self, emulator, host="127.0.0.1", port=8080):
        self.emulator = emulator
        self.httpd = make_server(host, port, emulator, threaded=True, request_handler=_Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = None

    def start_background(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self.httpd.serve_forever()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        from . import workers

        workers.detach(self.emulator)


def serve(listen, admin_password, db, data_dir, registry_url, no_registry, external_url):
    host, _, port = listen.rpartition(":")
    host, port = host or "127.0.0.1", int(port)
    emulator = build(db=db, data_dir=data_dir, admin_password=admin_password, external_url=external_url,
                     registry_url=registry_url, start_registry=not no_registry and not registry_url,
                     listen=(host, port))
    server = Server(emulator, host, port)
    print(f"{BANNER}\nlistening on {server.url}", flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        from . import workers

        workers.detach(emulator)
