"""The run indexes page exactly like a brute-force filter-and-sort, whatever happened before."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.extend.models import Dialect, Run, RunFile, Status, Version, Workflow
from sandbox.extend.store import RunQuery, RunStore

WORKFLOWS = [
    Workflow(f"workflow_{n}", n, 0.0, 0.0, Version(f"v_{n}", f"workflow_{n}", "draft", None, [], 0))
    for n in ("a", "b")
]
STATUSES = [Status.PENDING, Status.PROCESSING, Status.PROCESSED, Status.FAILED]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 1), st.sampled_from([None, "b1", "b2"])),
        st.tuples(st.just("status"), st.integers(0, 50), st.sampled_from(STATUSES)),
        st.tuples(st.just("delete"), st.integers(0, 50), st.none()),
    ),
    max_size=60,
)
queries = st.builds(
    RunQuery,
    status=st.sampled_from([None, *STATUSES]),
    workflow_id=st.sampled_from([None, "workflow_a"]),
    batch_id=st.sampled_from([None, "b1"]),
    file_name_contains=st.sampled_from([None, "1", "doc"]),
    sort_by=st.sampled_from(["createdAt", "updatedAt"]),
    descending=st.booleans(),
    limit=st.integers(1, 7),
)


def apply(store: RunStore, plan: list[tuple[str, int, object]]) -> None:
    clock = 0.0
    for kind, n, extra in plan:
        clock += 1
        runs = [r for r in store.all_runs() if not r.deleted]
        if kind == "add":
            seq = store.next_seq()
            file = RunFile(f"file_{seq}", f"doc{seq}.pdf", "PDF", clock)
            run = Run(
                seq,
                f"workflow_run_{seq}",
                WORKFLOWS[n],
                WORKFLOWS[n].draft,
                Dialect.V2026,
                Status.PENDING,
                [file],
                {},
                clock,
                50,
                batch_id=extra,  # type: ignore[arg-type]
            )
            run.updated_at = clock
            store.add(run)
        elif runs and kind == "status":
            store.update(runs[n % len(runs)], extra, clock)  # type: ignore[arg-type]
        elif runs and kind == "delete":
            store.delete(runs[n % len(runs)])


@settings(max_examples=150, deadline=None)
@given(plan=ops, query=queries)
def test_pages_match_brute_force(plan: list[tuple[str, int, object]], query: RunQuery) -> None:
    store = RunStore()
    apply(store, plan)
    key = (lambda r: r.seq) if query.sort_by == "createdAt" else (lambda r: r.useq)
    expected = sorted(
        (r for r in store.all_runs() if not r.deleted and query.matches(r)),
        key=key,
        reverse=query.descending,
    )
    seen: list[Run] = []
    after = None
    while True:
        page, after = store.query(dataclasses.replace(query, after=after))
        seen.extend(page)
        if after is None:
            break
    assert [r.id for r in seen] == [r.id for r in expected]
