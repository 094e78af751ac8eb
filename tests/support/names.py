"""File names real folders hold, each of which must reach the platform byte for byte."""

from __future__ import annotations

import unicodedata

# 123 two-byte characters and 9 ASCII ones: 255 bytes of UTF-8, the most ext4 takes.
LONG = "é" * 123 + "abcde.pdf"

NAMES = [
    "Invoice March 2024 (final).pdf",
    "a&b=c+d.pdf",
    "100% done.pdf",
    "a%20b.pdf",  # looks percent-encoded: must stay as it is
    "#7 receipt.pdf",
    'say "hi".pdf',
    "it's mine.pdf",
    "semi;colon.pdf",
    "back\\slash.pdf",
    unicodedata.normalize("NFC", "café NFC.pdf"),
    unicodedata.normalize("NFD", "café NFD.pdf"),
    unicodedata.normalize("NFD", "café NFC.pdf"),  # the NFC name's twin: a different file
    "請求書 2024年3月.pdf",
    "receipt 🧾✅.pdf",
    "  two  spaces .pdf",
    LONG,
]

assert len(LONG.encode()) == 255
assert len(set(NAMES)) == len(NAMES)
