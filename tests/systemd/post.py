#!/usr/bin/env python3
"""Posts a public form as a browser does (stdlib only, inside the test container).

post.py SLUG name=value ... [file:cv=/path/to/cv.pdf]
GETs /f/SLUG, copies its hidden inputs (_t, _idem, ...), posts the fields (multipart when a
file is given) without following the redirect, and prints "STATUS LOCATION".
"""
import re
import sys
import urllib.error
import urllib.request
import uuid

BASE = "http://127.0.0.1:8000"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    slug, pairs = sys.argv[1], sys.argv[2:]
    page = urllib.request.urlopen(f"{BASE}/f/{slug}", timeout=30).read().decode()
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]*)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
    files = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        if key.startswith("file:"):
            files[key[5:]] = value
        else:
            fields[key] = value
    if files:
        boundary = uuid.uuid4().hex
        body = b""
        for k, v in fields.items():
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, path in files.items():
            name = path.rsplit("/", 1)[-1]
            with open(path, "rb") as f:
                data = f.read()
            body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; '
                     f'filename="{name}"\r\nContent-Type: application/pdf\r\n\r\n').encode()
            body += data + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
    else:
        body = urllib.parse.urlencode(fields).encode()
        content_type = "application/x-www-form-urlencoded"
    request = urllib.request.Request(f"{BASE}/f/{slug}", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        response = opener.open(request, timeout=60)
        print(response.status, response.headers.get("Location", ""))
    except urllib.error.HTTPError as e:
        print(e.code, e.headers.get("Location", ""))


if __name__ == "__main__":
    main()
