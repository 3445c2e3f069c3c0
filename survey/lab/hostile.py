"""Hostile and broken inputs for the flow lab and the tests: XML bombs, external entities,
zip and gzip bombs, a truncated gzip, a corrupt zip member, things that are not reports.

Each is built here from its description (OWASP's XML entity expansion and XXE examples, the
classic deflate bomb), small on disk and streamed while built, so the lab stays cheap."""

from __future__ import annotations

import gzip
import io
import zipfile

_MIB = 1 << 20


def billion_laughs(levels: int = 10) -> bytes:
    """Entities of ten references each, nested: 10^levels `lol`s if ever expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    body = "\n".join(entities)
    root = f"<feedback>&lol{levels - 1};</feedback>"
    return f'<?xml version="1.0"?>\n<!DOCTYPE feedback [\n{body}\n]>\n{root}\n'.encode()


def external_entity(target: str = "file:///etc/passwd") -> bytes:
    """XXE: an entity whose text a careless parser would fetch from `target`."""
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "{target}">]>\n'
        "<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>\n"
    ).encode()


def _padding(size: int) -> list[bytes]:
    chunks = [b"<feedback>"] + [b" " * _MIB] * (size // _MIB)
    return [*chunks, b"</feedback>"]


def zip_bomb(size: int = 16 * _MIB, member: str = "bomb.xml") -> bytes:
    """A zip whose one member is `size` bytes of well-formed XML, deflated ~1000:1."""
    sink = io.BytesIO()
    with (
        zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(member, "w") as stream,
    ):
        for chunk in _padding(size):
            stream.write(chunk)
    return sink.getvalue()


def gzip_bomb(size: int = 16 * _MIB) -> bytes:
    sink = io.BytesIO()
    with gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) as stream:
        for chunk in _padding(size):
            stream.write(chunk)
    return sink.getvalue()


def truncated_gzip(data: bytes) -> bytes:
    """`data` gzipped, then cut in the middle (a download or an attachment cut short)."""
    packed = gzip.compress(data, mtime=0)
    return packed[: len(packed) // 2]


def corrupt_member_zip(good: tuple[str, bytes], bad: tuple[str, bytes]) -> bytes:
    """A zip of two stored members whose second has one byte flipped (a CRC mismatch)."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(*good)
        archive.writestr(*bad)
        info = archive.getinfo(bad[0])
    data = bytearray(sink.getvalue())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + len(bad[1]) // 2] ^= 0xFF
    return bytes(data)


def not_a_report() -> bytes:
    return b'<?xml version="1.0"?>\n<html><body><p>Your report is attached.</p></body></html>\n'


def not_xml() -> bytes:
    """A PDF's opening bytes: binary, neither XML, a table nor an archive."""
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n\x00\x01\x02 obj << /Type /Catalog >>\n"
