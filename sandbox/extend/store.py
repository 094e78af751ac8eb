"""Workflow runs with the indexes that keep listing cheap at 100,000 runs.

Each filterable value (workflow, batch, status, and "all") owns two sorted key lists: creation
sequence numbers and update sequence numbers. A page seeks into the smallest matching list with
bisect and walks it, so its cost is the page size plus the entries skipped by the other filters
(and a bounded share of stale entries), never the whole table. ``touched`` counts entries
examined, for tests that assert on complexity.
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


class RunStore:
    def __init__(self) -> None:
        self.by_id: dict[str, Run] = {}
        self._by_seq: dict[int, Run] = {}
        self._by_useq: dict[int, Run] = {}
        self._created: dict[Bucket, list[int]] = {}
        self._updated: dict[Bucket, list[int]] = {}
        self._stale: dict[tuple[bool, Bucket], int] = {}
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
        for bucket in _buckets_of(run):
            self._created.setdefault(bucket, []).append(run.seq)
        self._stamp(run)

    def get(self, run_id: str) -> Run | None:
        run = self.by_id.get(run_id)
        return None if run is None or run.deleted else run

    def update(self, run: Run, status: Status | None, at: float) -> None:
        """Record a change to ``run`` (optionally of status) at simulated time ``at``."""
        if run.deleted:
            return
        self._retire_useq(run)
        if status is not None and status is not run.status:
            self._mark_stale(True, ("status", run.status.value))
            run.status = status
            keys = self._created.setdefault(("status", status.value), [])
            # Runs change status in roughly creation order, so this lands near the end.
            i = bisect.bisect_left(keys, run.seq)
            if i == len(keys) or keys[i] != run.seq:
                keys.insert(i, run.seq)
        run.updated_at = at
        self._stamp(run)

    def delete(self, run: Run) -> None:
        self._retire_useq(run)
        for bucket in _buckets_of(run):
            self._mark_stale(True, bucket)
        del self._by_seq[run.seq]
        run.deleted = True

    def query(self, q: RunQuery) -> tuple[list[Run], int | None]:
        """One page of runs and the cursor for the next page (None on the last page)."""
        by_created = q.sort_by != "updatedAt"
        index = self._created if by_created else self._updated
        bucket = min(q.buckets(), key=lambda b: len(index.get(b, [])))
        page: list[Run] = []
        for key in self._walk(index.get(bucket, []), q.after, q.descending):
            self.touched += 1
            run = self._live(by_created, bucket, key)
            if run is None or not q.matches(run):
                continue
            if len(page) == q.limit:
                last = page[-1]
                return page, last.seq if by_created else last.useq
            page.append(run)
        return page, None

    def _live(self, by_created: bool, bucket: Bucket, key: int) -> Run | None:
        """The run behind an index entry, or None when the entry went stale."""
        if not by_created:
            return self._by_useq.get(key)
        run = self._by_seq.get(key)
        if run is not None and bucket[0] == "status" and run.status.value != bucket[1]:
            return None
        return run

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

    def _stamp(self, run: Run) -> None:
        """Give the run a new update sequence number, newest in every update-order list."""
        self._next_useq += 1
        run.useq = self._next_useq
        self._by_useq[run.useq] = run
        for bucket in _buckets_of(run):
            self._updated.setdefault(bucket, []).append(run.useq)

    def _retire_useq(self, run: Run) -> None:
        # Old entries stay in the lists and are skipped while walking (removing them from the
        # middle of 100,000-long lists on every transition is what made processing slow);
        # a list is compacted once a quarter of it is stale (amortized O(1) per change).
        self._by_useq.pop(run.useq, None)
        for bucket in _buckets_of(run):
            self._mark_stale(False, bucket)

    def _mark_stale(self, created: bool, bucket: Bucket) -> None:
        slot = (created, bucket)
        stale = self._stale.get(slot, 0) + 1
        keys = (self._created if created else self._updated)[bucket]
        if stale > max(64, len(keys) // 4):
            keys[:] = [k for k in keys if self._live(created, bucket, k) is not None]
            stale = 0
        self._stale[slot] = stale
