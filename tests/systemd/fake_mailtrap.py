#!/usr/bin/env python3
"""A stand-in for Mailtrap's batch API inside the test container (stdlib only).

POST /api/batch with `Authorization: Bearer <token>`: answers as Mailtrap does
({"success": true, "responses": [{"success": true, "message_ids": [...]}, ...]}) after
`latency_ms`, and appends every message (base merged in) to the --log file as one JSON line.
POST /__control {"latency_ms": N} sets the delay; GET /__messages returns the log as a list.
"""
import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"latency_ms": 0}
lock = threading.Lock()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--token", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self):
            if self.path != "/__messages":
                return self.reply(404, {"errors": ["not found"]})
            with lock:
                try:
                    with open(args.log) as f:
                        messages = [json.loads(line) for line in f if line.strip()]
                except FileNotFoundError:
                    messages = []
            self.reply(200, messages)

        def do_POST(self):
            if self.path == "/__control":
                state.update(self.body())
                return self.reply(200, state)
            if self.path != "/api/batch":
                return self.reply(404, {"errors": ["not found"]})
            if self.headers.get("Authorization") != "Bearer " + args.token:
                return self.reply(401, {"errors": ["Unauthorized"]})
            batch = self.body()
            base = batch.get("base") or {}
            messages = [{**base, **m} for m in batch.get("requests") or []]
            with lock:
                with open(args.log, "a") as f:
                    for m in messages:
                        f.write(json.dumps(m) + "\n")
            time.sleep(state["latency_ms"] / 1000)
            responses = [{"success": True, "message_ids": [str(uuid.uuid4())]} for _ in messages]
            self.reply(200, {"success": True, "responses": responses})

        def log_message(self, fmt, *a):
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
