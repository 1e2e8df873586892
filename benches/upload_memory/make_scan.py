# A random-noise PNG and an HTML page showing it: LibreOffice makes a ~5 MiB PDF of it.
import os, zlib, struct
w, h = 1400, 1240
raw = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open("noise.png", "wb").write(png)
open("scan.html", "w").write('<html><body><p>Scanned CV</p><img src="noise.png" width="600"></body></html>')
