"""Compressed members of an input file, for the splitters: where its zstd frames start, read from their headers
without decoding, and why a file of one member (frame) is read whole."""
from __future__ import annotations

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# deflate and zstd decode only from the start of a member (frame): a file of one is one task
ONE_MEMBER = {"gzip": "one gzip member: deflate decodes only from its start",
              "zstd": "one zstd frame: zstd decodes only from its start"}


def zstd_frames(stream) -> list[int]:
    """The stored start of every zstd frame (skippable frames belong to the frame before), from the frame and block
    headers alone (RFC 8878, section 3.1). Stops at the first byte that is no frame: the reader reports it."""
    starts, position = [], 0
    while True:
        stream.seek(position)
        head = stream.read(18)
        if len(head) < 8:
            return starts or [0]
        magic = int.from_bytes(head[:4], "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:  # skippable: a size and that many bytes
            position += 8 + int.from_bytes(head[4:8], "little")
            continue
        if head[:4] != _ZSTD_MAGIC:
            return starts or [0]
        starts.append(position)
        descriptor = head[4]
        single, checksum, dictionary = descriptor >> 5 & 1, descriptor >> 2 & 1, descriptor & 3
        content = (1 if single else 0, 2, 4, 8)[descriptor >> 6]
        position += 5 + (0 if single else 1) + (0, 1, 2, 4)[dictionary] + content
        while True:
            stream.seek(position)
            block = stream.read(3)
            if len(block) < 3:
                return starts
            header = int.from_bytes(block, "little")
            kind, length = header >> 1 & 3, header >> 3
            position += 3 + (1 if kind == 1 else length)
            if header & 1:
                break
        position += 4 * checksum
