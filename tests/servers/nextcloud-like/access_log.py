"""access_log — one line per request for a WsgiDAV server, for benchmarks.

WsgiDAV on cheroot keeps no access log. This middleware (put it first in
`middleware_stack`) appends to the file named by the config's
`access_log: {path: ...}` one line per request once its answer is sent, in
the format bench/lib.sh reads from nginx:

    METHOD STATUS REQUEST_BYTES SENT_BYTES CONTENT_LENGTH SECONDS PATH

REQUEST_BYTES is the request line, headers and body as sent (headers as
the WSGI environ holds them, so within a few bytes). It also answers
`GET /ferry-inflight` with the number of requests still being answered
(itself not counted, and not logged), so that a benchmark can wait until
every request it made has been logged.
"""

import threading
import time

from wsgidav.mw.base_mw import BaseMiddleware


def _request_bytes(environ):
    line = len(environ.get("REQUEST_METHOD", "")) + len(environ.get("PATH_INFO", "")) + 1 + 11
    if environ.get("QUERY_STRING"):
        line += 1 + len(environ["QUERY_STRING"])
    headers = 0
    for k, v in environ.items():
        if k.startswith("HTTP_"):
            headers += len(k) - 5 + 2 + len(str(v)) + 2
    for k, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(k):
            headers += len(name) + 2 + len(environ[k]) + 2
    body = environ.get("CONTENT_LENGTH") or "0"
    return line + headers + 2 + (int(body) if body.isdigit() else 0)


class AccessLog(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.lock = threading.Lock()
        self.inflight = 0
        self.out = open(config["access_log"]["path"], "a", buffering=1)

    def is_disabled(self):
        return False

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/ferry-inflight":
            with self.lock:
                body = str(self.inflight).encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        with self.lock:
            self.inflight += 1
        started = time.monotonic()
        # What later middleware does to the environ must not change the line.
        environ = dict(
            environ,
            FERRY_LOG_PATH=environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
            FERRY_LOG_BYTES=_request_bytes(environ),
        )
        status = ["000"]

        def sr(st, headers, exc_info=None):
            status[0] = st[:3]
            return start_response(st, headers, exc_info)

        try:
            answer = self.next_app(environ, sr)
        except BaseException:
            self._done(environ, status[0], 0, started)
            raise
        return _Logged(self, answer, environ, status, started)

    def _done(self, environ, status, sent, started):
        line = "%s %s %d %d %s %.3f %s\n" % (
            environ.get("REQUEST_METHOD", "-"),
            status,
            environ.get("FERRY_LOG_BYTES", 0),
            sent,
            environ.get("CONTENT_LENGTH") or "-",
            time.monotonic() - started,
            environ.get("FERRY_LOG_PATH", "-"),
        )
        with self.lock:
            self.out.write(line)
            self.inflight -= 1


class _Logged:
    """The answer's body, passed on; the request is logged when it closes."""

    def __init__(self, log, answer, environ, status, started):
        self.log, self.answer, self.environ = log, answer, environ
        self.status, self.started, self.sent, self.closed = status, started, 0, False

    def __iter__(self):
        for chunk in self.answer:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            if hasattr(self.answer, "close"):
                self.answer.close()
        finally:
            self.log._done(self.environ, self.status[0], self.sent, self.started)
