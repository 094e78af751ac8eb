"""What `relay submit` sends: its inputs sorted into URLs, file ids, texts and local files,
and the local files uploaded through the relay (POST /v1/files), each content and name once.

An input is `-` (URLs on standard input), a URL, a file of URLs (.txt/.urls/.list whose lines
are all URLs), a folder (recursively), a glob, or a local file. An interrupted upload is
resumed by running the same command again: POST /v1/files/lookup names what is there already.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from relay_cli.client import Client, Unreachable, message
from relay_core.batches.filenames import file_form
from relay_core.batches.uploads import GLOB_CHARS, expand, sha256_of

URL_LIST_SUFFIXES = (".txt", ".urls", ".list")
LOOKUP_SLICE = 1000


class UploadFailed(Exception):
    pass


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _url_list(path: Path) -> list[str] | None:
    if path.suffix.lower() not in URL_LIST_SUFFIXES or path.stat().st_size > 64 * 1024 * 1024:
        return None
    lines = [x.strip() for x in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [x for x in lines if x]
    return lines if lines and all(_is_url(x) for x in lines) else None


def sort_inputs(inputs: list[str]) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """(batch entries known without uploading, local files to upload), in the order given.
    Each local file's place is kept as a {"upload": n} entry, filled in after the upload."""
    entries: list[dict[str, Any]] = []
    local: list[tuple[Path, str]] = []
    for arg in inputs:
        if arg == "-":
            entries += [{"url": u.strip()} for u in sys.stdin.read().splitlines() if u.strip()]
        elif _is_url(arg):
            entries.append({"url": arg})
        elif Path(arg).is_file() and (urls := _url_list(Path(arg))) is not None:
            entries += [{"url": u} for u in urls]
        elif Path(arg).exists() or GLOB_CHARS & set(arg):
            for item in expand([arg]):
                entries.append({"upload": len(local)})
                local.append(item)
        else:
            raise FileNotFoundError(f"no such file, folder or URL: {arg}")
    return entries, local


def warn_same_names(local: list[tuple[Path, str]]) -> None:
    """Files from different subfolders may share a name (each is named by its own name)."""
    seen: dict[str, Path] = {}
    for path, name in local:
        if name in seen and seen[name] != path:
            print(
                f"relay: note: {seen[name]} and {path} are both named {name!r} "
                "(the results tell them apart by fileIndex)",
                file=sys.stderr,
            )
            return
        seen.setdefault(name, path)


def id_entries(path: str) -> list[dict[str, Any]]:
    text = Path(path).read_text(encoding="utf-8")
    return [{"id": line.strip()} for line in text.splitlines() if line.strip()]


def text_entries(paths: list[str]) -> list[dict[str, Any]]:
    return [{"text": Path(p).read_text(encoding="utf-8"), "name": Path(p).name} for p in paths]


async def upload_all(relay: Client, files: list[tuple[Path, str]], concurrency: int) -> list[str]:
    """The Extend file id of each local file, uploading those the relay has not seen."""
    if not files:
        return []
    hashes = [await asyncio.to_thread(sha256_of, p) for p, _ in files]
    pairs = [(digest, name) for (_, name), digest in zip(files, hashes, strict=True)]
    known: dict[tuple[str, str], str] = {}
    for start in range(0, len(pairs), LOOKUP_SLICE):
        part = pairs[start : start + LOOKUP_SLICE]
        named = [{"sha256": digest, "name": name} for digest, name in part]
        # A lookup only reads: safe to send again.
        try:
            status, answer = await relay.call(
                "POST", "/v1/files/lookup", json={"named": named}, safe=True
            )
        except Unreachable as exc:
            raise UploadFailed(str(exc)) from exc
        if status >= 400:
            raise UploadFailed(message(status, answer))
        known.update((pair, i) for pair, i in zip(part, answer["named"], strict=True) if i)
    # One upload per distinct content and name, even when given twice: the same bytes under
    # another name are uploaded again, so each reaches the platform under its own name.
    todo: dict[tuple[str, str], int] = {}
    for i, pair in enumerate(pairs):
        if pair not in known:
            todo.setdefault(pair, i)
    columns = (TextColumn("upload"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    gate = asyncio.Semaphore(concurrency)
    with Progress(*columns, console=Console(stderr=True)) as progress:
        bar = progress.add_task("upload", total=len(todo))

        async def one(pair: tuple[str, str], i: int) -> None:
            async with gate:
                known[pair] = await _upload(relay, files[i], pair[0])
            progress.advance(bar)

        await asyncio.gather(*(one(p, i) for p, i in todo.items()))
    ids = [known[pair] for pair in pairs]
    skipped = len(files) - len(todo)
    print(f"{len(todo)} files uploaded, {skipped} already there", file=sys.stderr, flush=True)
    return ids


async def _upload(relay: Client, file: tuple[Path, str], digest: str) -> str:
    path, name = file

    @contextmanager
    def form() -> Iterator[aiohttp.MultipartWriter]:
        with path.open("rb") as f:
            yield file_form(f, name)

    # Uploads are kept by content and name: sending one again stores it once.
    try:
        status, answer = await relay.call(
            "POST",
            "/v1/files",
            params={"sha256": digest},
            body=form,
            safe=True,
            transfer=True,
        )
    except Unreachable as exc:
        raise UploadFailed(f"{name}: {exc}") from exc
    if status != 200:
        raise UploadFailed(f"{name}: {message(status, answer)}")
    return str(answer["id"])
