"""``/api/v1/memory/jobs``: the caller's extraction jobs, newest first."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter

from memvault.application.jobs.queries import ListJobs
from memvault.domain.text import IDENTIFIER_PATTERN
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep, checked_id, split_csv
from memvault.entrypoints.http.schemas import JobOut, JobPageOut

Text = Annotated[str | None, QueryParameter(max_length=128, pattern=IDENTIFIER_PATTERN)]


class JobController(Controller):
    path = "/api/v1/memory/jobs"
    tags = ("jobs",)

    @get("/", operation_id="list_jobs", summary="The caller's jobs")
    async def list_jobs(
        self,
        container: ContainerDep,
        principal: PrincipalDep,
        status: FromQuery[list[str] | None] = None,
        conversation_id: Text = None,
        message_id: Text = None,
        job_key: Text = None,
        limit: FromQuery[int | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=32)] = None,
    ) -> JobPageOut:
        page = await container.list_jobs()(
            ListJobs(
                user_id=principal.user_id,
                statuses=split_csv(status),
                conversation_id=conversation_id,
                message_id=message_id,
                job_key=job_key,
                limit=limit,
                cursor=cursor,
            )
        )
        return JobPageOut(items=[JobOut.of(j) for j in page.items], next_cursor=page.next_cursor)

    @get("/{job_id:int}", operation_id="get_job", summary="One of the caller's jobs")
    async def get_job(
        self, job_id: FromPath[int], container: ContainerDep, principal: PrincipalDep
    ) -> JobOut:
        job = await container.get_job()(checked_id(job_id, "job"), user_id=principal.user_id)
        return JobOut.of(job)
