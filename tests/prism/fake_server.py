"""What every vendor fake shares (tests/VENDOR/fake.py): a threaded HTTP
server on loopback whose handler answers JSON, reads a request's body
whether sized or chunked (Prism forwards some bodies chunked), and logs
nothing. Each fake subclasses `Handler` with its `route`, and calls
`serve(port, Handler)`."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=None, content_type="application/json"):
        """Answers `status` with `body` as JSON (none: an empty body)."""
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        """The request's body, whether sized or chunked."""
        if self.headers.get("transfer-encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("content-length", 0)))
        data = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            data += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return data

    def json(self):
        """The request's body as JSON (none when it is empty)."""
        return json.loads(self.body() or b"null")

    def route(self):
        raise NotImplementedError

    def do_GET(self):
        self.route()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET


def serve(port, handler):
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
