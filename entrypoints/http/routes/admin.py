"""Operator endpoints (the ``admin`` scope): dead jobs and events, retries."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from memvault.application.jobs.bulk_retry import RetryJobs
from memvault.application.jobs.queries import ListJobs
from memvault.application.maintenance.dedup import Dedup
from memvault.application.outbox.bulk_retry import RetryOutboxRows
from memvault.domain.audit import OperatorType
from memvault.domain.instants import utc_instant
from memvault.entrypoints.http.auth import admin_guard
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep, checked_id, split_csv
from memvault.entrypoints.http.schemas import (
    BulkRetryIn,
    BulkRetryOut,
    DeadEventOut,
    DeadEventPageOut,
    DedupIn,
    DedupOut,
    JobOut,
    JobPageOut,
    OutboxOut,
    OutboxPageOut,
    ReasonIn,
    ReindexOut,
)

Cursor = Annotated[str | None, QueryParameter(max_length=32)]
OptionalReason = JSONBody[ReasonIn | None]


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ("operators",)
    guards = (admin_guard,)

    @get("/jobs", operation_id="admin_list_jobs", summary="Jobs of every user (e.g. ?status=dead)")
    async def list_jobs(
        self,
        container: ContainerDep,
        status: FromQuery[list[str] | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: Cursor = None,
    ) -> JobPageOut:
        page = await container.list_jobs()(
            ListJobs(user_id=None, statuses=split_csv(status), limit=limit, cursor=cursor)
        )
        return JobPageOut(
            items=[JobOut.of(j, operator=True) for j in page.items], next_cursor=page.next_cursor
        )

    @post(
        "/jobs/{job_id:int}/retry",
        operation_id="admin_retry_job",
        status_code=200,
        summary="Send a failed or dead job again",
    )
    async def retry_job(
        self,
        job_id: FromPath[int],
        container: ContainerDep,
        principal: PrincipalDep,
        data: OptionalReason = None,
    ) -> JobOut:
        job = await container.retry_job()(
            checked_id(job_id, "job"),
            operator=principal.user_id,
            reason=data.reason if data else None,
        )
        return JobOut.of(job, operator=True)

    @post(
        "/jobs/retry",
        operation_id="admin_retry_jobs",
        status_code=200,
        summary="Send every failed or dead job matching a filter again (each audited)",
    )
    async def retry_jobs(
        self, container: ContainerDep, principal: PrincipalDep, data: JSONBody[BulkRetryIn]
    ) -> BulkRetryOut:
        since = utc_instant(data.since, field="since")
        command = RetryJobs(status=data.status, since=since, user_id=data.user_id, limit=data.limit)
        ids = await container.retry_jobs()(command, operator=principal.user_id, reason=data.reason)
        return BulkRetryOut(retried=len(ids), ids=ids)

    @get("/outbox", operation_id="admin_list_outbox", summary="Outbox rows (e.g. ?status=dead)")
    async def list_outbox(
        self,
        container: ContainerDep,
        status: Annotated[str | None, QueryParameter(max_length=16)] = None,
        limit: FromQuery[int | None] = None,
        cursor: Cursor = None,
    ) -> OutboxPageOut:
        rows, next_cursor = await container.list_outbox()(status=status, limit=limit, cursor=cursor)
        return OutboxPageOut(items=[OutboxOut.of(r) for r in rows], next_cursor=next_cursor)

    @post(
        "/outbox/{outbox_id:int}/retry",
        operation_id="admin_retry_outbox",
        status_code=200,
        summary="Send a dead row again",
    )
    async def retry_outbox(
        self,
        outbox_id: FromPath[int],
        container: ContainerDep,
        principal: PrincipalDep,
        data: OptionalReason = None,
    ) -> OutboxOut:
        row = await container.retry_outbox()(
            checked_id(outbox_id, "outbox row"),
            operator=principal.user_id,
            reason=data.reason if data else None,
        )
        return OutboxOut.of(row)

    @post(
        "/outbox/retry",
        operation_id="admin_retry_outbox_rows",
        status_code=200,
        summary="Send every dead outbox row matching a filter again (each audited)",
    )
    async def retry_outbox_rows(
        self, container: ContainerDep, principal: PrincipalDep, data: JSONBody[BulkRetryIn]
    ) -> BulkRetryOut:
        since = utc_instant(data.since, field="since")
        command = RetryOutboxRows(
            status=data.status, since=since, user_id=data.user_id, limit=data.limit
        )
        ids = await container.retry_outbox_rows()(
            command, operator=principal.user_id, reason=data.reason
        )
        return BulkRetryOut(retried=len(ids), ids=ids)

    @get(
        "/dead-events",
        operation_id="admin_list_dead_events",
        summary="Events from the bus that could not be handled",
    )
    async def dead_events(
        self, container: ContainerDep, limit: FromQuery[int | None] = None, cursor: Cursor = None
    ) -> DeadEventPageOut:
        events, next_cursor = await container.list_dead_events()(limit=limit, cursor=cursor)
        return DeadEventPageOut(items=[DeadEventOut.of(e) for e in events], next_cursor=next_cursor)

    @post(
        "/dedup",
        operation_id="admin_dedup",
        status_code=200,
        summary="Archive duplicated memories (dry run by default)",
    )
    async def dedup(
        self, data: JSONBody[DedupIn], container: ContainerDep, principal: PrincipalDep
    ) -> DedupOut:
        report = await container.dedup()(
            Dedup(
                user_id=data.user_id,
                limit=data.limit,
                dry_run=data.dry_run,
                reason=data.reason,
                operator=OperatorType.ADMIN,
                operator_id=principal.user_id,
            )
        )
        return DedupOut(
            scanned_group_count=report.scanned_group_count,
            deduped_group_count=report.deduped_group_count,
            kept_count=report.kept_count,
            archived_count=report.archived_count,
            archived_ids=report.archived_ids,
            dry_run=report.dry_run,
        )

    @post(
        "/reindex",
        operation_id="admin_reindex",
        status_code=200,
        summary="Rebuild the vector store from the database",
    )
    async def reindex(self, container: ContainerDep) -> ReindexOut:
        report = await container.reindex()()
        return ReindexOut(
            items=report.items, indexed=report.indexed, removed_orphans=report.removed_orphans
        )
