"""A corpus of hostile inputs, made afresh into a folder: nothing of it is committed.

Each entry is a file (or folder) a batch may be fed by mistake or by malice, with what its
record must say: the error type, or ``None`` for a page that reads with no error (a blank
page has no digits). Good pages go beside them in the tests, which check that their
records come out exactly as when they are scanned alone.

    python tests/hostile_corpus.py DIR     # write the corpus into DIR, to try it by hand
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# What a decompression bomb declares: 900 megapixels, 900 MB grey and 2.7 GB in colour.
BOMB_SIDE = 30000
PDF_USER_PASSWORD = b"secret"


@dataclass(frozen=True)
class Hostile:
    """One input of the corpus: its path below the corpus folder and its expected record.

    ``error`` is the record's error type, or None for a page read without error;
    ``digits`` says whether that page has digits: True for the good pages named oddly,
    False for blank ones, None where either is right (noise: the model may take a blob of
    it for a doubtful digit).
    """

    name: str
    error: str | None
    digits: bool | None = False


def build_corpus(folder: Path) -> list[Hostile]:
    """Write every hostile input into ``folder``; return them in the order a scan lists them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    small_page = cv2.imread(str(EXAMPLES / "plain_black.png"), cv2.IMREAD_GRAYSCALE)[:300, :700]
    jpeg = cv2.imencode(".jpg", small_page)[1].tobytes()
    png = cv2.imencode(".png", small_page)[1].tobytes()
    entries: dict[str, tuple[bytes, str | None]] = {
        "zero_bytes.jpg": (b"", "UndecodableImage"),
        "truncated.jpg": (jpeg[: len(jpeg) * 2 // 5], "UndecodableImage"),
        "truncated.png": (png[: len(png) * 2 // 5], "UndecodableImage"),
        "random_bytes.png": (rng.integers(0, 256, 4096, np.uint8).tobytes(), "UndecodableImage"),
        "notes.txt.jpg": (b"Shopping list\n3 eggs, 2 pints of milk\n", "UndecodableImage"),
        "page.html.png": (b"<!doctype html><html><body><img src=x></body></html>\n",
                          "UndecodableImage"),
        "corrupt.pdf": (b"%PDF-1.7\n" + rng.integers(0, 256, 2048, np.uint8).tobytes(),
                        "UndecodableImage"),
        "encrypted.pdf": (encrypted_pdf(PDF_USER_PASSWORD), "UndecodableImage"),
        "empty.pdf": (empty_pdf(), "UndecodableImage"),
        "bomb.png": (png_bomb(BOMB_SIDE, BOMB_SIDE), "ImageTooLarge"),
        "bomb.jpg": (jpeg_bomb(jpeg, BOMB_SIDE, BOMB_SIDE), "ImageTooLarge"),
        "one_pixel.png": (encode(".png", np.zeros((1, 1), np.uint8)), None),
        "blank_white.png": (encode(".png", np.full((1400, 1000), 255, np.uint8)), None),
        "all_black.png": (encode(".png", np.zeros((1400, 1000), np.uint8)), None),
    }
    corpus = []
    for name, (data, error) in entries.items():
        (folder / name).write_bytes(data)
        corpus.append(Hostile(name, error))
    # Pure noise reads without error, but may give a doubtful digit or two: what would be
    # ink is everywhere.
    noise = rng.integers(0, 256, (700, 500), np.uint8)
    (folder / "noise.png").write_bytes(encode(".png", noise))
    corpus.append(Hostile("noise.png", None, digits=None))
    # Good pages whose names a shell or a CSV reader could trip on.
    for name in ["with space.png", "quote's \"double\".png", "semi;colon;rm -rf.png",
                 "ünïcödé 数字 ✓.png", "-starts-with-dash.png"]:
        (folder / name).write_bytes(png)
        corpus.append(Hostile(name, None, digits=True))
    # A name that is not UTF-8 at all (Latin-1 from an old disk): Python holds it with
    # surrogate escapes, which a UTF-8 writer refuses unless told what to do.
    latin1 = os.fsdecode(b"caf\xe9.png")
    (folder / latin1).write_bytes(png)
    corpus.append(Hostile(latin1, None, digits=True))
    # A folder that links to itself, and two files that link to each other.
    loop = folder / "loop"
    loop.mkdir()
    (loop / "inside.png").write_bytes(png)
    (loop / "again").symlink_to(".")
    (loop / "a.png").symlink_to("b.png")
    (loop / "b.png").symlink_to("a.png")
    corpus += [Hostile("loop/a.png", "UnreadableFile"), Hostile("loop/b.png", "UnreadableFile"),
               Hostile("loop/inside.png", None, digits=True)]
    return sorted(corpus, key=lambda entry: str(folder / entry.name))


def encode(suffix: str, image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(suffix, image)
    assert ok
    return data.tobytes()


# --- decompression bombs: a small file declaring a huge page ---------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` grey pixels, with the first rows
    of zeros as its data (a decoder allocates the whole page before it finds the rest
    missing): a few hundred bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    rows = zlib.compress(b"\x00" * (width + 1) * 64, 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows)
            + png_chunk(b"IEND", b""))


def jpeg_bomb(jpeg: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose frame header (SOF) is rewritten to declare ``width`` x ``height``."""
    at = 2
    while at + 4 <= len(jpeg):
        marker, length = jpeg[at + 1], int.from_bytes(jpeg[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            frame = jpeg[at + 4 : at + 2 + length]
            frame = frame[:1] + struct.pack(">HH", height, width) + frame[5:]
            return jpeg[: at + 4] + frame + jpeg[at + 2 + length :]
        at += 2 + length
    raise ValueError("no frame header in the JPEG")


# --- PDFs ------------------------------------------------------------------------------------


def pdf_file(objects: list[bytes], trailer: bytes) -> bytes:
    """A PDF of ``objects`` (numbered from 1) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def empty_pdf() -> bytes:
    """A well-formed PDF with no pages at all."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    return pdf_file(objects, b"<< /Size 3 /Root 1 0 R >>")


# Algorithm 3.2's padding string (PDF 1.7, section 7.6.3.3).
PDF_PADDING = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def encrypted_pdf(user_password: bytes) -> bytes:
    """A one-page PDF encrypted with the standard security handler (RC4, 40-bit, revision 2)
    under ``user_password``: it opens with the password and not without."""
    padded_user = (user_password + PDF_PADDING)[:32]
    padded_owner = (b"owner" + PDF_PADDING)[:32]
    owner_entry = rc4(hashlib.md5(padded_owner).digest()[:5], padded_user)
    permissions = -4
    file_id = hashlib.md5(b"notes-ocr hostile corpus").digest()
    key = hashlib.md5(padded_user + owner_entry + struct.pack("<i", permissions)
                      + file_id).digest()[:5]
    user_entry = rc4(key, PDF_PADDING)

    def encrypt(number: int, data: bytes) -> bytes:
        object_key = hashlib.md5(key + number.to_bytes(3, "little") + b"\x00\x00").digest()
        return rc4(object_key[:10], data)

    content = encrypt(4, b"BT /F1 24 Tf 72 720 Td (0142 5550) Tj ET")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + owner_entry.hex().encode() + b"> /U <"
        + user_entry.hex().encode() + b"> /P %d >>" % permissions,
    ]
    identifier = b"<" + file_id.hex().encode() + b">"
    trailer = b"<< /Size 6 /Root 1 0 R /Encrypt 5 0 R /ID [" + identifier + identifier + b"] >>"
    return pdf_file(objects, trailer)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/hostile_corpus.py DIR")
    for entry in build_corpus(Path(sys.argv[1])):
        print(f"{entry.name}: {entry.error or 'reads'}")
