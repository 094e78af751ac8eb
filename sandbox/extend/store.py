"""Workflow runs with the indexes that keep listing cheap at 100,000 runs.

Each filterable value (workflow, batch, status, and "all") owns two sorted key lists: creation
sequence numbers and update sequence numbers. A page seeks into the smallest matching list with
bisect and walks it, so its cost is the page size plus the runs skipped by the other filters,
never the whole table. ``touched`` counts runs examined, for tests that assert on complexity.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.extend.models import Run, Status

Bucket = tuple[str, str]
_ALL: Bucket = ("all", "")


@dataclass(frozen=True, slots=True)
class RunQuery:
    status: Status | None = None
    workflow_id: str | None = None
    batch_id: str | None = None
    file_name_contains: str | None = None
    sort_by: str = "createdAt"  # or "updatedAt"
    descending: bool = True
    after: int | None = None  # the sort key of the previous page's last run
    limit: int = 20

    def matches(self, run: Run) -> bool:
        if self.status is not None and run.status is not self.status:
            return False
        if self.workflow_id is not None and run.workflow.id != self.workflow_id:
            return False
        if self.batch_id is not None and run.batch_id != self.batch_id:
            return False
        needle = self.file_name_contains
        return needle is None or any(needle in f.name for f in run.files)

    def buckets(self) -> list[Bucket]:
        found: list[Bucket] = [_ALL]
        if self.status is not None:
            found.append(("status", self.status.value))
        if self.workflow_id is not None:
            found.append(("workflow", self.workflow_id))
        if self.batch_id is not None:
            found.append(("batch", self.batch_id))
        return found


def _buckets_of(run: Run) -> list[Bucket]:
    found = [_ALL, ("status", run.status.value), ("workflow", run.workflow.id)]
    if run.batch_id is not None:
        found.append(("batch", run.batch_id))
    return found


def _remove(keys: list[int], key: int) -> None:
    i = bisect.bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        del keys[i]


class RunStore:
    def __init__(self) -> None:
        self.by_id: dict[str, Run] = {}
        self._by_seq: dict[int, Run] = {}
        self._by_useq: dict[int, Run] = {}
        self._created: dict[Bucket, list[int]] = {}
        self._updated: dict[Bucket, list[int]] = {}
        self._next_seq = 0
        self._next_useq = 0
        self.touched = 0

    def __len__(self) -> int:
        return len(self.by_id)

    def all_runs(self) -> Iterator[Run]:
        return iter(self.by_id.values())

    def next_seq(self) -> int:
        self._next_seq += 1
        return self._next_seq

    def add(self, run: Run) -> None:
        self.by_id[run.id] = run
        self._by_seq[run.seq] = run
        run.useq = self._bump_useq()
        self._by_useq[run.useq] = run
        for bucket in _buckets_of(run):
            self._created.setdefault(bucket, []).append(run.seq)
            self._updated.setdefault(bucket, []).append(run.useq)

    def get(self, run_id: str) -> Run | None:
        run = self.by_id.get(run_id)
        return None if run is None or run.deleted else run

    def update(self, run: Run, status: Status | None, at: float) -> None:
        """Record a change to ``run`` (optionally of status) at simulated time ``at``."""
        if run.deleted:
            return
        self._unindex(run)
        if status is not None:
            run.status = status
        run.updated_at = at
        run.useq = self._bump_useq()
        self._index(run)

    def delete(self, run: Run) -> None:
        self._unindex(run)
        for bucket in _buckets_of(run):
            if bucket[0] != "status":
                _remove(self._created[bucket], run.seq)
        del self._by_seq[run.seq]
        run.deleted = True

    def query(self, q: RunQuery) -> tuple[list[Run], int | None]:
        """One page of runs and the cursor for the next page (None on the last page)."""
        use_created = q.sort_by != "updatedAt"
        index = self._created if use_created else self._updated
        keys = min((index.get(b, []) for b in q.buckets()), key=len)
        page: list[Run] = []
        for key in self._walk(keys, q.after, q.descending):
            run = (self._by_seq if use_created else self._by_useq)[key]
            self.touched += 1
            if not q.matches(run):
                continue
            if len(page) == q.limit:
                last = page[-1]
                return page, last.seq if use_created else last.useq
            page.append(run)
        return page, None

    @staticmethod
    def _walk(keys: list[int], after: int | None, descending: bool) -> Iterator[int]:
        if descending:
            start = len(keys) if after is None else bisect.bisect_left(keys, after)
            for i in range(start - 1, -1, -1):
                yield keys[i]
        else:
            start = 0 if after is None else bisect.bisect_right(keys, after)
            for i in range(start, len(keys)):
                yield keys[i]

    def _bump_useq(self) -> int:
        self._next_useq += 1
        return self._next_useq

    def _unindex(self, run: Run) -> None:
        self._by_useq.pop(run.useq, None)
        for bucket in _buckets_of(run):
            _remove(self._updated[bucket], run.useq)
        _remove(self._created[("status", run.status.value)], run.seq)

    def _index(self, run: Run) -> None:
        self._by_useq[run.useq] = run
        for bucket in _buckets_of(run):
            self._updated.setdefault(bucket, []).append(run.useq)
        bisect.insort(self._created.setdefault(("status", run.status.value), []), run.seq)
