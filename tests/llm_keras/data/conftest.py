"""A local HTTP server for the download tests: nothing here touches the internet."""

import http.server
import socket
import threading
from pathlib import Path

import pytest


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the files in ``server.root``; ``/cut/<name>`` announces a whole file, sends half."""

    def __init__(self, request, client_address, server):
        super().__init__(request, client_address, server, directory=str(server.root))

    def do_GET(self):
        self.server.requests.append(self.path)
        if not self.path.startswith("/cut/"):
            return super().do_GET()
        data = (self.server.root / self.path.removeprefix("/cut/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def log_message(self, format, *args):  # keep the test output clean
        pass


class FileServer:
    """``url(name)`` for a file put in ``root``; ``requests`` lists the paths asked for."""

    def __init__(self, root: Path):
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.root = root
        self._server.requests = []
        self.root = root
        self.requests = self._server.requests
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}/{name}"

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def file_server(tmp_path):
    server = FileServer(tmp_path / "served")
    server.root.mkdir()
    yield server
    server.close()


@pytest.fixture
def dead_url():
    """The URL of a port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        host, port = unused.getsockname()
    return f"http://{host}:{port}/input.txt"
