"""Process wiring: storage, the Distribution registry, background workers and the HTTP server."""

import email.utils
import io
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from http import HTTPStatus

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

from .app import Emulator, Settings
from .store import Store

BANNER = "harbor-emulator: LAB ONLY - a Harbor API stand-in for tests and demos, never for production"


class _Handler(WSGIRequestHandler):
    """werkzeug's request handler with HTTP/1.1 keep-alive.

    werkzeug's development server answers every request with `Connection: close`, so each
    request paid for a new TCP connection, a new thread and a new database connection.
    Clients of real Harbor (and our benchmarks) keep connections alive: run_wsgi below
    frames every response (Content-Length or chunked) and drains the request body, so the
    connection can carry the next request.
    """

    protocol_version = "HTTP/1.1"
    timeout = 300  # an idle keep-alive connection is closed after this many seconds
    max_header_line = 65536  # http.client's limits, which http.server applies
    max_headers = 100

    def parse_request(self):
        """http.server's parse_request (same checks, answers and keep-alive rules), with the header
        lines read into a light _Headers: http.server's e-mail parser was a fifth of the CPU of
        a small GET."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if not words:
            return False
        if len(words) >= 3:
            version = words[-1]
            number = _http_version(version)
            if number is None:
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad request version (%r)" % version)
                return False
            if number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if number >= (2, 0):
                self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                                "Invalid HTTP version (%s)" % version.split("/", 1)[1])
                return False
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request syntax (%r)" % requestline)
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad HTTP/0.9 request type (%r)" % command)
                return False
        if path.startswith("//"):  # as http.server: never an open redirect to //host
            path = "/" + path.lstrip("/")
        self.command, self.path = command, path
        headers = self._read_headers()
        if headers is None:
            return False
        self.headers = headers
        connection = headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        if headers.get("Expect", "").lower() == "100-continue" and self.protocol_version >= "HTTP/1.1" \
                and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def _read_headers(self):
        pairs = []
        lines = 0
        while True:
            line = self.rfile.readline(self.max_header_line + 1)
            if len(line) > self.max_header_line:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long",
                                "got more than %d bytes when reading header line" % self.max_header_line)
                return None
            lines += 1  # http.client counts every line, the closing empty one too
            if lines > self.max_headers:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers",
                                "got more than %d headers" % self.max_headers)
                return None
            if line in (b"\r\n", b"\n", b""):
                return _Headers(pairs)
            text = str(line, "iso-8859-1")
            if text[0] in " \t" and pairs:  # an obsolete folded line continues the previous value
                name, value = pairs[-1]
                pairs[-1] = (name, value + "\r\n" + text.rstrip("\r\n"))
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip(" \t") or " " in name:
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header line (%r)" % text.rstrip("\r\n"))
                return None
            pairs.append((name, value.lstrip(" \t").rstrip("\r\n")))

    def date_time_string(self, timestamp=None):
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return _http_date()

    def setup(self):
        super().setup()
        _track(self.server, self.connection, True)

    def finish(self):
        _track(self.server, self.connection, False)
        super().finish()

    def log_request(self, code="-", size="-"):
        if os.environ.get("HARBOR_EMULATOR_ACCESS_LOG"):
            super().log_request(code, size)

    def log_error(self, format, *args):
        if "timed out" not in format:  # idle keep-alive connections time out: not an error
            super().log_error(format, *args)

    def run_wsgi(self):
        if getattr(self.server, "stopping", False):
            self.close_connection = True
            return
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        body = self._request_body(environ)
        if body is None:
            return
        started = {}

        def start_response(status, headers, exc_info=None):
            if exc_info and started.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"], started["headers"] = status, headers
            return lambda data: None  # the legacy write() callable: the emulator never uses it

        try:
            chunks = self.server.app(environ, start_response)
        except Exception:  # the emulator turns its own errors into responses; this is a bug
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            started = {"status": "500 INTERNAL SERVER ERROR", "headers": [("Content-Length", "0")]}
            chunks = []
        try:
            self._send(environ, started, chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        if not self.close_connection:
            self._drain(body)

    def _request_body(self, environ):
        """wsgi.input bounded to this request's body, so the next request stays readable."""
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's DechunkedInput
            return environ["wsgi.input"]
        raw = environ.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self.send_error(400, "invalid Content-Length")
            self.close_connection = True
            return None
        stream = LimitedStream(self.rfile, length) if length else io.BytesIO(b"")
        environ["wsgi.input"] = stream
        return stream

    def _drain(self, body):
        """Read what the application left of the body; a large rest is cheaper to drop with the connection."""
        try:
            if isinstance(body, LimitedStream):
                if body.limit - body.tell() > 1 << 20:
                    self.close_connection = True
                else:
                    body.exhaust()
            elif not isinstance(body, io.BytesIO):
                while body.read(1 << 16):
                    pass
        except (OSError, ValueError):
            self.close_connection = True

    def _send(self, environ, started, chunks):
        iterator = iter(chunks)
        try:
            first = next(iterator, b"")  # a generator application calls start_response by now
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            iterator, first = iter(()), b""
            started.update(status="500 INTERNAL SERVER ERROR", headers=[("Content-Length", "0")])
        status, headers = started["status"], started["headers"]
        code = int(status.split(None, 1)[0])
        keys = {key.lower() for key, _ in headers}
        bodiless = environ["REQUEST_METHOD"] == "HEAD" or code in (204, 304) or 100 <= code < 200
        chunked = not bodiless and "content-length" not in keys and self.request_version == "HTTP/1.1"
        if not bodiless and "content-length" not in keys and not chunked:
            self.close_connection = True  # HTTP/1.0 without a length: the body ends with the connection
        lines = [f"{self.protocol_version} {status}", f"Server: {self.version_string()}",
                 f"Date: {self.date_time_string()}"]
        lines += [f"{key}: {value}" for key, value in headers]
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        started["sent"] = True
        size = 0
        pending = [head]
        for data in _chain(first, iterator):
            if not data or bodiless:
                continue
            size += len(data)
            pending.append(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if len(pending) > 16 or size > 1 << 16:
                self.wfile.write(b"".join(pending))
                pending = []
        if chunked:
            pending.append(b"0\r\n\r\n")
        self.wfile.write(b"".join(pending))
        self.log_request(code, size)


class _Headers:
    """A request's header fields in arrival order; names compare without case. What http.server,
    werkzeug's make_environ and this module ask of a header object: get, items, [], in."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = pairs

    def get(self, name, default=None):
        name = name.lower()
        for key, value in self.pairs:
            if key.lower() == name:
                return value
        return default

    def get_all(self, name, default=None):
        name = name.lower()
        found = [value for key, value in self.pairs if key.lower() == name]
        return found or default

    def __getitem__(self, name):
        return self.get(name)

    def __contains__(self, name):
        return self.get(name) is not None

    def items(self):
        return list(self.pairs)

    def keys(self):
        return [key for key, _ in self.pairs]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.pairs)


def _http_version(text):
    """(major, minor) of "HTTP/x.y" as http.server accepts it, or None."""
    if not text.startswith("HTTP/"):
        return None
    parts = text[5:].split(".")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in parts):
        return None
    return int(parts[0]), int(parts[1])


_date = (0, "")  # (second, Date header of that second), replaced as one tuple: safe across threads


def _http_date():
    """The Date header, formatted once a second rather than once a response."""
    global _date
    now = int(time.time())
    second, text = _date
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _date = (now, text)
    return text


def _chain(first, rest):
    yield first
    yield from rest


def _track(server, connection, add):
    """Remember open client connections, so stopping the server can close idle keep-alive ones."""
    lock = getattr(server, "connections_lock", None)
    if lock is None:
        return
    with lock:
        if add:
            server.connections.add(connection)
        else:
            server.connections.discard(connection)


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
        self.httpd.stopping = False
        self.httpd.connections = set()
        self.httpd.connections_lock = threading.Lock()
        self.host, self.port = host, self.httpd.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = None

    def start_background(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def close_connections(self):
        """End keep-alive connections: a stopped emulator must look down to its clients."""
        with self.httpd.connections_lock:
            connections = list(self.httpd.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve_forever(self):
        # a short poll interval makes SIGTERM (shutdown) take milliseconds, not half a second
        self.httpd.serve_forever(poll_interval=0.05)

    def stop(self):
        self.httpd.stopping = True
        self.httpd.shutdown()
        self.httpd.server_close()
        self.close_connections()
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
