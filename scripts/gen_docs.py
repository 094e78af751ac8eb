"""Write the generated reference pages, or (`--check`) fail when a committed one is stale.

`./dev docs gen` writes them; `./dev docs` and tests/test_docs.py check them, so the settings
and HTTP references cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scripts import api_doc, settings_doc

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference"


def generated() -> dict[Path, str]:
    doc = api_doc.document()
    return {
        REFERENCE / "openapi.json": api_doc.openapi_json(doc),
        REFERENCE / "http-api.md": api_doc.render(doc),
        REFERENCE / "settings.md": settings_doc.render(),
    }


def stale() -> list[Path]:
    return [p for p, text in generated().items() if not p.is_file() or p.read_text() != text]


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        paths = stale()
        for path in paths:
            print(f"{path.relative_to(REFERENCE.parent.parent)} is stale: run ./dev docs gen")
        return 1 if paths else 0
    for path, text in generated().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(REFERENCE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
