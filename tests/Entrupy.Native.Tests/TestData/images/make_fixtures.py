#!/usr/bin/python3
"""Writes the image fixtures used by Entrupy.Native.Tests/Imaging with encoders written here, independent
of the code under test (libspng, TurboJPEG, stb_image): PNG via numpy + zlib, JPEG via a small baseline
encoder (float DCT, flat quantiser, fixed-length Huffman codes), BMP by hand.

Each image X.png / X.jpg / X.bmp comes with X.<w>x<h>.<gray|rgb>.raw (or X.expected.*.raw for alpha
variants): the pixels the decoder must produce (PNG/BMP exactly, JPEG within a small tolerance).
Deterministic: re-running rewrites identical files. Usage: /usr/bin/python3 make_fixtures.py
"""
import os
import struct
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def raw(stem, pixels):
    """pixels: HxW (gray) or HxWx3 (RGB) uint8."""
    h, w = pixels.shape[:2]
    kind = "gray" if pixels.ndim == 2 else "rgb"
    out(f"{stem}.{w}x{h}.{kind}.raw", np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())


# ------------------------------------------------------------------ PNG

def chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def filter_rows(rows, bpp):
    """rows: list of uint8 byte rows of one (sub)image. Cycles through all five filter types."""
    result = bytearray()
    prev = np.zeros(len(rows[0]) if rows else 0, dtype=np.int32)
    for y, row in enumerate(rows):
        cur = np.frombuffer(bytes(row), dtype=np.uint8).astype(np.int32)
        left = np.concatenate([np.zeros(bpp, np.int32), cur[:-bpp]]) if len(cur) > bpp else np.zeros_like(cur)
        upleft = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]]) if len(cur) > bpp else np.zeros_like(cur)
        ftype = y % 5
        if ftype == 0:
            f = cur
        elif ftype == 1:
            f = cur - left
        elif ftype == 2:
            f = cur - prev
        elif ftype == 3:
            f = cur - (left + prev) // 2
        else:
            f = cur - paeth(left, prev, upleft)
        result.append(ftype)
        result += (f & 0xFF).astype(np.uint8).tobytes()
        prev = cur
    return bytes(result)


def pack_bits(samples, depth):
    """samples: HxW ints < 2**depth -> list of packed byte rows (MSB first)."""
    rows = []
    for r in samples:
        bits = np.zeros(len(r) * depth, dtype=np.uint8)
        for k in range(depth):
            bits[k::depth] = (r >> (depth - 1 - k)) & 1
        rows.append(np.packbits(bits).tobytes())
    return rows


def sample_rows(samples, depth):
    """samples: HxWxC (or HxW) array -> list of byte rows for bit depth 8 or 16 (big-endian)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    dtype = ">u2" if depth == 16 else np.uint8
    return [samples[y].astype(dtype).tobytes() for y in range(samples.shape[0])]


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(samples, color_type, depth, plte=None, trns=None, interlace=False, declared=None, extra=b""):
    """samples: HxW or HxWxC array of sample values. Returns PNG bytes."""
    h, w = samples.shape[:2]
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    bpp = max(1, channels * depth // 8)

    def encode(sub):
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            return b""
        rows = pack_bits(sub, depth) if depth < 8 else sample_rows(sub, depth)
        return filter_rows(rows, bpp)

    if interlace:
        raw_data = b"".join(encode(samples[y0::dy, x0::dx]) for x0, y0, dx, dy in ADAM7)
    else:
        raw_data = encode(samples)
    dw, dh = declared or (w, h)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", dw, dh, depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        data += chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += extra
    data += chunk(b"IDAT", zlib.compress(raw_data, 9))
    data += chunk(b"IEND", b"")
    return data


def to8(v16):
    return ((v16.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)


def luma(rgb):
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((19595 * r + 38470 * g + 7471 * b + 32768) >> 16).astype(np.uint8)


def composite(rgb, alpha, background):
    a = alpha.astype(np.int64)[..., None]
    return ((rgb.astype(np.int64) * a + background * (255 - a) + 127) // 255).astype(np.uint8)


def make_pngs():
    y, x = np.mgrid[0:17, 0:33]
    gray = ((x * 7 + y * 13) % 256).astype(np.uint8)
    out("gray8.png", png(gray, 0, 8))
    raw("gray8", gray)

    rgb = np.stack([(x * 8) % 256, (y * 15) % 256, (x * y) % 256], axis=-1).astype(np.uint8)
    out("rgb8.png", png(rgb, 2, 8))
    raw("rgb8", rgb)
    raw("rgb8.luma", luma(rgb))

    alpha = ((x * 8 + y * 3) % 256).astype(np.uint8)
    out("rgba8.png", png(np.dstack([rgb, alpha]), 6, 8))
    raw("rgba8.discard", rgb)
    raw("rgba8.over-white", composite(rgb, alpha, 255))
    raw("rgba8.over-black", composite(rgb, alpha, 0))

    out("graya8.png", png(np.dstack([gray, alpha]), 4, 8))
    raw("graya8.discard", gray)

    g16 = ((x * 1999 + y * 3001) % 65536).astype(np.uint16)
    out("gray16.png", png(g16, 0, 16))
    raw("gray16", to8(g16))

    rgb16 = np.stack([(x * 2011) % 65536, (y * 3851) % 65536, (x * y * 97) % 65536], axis=-1).astype(np.uint16)
    out("rgb16.png", png(rgb16, 2, 16))
    raw("rgb16", to8(rgb16))

    bits1 = ((x // 3 + y // 2) % 2).astype(np.uint8)
    out("gray1.png", png(bits1, 0, 1))
    raw("gray1", bits1 * 255)

    # Palette: 16 colours at 4 bits per index, and 8-bit indices with tRNS (alpha discarded by default).
    palette = np.array([[(i * 16) % 256, (255 - i * 16) % 256, (i * 77) % 256] for i in range(16)], dtype=np.uint8)
    idx4 = ((x + 2 * y) % 16).astype(np.uint8)
    out("palette4.png", png(idx4, 3, 4, plte=palette))
    raw("palette4", palette[idx4])

    palette256 = np.array([[i, (i * 3) % 256, 255 - i] for i in range(256)], dtype=np.uint8)
    idx8 = ((x * 5 + y * 11) % 256).astype(np.uint8)
    trns = bytes((i * 2) % 256 for i in range(256))
    out("palette8-trns.png", png(idx8, 3, 8, plte=palette256, trns=trns))
    raw("palette8-trns.discard", palette256[idx8])
    raw("palette8-trns.over-white",
        composite(palette256[idx8], np.frombuffer(trns, np.uint8)[idx8], 255))

    out("rgb8-interlaced.png", png(rgb, 2, 8, interlace=True))
    # Ancillary chunks a decoder must parse or skip: text, gamma, physical size, a private one.
    ancillary = (chunk(b"tEXt", b"Comment\x00made by make_fixtures.py") + chunk(b"gAMA", struct.pack(">I", 45455))
                 + chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)) + chunk(b"prVt", bytes(range(40))))
    out("rgb8-chunks.png", png(rgb, 2, 8, extra=ancillary))
    out("gray16-interlaced.png", png(g16, 0, 16, interlace=True))

    # "Decompression bomb" header: 100000 x 100000 RGB (30 GB decoded) in a few dozen bytes.
    out("bomb-100000x100000.png", png(np.zeros((1, 1, 3), np.uint8), 2, 8, declared=(100000, 100000)))


# ------------------------------------------------------------------ JPEG (baseline, 8-bit)

def zigzag():
    order = sorted(((u, v) for u in range(8) for v in range(8)),
                   key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 == 0 else p[0]))
    return [u * 8 + v for u, v in order]


ZIGZAG = zigzag()
DCT = np.array([[(np.sqrt(0.5) if u == 0 else 1.0) / 2 * np.cos((2 * x + 1) * u * np.pi / 16)
                 for x in range(8)] for u in range(8)])
QUANT = 2  # flat quantiser: near-lossless, so the expectation is the source pixels within ~2 levels
DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [(run << 4) | size for run in range(16) for size in range(1, 11)]
# Fixed-length canonical codes (4 bits DC, 8 bits AC): valid JPEG Huffman tables without the Annex K ones.
DC_CODE = {s: (i, 4) for i, s in enumerate(DC_SYMBOLS)}
AC_CODE = {s: (i, 8) for i, s in enumerate(AC_SYMBOLS)}


class BitWriter:
    def __init__(self):
        self.data = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        for k in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> k) & 1)
            self.n += 1
            if self.n == 8:
                self.data.append(self.acc)
                if self.acc == 0xFF:
                    self.data.append(0)  # byte stuffing
                self.acc, self.n = 0, 0

    def flush(self):
        while self.n:
            self.put(1, 1)  # pad with ones
        return bytes(self.data)


def magnitude(v):
    size = int(abs(v)).bit_length()
    return size, (v if v >= 0 else v + (1 << size) - 1)


def encode_block(bw, block, prev_dc):
    coef = np.rint((DCT @ (block.astype(np.float64) - 128) @ DCT.T) / QUANT).astype(np.int64).reshape(-1)
    zz = coef[ZIGZAG]
    size, bits = magnitude(zz[0] - prev_dc)
    bw.put(*DC_CODE[size])
    bw.put(bits, size)
    run = 0
    for v in zz[1:]:
        if v == 0:
            run += 1
            continue
        while run > 15:
            bw.put(*AC_CODE[0xF0])
            run -= 16
        size, bits = magnitude(v)
        assert size <= 10
        bw.put(*AC_CODE[(run << 4) | size])
        bw.put(bits, size)
        run = 0
    if run:
        bw.put(*AC_CODE[0x00])
    return zz[0]


def segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def dht(table_class, symbols):
    counts = [0] * 16
    length = 4 if table_class == 0 else 8
    counts[length - 1] = len(symbols)
    return segment(0xC4, bytes([table_class << 4]) + bytes(counts) + bytes(symbols))


def jpeg(pixels):
    """pixels: HxW gray, HxWx3 RGB or HxWx4 CMYK uint8 -> baseline JFIF bytes (no subsampling)."""
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        planes = [pixels.astype(np.float64)]
    elif pixels.shape[2] == 4:
        planes = [pixels[..., i].astype(np.float64) for i in range(4)]  # 4 components: libjpeg reads CMYK
    else:
        r, g, b = (pixels[..., i].astype(np.float64) for i in range(3))
        planes = [0.299 * r + 0.587 * g + 0.114 * b,
                  -0.168736 * r - 0.331264 * g + 0.5 * b + 128,
                  0.5 * r - 0.418688 * g - 0.081312 * b + 128]
    ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
    planes = [np.pad(np.clip(np.rint(p), 0, 255), ((0, ph - h), (0, pw - w)), mode="edge") for p in planes]
    nc = len(planes)
    head = b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    head += segment(0xDB, b"\x00" + bytes([QUANT] * 64))
    head += segment(0xC0, struct.pack(">BHHB", 8, h, w, nc) + b"".join(bytes([i + 1, 0x11, 0]) for i in range(nc)))
    head += dht(0, DC_SYMBOLS) + dht(1, AC_SYMBOLS)
    head += segment(0xDA, bytes([nc]) + b"".join(bytes([i + 1, 0x00]) for i in range(nc)) + b"\x00\x3f\x00")
    bw = BitWriter()
    prev = [0] * nc
    for by in range(0, ph, 8):
        for bx in range(0, pw, 8):
            for c in range(nc):
                prev[c] = encode_block(bw, planes[c][by:by + 8, bx:bx + 8], prev[c])
    return head + bw.flush() + b"\xff\xd9"


def make_jpegs():
    y, x = np.mgrid[0:40, 0:52]
    gray = np.clip(60 + x * 2 + y * 2 + 20 * np.sin(x / 5.0), 0, 255).astype(np.uint8)
    out("gray-smooth.jpg", jpeg(gray))
    raw("gray-smooth", gray)
    rgb = np.stack([np.clip(40 + x * 3, 0, 255), np.clip(200 - y * 3, 0, 255),
                    np.clip(90 + 40 * np.cos((x + y) / 9.0), 0, 255)], axis=-1).astype(np.uint8)
    out("rgb-smooth.jpg", jpeg(rgb))
    raw("rgb-smooth", rgb)
    out("cmyk.jpg", jpeg(np.dstack([rgb, gray])[:16, :16]))


# ------------------------------------------------------------------ BMP (24-bit, bottom-up)

def make_bmp():
    y, x = np.mgrid[0:9, 0:13]
    rgb = np.stack([(x * 19) % 256, (y * 27) % 256, (x * y * 5) % 256], axis=-1).astype(np.uint8)
    h, w = rgb.shape[:2]
    stride = (w * 3 + 3) & ~3
    pixels = b"".join(rgb[row, :, ::-1].tobytes() + b"\x00" * (stride - w * 3) for row in range(h - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    out("rgb24.bmp", header + info + pixels)
    raw("rgb24", rgb)


if __name__ == "__main__":
    make_pngs()
    make_jpegs()
    make_bmp()
