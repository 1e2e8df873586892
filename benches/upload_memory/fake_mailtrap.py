# A loopback stand-in for Mailtrap's /api/batch: every message accepted.
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length', 0)); body = self.rfile.read(n)
        reqs = json.loads(body).get('requests', [])
        out = json.dumps({"success": True, "responses": [{"success": True, "message_ids": ["m%d" % i]} for i,_ in enumerate(reqs)]}).encode()
        self.send_response(200); self.send_header('Content-Type','application/json'); self.send_header('Content-Length', str(len(out))); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
