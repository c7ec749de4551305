#!/usr/bin/env python3
"""The part of ClickHouse's HTTP interface hubstats uses, served by chdb (a current ClickHouse
engine in process, PyPI's `chdb`), so the ClickHouse backend's tests run on a current engine
where no current server package can be installed.

    python3 tests/tools/chdb_http.py --port PORT --path DATA_DIR

What a request does, as on a server:
- `GET /ping` answers "Ok.\n".
- The statement is the `query` URL parameter, a line break, then the request body (an
  `INSERT … FORMAT TabSeparated` in `query` takes its rows from the body; a body alone may be
  the whole statement). `database=` is the current database (`default` without it).
- Every other URL parameter is a setting of that one request: set before the statement and
  put back to its default after it. An unknown setting fails the request, as on a server.
- A failed statement answers the exception's text with the status a server gives its code:
  400 for syntax errors, 404 for unknown tables, databases and settings, 501 for what is not
  implemented, 500 otherwise.

chdb's own defaults differ from a server's: `async_insert`, `mutations_sync` and
`implicit_select` are set back to the server's 0 when the session opens. Statements run one
at a time on one session (chdb allows no more), and there are no clusters (no
`remote_servers`): cluster tests stay on clickhouse-server.
"""

import argparse
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

# URL parameters that are not settings.
NOT_SETTINGS = {"query", "database", "default_format", "user", "password", "query_id"}

# Exception codes and the HTTP status a server answers them with.
STATUS = {
    62: 400,  # SYNTAX_ERROR
    27: 400,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    6: 400,  # CANNOT_PARSE_TEXT
    117: 400,  # INCORRECT_DATA
    60: 404,  # UNKNOWN_TABLE
    81: 404,  # UNKNOWN_DATABASE
    115: 404,  # UNKNOWN_SETTING
    48: 501,  # NOT_IMPLEMENTED
}

SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Engine:
    """One chdb session, used by one request at a time."""

    def __init__(self, path):
        self.session = chdb_session.Session(path)
        self.lock = threading.Lock()
        for setting in ("async_insert", "mutations_sync", "implicit_select"):
            self.session.query(f"SET {setting} = 0")

    def run(self, statement, database, settings, output):
        """The statement's answer in `output` format; raises chdb's error when it fails."""
        with self.lock:
            self.session.query(f"USE {quote_identifier(database)}")
            applied = []
            try:
                for name, value in settings:
                    if not SETTING_NAME.match(name):
                        raise ValueError(f"Code: 115. DB::Exception: Unknown setting {name}")
                    self.session.query(f"SET {name} = {quote_value(value)}")
                    applied.append(name)
                result = self.session.query(statement, output)
                return result.bytes() if result is not None else b""
            finally:
                for name in applied:
                    self.session.query(f"SET {name} = DEFAULT")


def quote_identifier(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_value(value):
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def status_of(message):
    code = re.match(r"Code: (\d+)", message)
    return STATUS.get(int(code.group(1)), 500) if code else 500


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def answer(self, status, body, exception_code=None):
        head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}"]
        head.append("Content-Type: text/tab-separated-values; charset=UTF-8")
        head.append(f"Content-Length: {len(body)}")
        head.append("Connection: keep-alive")
        if exception_code is not None:
            head.append(f"X-ClickHouse-Exception-Code: {exception_code}")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.wfile.flush()

    def do_GET(self):
        self.serve(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.serve(self.rfile.read(length) if length else b"")

    def serve(self, body):
        url = urlsplit(self.path)
        params = parse_qsl(url.query, keep_blank_values=True)
        query = next((v for k, v in params if k == "query"), None)
        if url.path == "/ping" or (query is None and not body):
            self.answer(200, b"Ok.\n")
            return
        database = next((v for k, v in params if k == "database"), "default")
        output = next((v for k, v in params if k == "default_format"), "TabSeparated")
        settings = [(k, v) for k, v in params if k not in NOT_SETTINGS]
        text = body.decode("utf-8", "surrogateescape")
        statement = text if query is None else (query + "\n" + text if text else query)
        try:
            result = self.engine.run(statement, database, settings, output)
        except Exception as error:  # chdb raises its own error type with the server's text
            message = str(error)
            code = re.match(r"Code: (\d+)", message)
            self.answer(status_of(message), (message + "\n").encode(), code and code.group(1))
            return
        self.answer(200, result)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    args = parser.parse_args()
    Handler.engine = Engine(args.path)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
