"""A stand-in for the Graph API's messages endpoint: every POST is answered like Meta's, after a delay.

Run as its own process (``servers.graph_api`` does that) so that its work is not the load generator's:

    python -m bench.harness.graph_api PORT LATENCY_SECONDS
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(port: int, latency: float) -> None:
    """Serve on 127.0.0.1:``port`` until killed, one thread per connection."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            time.sleep(latency)
            data = json.dumps(sent(str(body.get("to") or ""))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return None

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def sent(to: str) -> dict[str, object]:
    """Meta's answer to a message sent to ``to``, with a fresh message id."""
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": f"wamid.GRAPH{uuid.uuid4().hex}"}],
    }


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]))
