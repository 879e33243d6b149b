"""The write path's use cases on the in-memory unit of work: ingest, relay, consume and
process-job, state-based and fast (the same rules run on real databases in
tests/integration)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from memvault.application.config import JobPolicy, OutboxPolicy
from memvault.application.ingest.ingest_messages import (
    IncomingMessage,
    IngestMessages,
    IngestMessagesUseCase,
)
from memvault.application.jobs.process_job import JobOutcome, ProcessJobUseCase
from memvault.application.jobs.stop import JobStop
from memvault.application.outbox.consume import ConsumeEventsUseCase, Handled, HandleEventUseCase
from memvault.application.outbox.relay import RelayOutboxUseCase
from memvault.application.ports.event_bus import EventConsumer, ReceivedEvent
from memvault.application.ports.extractor import ExtractionError, ExtractionRequest, Extractor
from memvault.application.ports.memory_writer import FactWriter, WriteResult
from memvault.application.ports.repositories import ClaimOutcome, UnitOfWork
from memvault.domain.decisions import Action, Decision
from memvault.domain.errors import InvalidValue
from memvault.domain.facts import CandidateFact, Fact
from memvault.domain.jobs import ExtractionJob, ExtractPayload, JobStatus
from memvault.domain.memory import MemoryItem, MemoryType
from memvault.domain.outbox import EventType, OutboxStatus
from memvault.domain.settings import MemorySettings
from tests.doubles import RecordingQueue
from tests.fake_unit_of_work import (
    FakeUnitOfWorkFactory,
    FixedClock,
    RecordingIndexer,
    RecordingPublisher,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOPIC = "memvault.test.events"
JOBS = JobPolicy()
OUTBOX = OutboxPolicy(topic=TOPIC)


class ScriptedExtractor(Extractor):
    """One preference per message, or the failure it was told to raise."""

    def __init__(self) -> None:
        self.failure: Exception | None = None
        self.seen: list[str] = []

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]:
        self.seen.append(request.text)
        if self.failure is not None:
            raise self.failure
        return [
            CandidateFact(
                memory_type="preference", content=request.text, confidence=0.9, importance=0.8
            )
        ]


class AddingWriter(FactWriter):
    """Decides ADD for every fact and reports one new item per fact (ids from 100)."""

    async def decide(
        self, uow: UnitOfWork, facts: Sequence[Fact], payload: ExtractPayload, *, now: datetime
    ) -> list[tuple[Fact, Decision]]:
        return [(fact, Decision(action=Action.ADD)) for fact in facts]

    async def apply(
        self,
        uow: UnitOfWork,
        decided: Sequence[tuple[Fact, Decision]],
        payload: ExtractPayload,
        *,
        source_event_id: str | None,
        now: datetime,
        sync_until: datetime | None = None,
    ) -> WriteResult:
        items = [
            MemoryItem(
                id=100 + n,
                user_id=payload.user_id,
                memory_type=MemoryType.PREFERENCE,
                title=fact.title,
                content=fact.content,
            )
            for n, (fact, _) in enumerate(decided)
        ]
        return WriteResult(changed=items, actions=[Action.ADD] * len(items))


class ListConsumer(EventConsumer):
    """Hands out the given events once; keeps what was acknowledged."""

    def __init__(self, events: Sequence[ReceivedEvent]) -> None:
        self.pending = list(events)
        self.acked: list[str] = []

    async def fetch(self, *, max_events: int, timeout: float) -> list[ReceivedEvent]:
        batch, self.pending = self.pending[:max_events], self.pending[max_events:]
        return batch

    async def ack(self, events: Sequence[ReceivedEvent]) -> None:
        self.acked += [event.receipt for event in events]

    async def close(self) -> None:
        return None


@pytest.fixture
def uow() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def ingest(uow: FakeUnitOfWorkFactory, clock: FixedClock) -> IngestMessagesUseCase:
    return IngestMessagesUseCase(uow, clock, OUTBOX)


def relay(
    uow: FakeUnitOfWorkFactory, clock: FixedClock, publisher: RecordingPublisher
) -> RelayOutboxUseCase:
    return RelayOutboxUseCase(uow, clock, publisher, OUTBOX)


def handler(uow: FakeUnitOfWorkFactory, clock: FixedClock) -> HandleEventUseCase:
    return HandleEventUseCase(uow, clock, JOBS, TOPIC)


def turns(*messages: tuple[str, str], message_id: str | None = None) -> IngestMessages:
    return IngestMessages(
        user_id="alice",
        conversation_id="c-1",
        messages=[
            IncomingMessage(role=role, content=text, message_id=message_id)
            for role, text in messages
        ],
    )


async def published_event(uow: FakeUnitOfWorkFactory, clock: FixedClock, text: str) -> bytes:
    """The bytes the relay publishes for one user turn."""
    await ingest(uow, clock)(turns(("user", text)))
    publisher = RecordingPublisher()
    await relay(uow, clock, publisher)()
    (event,) = publisher.published
    return event.value


async def job_for(uow: FakeUnitOfWorkFactory, clock: FixedClock, text: str) -> int:
    """A pending job, made the way the pipeline makes it (ingest → relay → consume)."""
    handled = await handler(uow, clock)(await published_event(uow, clock, text))
    (job_id,) = handled.job_ids
    return job_id


# Ingest


async def test_a_user_turn_is_stored_with_its_extraction_event_in_one_commit(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    (said, answered) = await ingest(uow, clock)(
        turns(("user", "I love green tea"), ("assistant", "Noted!"))
    )
    assert uow.database.commits == 1
    assert len(uow.tables.chat) == 2
    (row,) = uow.tables.outbox.values()
    assert (row.event_type, row.status, row.topic) == (
        EventType.MEMORY_EXTRACT_REQUESTED.value,
        OutboxStatus.PENDING,
        TOPIC,
    )
    assert said.job_key is not None
    assert said.job_key in row.payload
    assert answered.job_key is None


async def test_a_repeated_message_id_is_neither_stored_nor_queued_again(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    first = await ingest(uow, clock)(turns(("user", "I love green tea"), message_id="m-1"))
    again = await ingest(uow, clock)(turns(("user", "I love green tea"), message_id="m-1"))
    assert first[0].job_key == again[0].job_key
    assert len(uow.tables.chat) == 1
    assert len(uow.tables.outbox) == 1


async def test_an_invalid_role_writes_nothing(uow: FakeUnitOfWorkFactory, clock: FixedClock):
    with pytest.raises(InvalidValue):
        await ingest(uow, clock)(turns(("user", "hello"), ("robot", "beep")))
    assert uow.database.commits == 0
    assert uow.tables.chat == {}


# Relay


async def test_due_rows_are_published_once_and_marked_published(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    await ingest(uow, clock)(turns(("user", "I love green tea"), ("user", "I hate rain")))
    publisher = RecordingPublisher()
    assert await relay(uow, clock, publisher)() == 2
    assert len(publisher.published) == 2
    assert {r.status for r in uow.tables.outbox.values()} == {OutboxStatus.PUBLISHED}
    assert await relay(uow, clock, publisher)() == 0, "not due again before republish_after"


async def test_a_failed_publish_sends_the_row_back_to_pending_uncounted_within_a_second(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    await ingest(uow, clock)(turns(("user", "I love green tea")))
    publisher = RecordingPublisher()
    publisher.down = True
    assert await relay(uow, clock, publisher)() == 0
    (row,) = uow.tables.outbox.values()
    assert (row.status, row.retry_count) == (OutboxStatus.PENDING, 0)
    assert row.next_retry_at is not None
    # The 1 s base times a jitter factor in [1/2, 1].
    assert NOW + timedelta(seconds=0.5) <= row.next_retry_at <= NOW + timedelta(seconds=1)
    assert "broker unreachable" in (row.last_error or "")


async def test_a_row_that_can_never_be_published_is_buried(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    await ingest(uow, clock)(turns(("user", "I love green tea")))
    async with uow() as tx:
        (row,) = uow.tables.outbox.values()
        await tx.outbox.save(replace(row, payload="not json"))
        await tx.commit()
    publisher = RecordingPublisher()
    assert await relay(uow, clock, publisher)() == 0
    (row,) = uow.tables.outbox.values()
    assert row.status is OutboxStatus.DEAD
    assert row.last_error
    assert publisher.published == []


# Consume


async def test_an_extract_event_creates_one_pending_job_and_consumes_its_outbox_row(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    event = await published_event(uow, clock, "I love green tea")
    handled = await handler(uow, clock)(event)
    (job,) = uow.tables.jobs.values()
    assert handled.job_ids == (job.id,)
    assert (job.status, job.user_id, job.retry_count) == (JobStatus.PENDING, "alice", 0)
    assert job.max_retry == JOBS.max_retry
    (row,) = uow.tables.outbox.values()
    assert row.status is OutboxStatus.CONSUMED


async def test_a_second_delivery_of_an_event_creates_nothing(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    event = await published_event(uow, clock, "I love green tea")
    await handler(uow, clock)(event)
    again = await handler(uow, clock)(event)
    assert again.duplicate
    assert again.job_ids == ()
    assert len(uow.tables.jobs) == 1


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"event_type": "memory.extract.requested"}'])
async def test_an_event_that_can_never_be_handled_is_kept_as_a_dead_event(
    uow: FakeUnitOfWorkFactory, clock: FixedClock, raw: bytes
):
    handled = await handler(uow, clock)(raw)
    assert handled.dead
    (dead,) = uow.tables.dead_events
    assert (dead.raw_payload, dead.topic) == (raw.decode(), TOPIC)
    assert uow.tables.jobs == {}


async def test_the_consumer_enqueues_new_jobs_and_acknowledges_every_handled_event(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    event = await published_event(uow, clock, "I love green tea")
    consumer = ListConsumer(
        [
            ReceivedEvent(key="c-1", value=event, receipt="r-1"),
            ReceivedEvent(key="c-1", value=event, receipt="r-2"),
            ReceivedEvent(key=None, value=b"not json", receipt="r-3"),
        ]
    )
    queue = RecordingQueue()
    assert await ConsumeEventsUseCase(consumer, handler(uow, clock), queue)() == 3
    (job_id,) = uow.tables.jobs
    assert queue.sent == [(job_id, 0)]
    assert consumer.acked == ["r-1", "r-2", "r-3"]


class FailingHandler(HandleEventUseCase):
    """The real handler, except that events holding ``b"boom"`` raise ``failure``."""

    def __init__(self, uow: FakeUnitOfWorkFactory, clock: FixedClock, failure: Exception):
        super().__init__(uow, clock, JOBS, TOPIC)
        self.failure = failure

    async def __call__(self, raw: bytes) -> Handled:
        if b"boom" in raw:
            raise self.failure
        return await super().__call__(raw)


def poison_batch(good: bytes, *, deliveries: int) -> ListConsumer:
    return ListConsumer(
        [
            ReceivedEvent(key="c-1", value=b'{"boom": 1}', receipt="r-1", deliveries=deliveries),
            ReceivedEvent(key="c-1", value=good, receipt="r-2"),
        ]
    )


async def test_a_failing_event_stays_unacknowledged_and_the_rest_of_the_batch_goes_on(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    consumer = poison_batch(await published_event(uow, clock, "I love tea"), deliveries=4)
    consume = ConsumeEventsUseCase(
        consumer, FailingHandler(uow, clock, RuntimeError("bug")), RecordingQueue()
    )
    assert await consume() == 1
    assert consumer.acked == ["r-2"]
    assert uow.tables.dead_events == []
    assert len(uow.tables.jobs) == 1


async def test_an_event_failing_on_its_last_delivery_is_dead_with_its_last_error(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    consumer = poison_batch(await published_event(uow, clock, "I love tea"), deliveries=5)
    consume = ConsumeEventsUseCase(
        consumer, FailingHandler(uow, clock, RuntimeError("bug")), RecordingQueue()
    )
    assert await consume() == 2
    assert consumer.acked == ["r-1", "r-2"]
    (dead,) = uow.tables.dead_events
    assert dead.reason == "failed 5 deliveries, last: RuntimeError: bug"


async def test_a_transient_failure_never_dead_letters_and_stops_the_batch(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    consumer = poison_batch(await published_event(uow, clock, "I love tea"), deliveries=9)
    outage = ConnectionRefusedError("database down")
    consume = ConsumeEventsUseCase(
        consumer,
        FailingHandler(uow, clock, outage),
        RecordingQueue(),
        is_transient=lambda error: error is outage,
    )
    assert await consume() == 0
    assert consumer.acked == []
    assert uow.tables.dead_events == []


# Process job


def processor(
    uow: FakeUnitOfWorkFactory,
    clock: FixedClock,
    extractor: Extractor,
    queue: RecordingQueue,
    indexer: RecordingIndexer,
    *,
    worker: str = "worker-1",
) -> ProcessJobUseCase:
    return ProcessJobUseCase(uow, clock, extractor, AddingWriter(), indexer, queue, JOBS, worker)


async def test_a_job_succeeds_with_its_memories_indexed_after_commit(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    job_id = await job_for(uow, clock, "I love green tea")
    indexer, queue = RecordingIndexer(), RecordingQueue()
    outcome = await processor(uow, clock, ScriptedExtractor(), queue, indexer)(job_id)
    assert outcome is JobOutcome.SUCCEEDED
    job = uow.tables.jobs[job_id]
    assert (job.status, job.memory_ids, job.locked_by) == (JobStatus.SUCCESS, (100,), None)
    assert [item.content for item in indexer.indexed] == ["I love green tea"]
    assert queue.sent == []


async def test_a_user_with_memory_off_gets_a_successful_job_that_writes_nothing(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    job_id = await job_for(uow, clock, "I love green tea")
    async with uow() as tx:
        await tx.settings.upsert(MemorySettings(user_id="alice", memory_enabled=False))
        await tx.commit()
    extractor = ScriptedExtractor()
    outcome = await processor(uow, clock, extractor, RecordingQueue(), RecordingIndexer())(job_id)
    assert outcome is JobOutcome.SUCCEEDED
    assert uow.tables.jobs[job_id].memory_ids == ()
    assert extractor.seen == []


async def test_a_failed_attempt_is_retried_after_one_second(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    job_id = await job_for(uow, clock, "I love green tea")
    extractor = ScriptedExtractor()
    extractor.failure = ExtractionError("the model timed out")
    queue = RecordingQueue()
    outcome = await processor(uow, clock, extractor, queue, RecordingIndexer())(job_id)
    assert outcome is JobOutcome.FAILED
    job = uow.tables.jobs[job_id]
    assert (job.status, job.retry_count) == (JobStatus.FAILED, 1)
    assert job.next_retry_at == NOW + timedelta(seconds=1)
    assert "the model timed out" in (job.last_error or "")
    assert queue.sent == [(job_id, 1000)]


async def test_a_job_is_dead_at_its_last_allowed_failure(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    job_id = await job_for(uow, clock, "I love green tea")
    async with uow() as tx:
        await tx.jobs.save(
            replace(uow.tables.jobs[job_id], retry_count=JOBS.max_retry - 1),
            expected=JobStatus.PENDING,
            lease=None,
        )
        await tx.commit()
    extractor = ScriptedExtractor()
    extractor.failure = ExtractionError("still down")
    queue = RecordingQueue()
    outcome = await processor(uow, clock, extractor, queue, RecordingIndexer())(job_id)
    assert outcome is JobOutcome.DEAD
    assert uow.tables.jobs[job_id].status is JobStatus.DEAD
    assert queue.sent == []


async def test_an_unparseable_payload_is_dead_at_once(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    async with uow() as tx:
        job_id = await tx.jobs.add_unless_exists(
            ExtractionJob(
                user_id="alice",
                idempotency_key="memory_extract_broken",
                payload_json="{not json",
                next_retry_at=NOW,
            )
        )
        await tx.commit()
    assert job_id is not None
    extractor = ScriptedExtractor()
    outcome = await processor(uow, clock, extractor, RecordingQueue(), RecordingIndexer())(job_id)
    assert outcome is JobOutcome.DEAD
    assert uow.tables.jobs[job_id].status is JobStatus.DEAD
    assert extractor.seen == []


async def test_a_job_of_a_busy_user_is_parked_without_a_message_and_woken_when_that_job_ends(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    first = await job_for(uow, clock, "I love green tea")
    second = await job_for(uow, clock, "I hate rain")
    async with uow() as tx:
        await tx.jobs.claim(first, worker="elsewhere", now=NOW, lease=JOBS.lease)
        await tx.commit()
    queue = RecordingQueue()
    outcome = await processor(uow, clock, ScriptedExtractor(), queue, RecordingIndexer())(second)
    assert outcome is JobOutcome.BUSY
    parked = uow.tables.jobs[second]
    assert (parked.status, parked.enqueued_at) == (JobStatus.PENDING, None)
    assert queue.sent == []

    await release_by_hand(uow, first)
    outcome = await processor(uow, clock, ScriptedExtractor(), queue, RecordingIndexer())(first)

    assert outcome is JobOutcome.SUCCEEDED
    assert queue.sent == [(second, 0)]
    assert uow.tables.jobs[second].enqueued_at == NOW


async def release_by_hand(uow: FakeUnitOfWorkFactory, job_id: int) -> None:
    async with uow() as tx:
        job = await tx.jobs.get(job_id)
        assert job is not None
        held = job.lease
        job.release(now=NOW)
        assert await tx.jobs.save(job, expected=JobStatus.PROCESSING, lease=held)
        await tx.commit()


@pytest.mark.parametrize("failure", [ExtractionError("model down"), InvalidValue("bad")])
async def test_a_failed_or_dead_job_wakes_its_users_next_job(
    uow: FakeUnitOfWorkFactory, clock: FixedClock, failure: Exception
):
    first = await job_for(uow, clock, "I love green tea")
    second = await job_for(uow, clock, "I hate rain")
    async with uow() as tx:
        await tx.jobs.claim(first, worker="elsewhere", now=NOW, lease=JOBS.lease)
        await tx.commit()
    queue = RecordingQueue()
    await processor(uow, clock, ScriptedExtractor(), queue, RecordingIndexer())(second)
    await release_by_hand(uow, first)
    extractor = ScriptedExtractor()
    extractor.failure = failure

    outcome = await processor(uow, clock, extractor, queue, RecordingIndexer())(first)

    assert outcome in (JobOutcome.FAILED, JobOutcome.DEAD)
    assert (second, 0) in queue.sent


async def test_a_woken_user_whose_next_job_already_has_a_message_gets_no_second_one(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    first = await job_for(uow, clock, "I love green tea")
    second = await job_for(uow, clock, "I hate rain")
    queue = RecordingQueue()

    await processor(uow, clock, ScriptedExtractor(), queue, RecordingIndexer())(first)

    assert uow.tables.jobs[second].enqueued_at == NOW  # its own message is on its way
    assert queue.sent == []


async def take_over(uow: FakeUnitOfWorkFactory, job_id: int) -> None:
    """The lease ran out: a sweeper rescued the job and another worker claimed it."""
    async with uow() as tx:
        job = await tx.jobs.get(job_id)
        assert job is not None
        held = job.lease
        job.rescue(now=NOW + JOBS.lease, backoff=JOBS.backoff)
        job.next_retry_at = NOW
        assert await tx.jobs.save(job, expected=JobStatus.PROCESSING, lease=held)
        outcome, _ = await tx.jobs.claim(job_id, worker="usurper", now=NOW, lease=JOBS.lease)
        assert outcome is ClaimOutcome.CLAIMED
        await tx.commit()


class TakeoverWriter(AddingWriter):
    """Loses the job's lease between the decision and the commit."""

    def __init__(self, uow: FakeUnitOfWorkFactory, job_id: int) -> None:
        self._uow, self._job_id = uow, job_id

    async def decide(
        self, uow: UnitOfWork, facts: Sequence[Fact], payload: ExtractPayload, *, now: datetime
    ) -> list[tuple[Fact, Decision]]:
        await take_over(self._uow, self._job_id)
        return await super().decide(uow, facts, payload, now=now)


async def test_a_stale_workers_commit_is_refused_and_rolled_back(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    job_id = await job_for(uow, clock, "I love green tea")
    indexer = RecordingIndexer()
    process = ProcessJobUseCase(
        uow,
        clock,
        ScriptedExtractor(),
        TakeoverWriter(uow, job_id),
        indexer,
        RecordingQueue(),
        JOBS,
        "worker-1",
    )

    assert await process(job_id) is JobOutcome.LOST
    job = uow.tables.jobs[job_id]
    assert (job.status, job.locked_by, job.memory_ids) == (JobStatus.PROCESSING, "usurper", ())
    assert indexer.indexed == []


class BlockingExtractor(ScriptedExtractor):
    """Waits until the test lets it go (or its work is cancelled)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.finished = False

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]:
        self.entered.set()
        await self.go.wait()
        self.finished = True
        return await super().extract(request)


SHORT_LEASE = JobPolicy(lease=timedelta(milliseconds=60))


async def test_a_lost_lease_renewal_stops_the_work_before_it_commits(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    job_id = await job_for(uow, clock, "I love green tea")
    extractor, indexer = BlockingExtractor(), RecordingIndexer()
    process = ProcessJobUseCase(
        uow, clock, extractor, AddingWriter(), indexer, RecordingQueue(), SHORT_LEASE, "w-1"
    )
    running = asyncio.create_task(process(job_id))
    await extractor.entered.wait()

    await take_over(uow, job_id)

    assert await asyncio.wait_for(running, timeout=10) is JobOutcome.LOST
    assert not extractor.finished
    assert uow.tables.jobs[job_id].locked_by == "usurper"
    assert indexer.indexed == []


async def test_a_stopping_worker_releases_its_job_without_counting_the_attempt(
    uow: FakeUnitOfWorkFactory, clock: FixedClock
):
    job_id = await job_for(uow, clock, "I love green tea")
    extractor, queue, stop = BlockingExtractor(), RecordingQueue(), JobStop()
    process = ProcessJobUseCase(
        uow, clock, extractor, AddingWriter(), RecordingIndexer(), queue, JOBS, "w-1", stop=stop
    )
    running = asyncio.create_task(process(job_id))
    await extractor.entered.wait()

    stopped = asyncio.create_task(asyncio.to_thread(stop.stop, timeout=10))

    assert await asyncio.wait_for(running, timeout=10) is JobOutcome.RELEASED
    assert await stopped
    job = uow.tables.jobs[job_id]
    assert (job.status, job.retry_count, job.lease) == (JobStatus.PENDING, 0, None)
    assert queue.sent == [(job_id, 0)]  # woken: another worker takes it


async def test_a_job_someone_else_holds_is_skipped(uow: FakeUnitOfWorkFactory, clock: FixedClock):
    job_id = await job_for(uow, clock, "I love green tea")
    async with uow() as tx:
        await tx.jobs.claim(job_id, worker="elsewhere", now=NOW, lease=JOBS.lease)
        await tx.commit()
    extractor = ScriptedExtractor()
    outcome = await processor(uow, clock, extractor, RecordingQueue(), RecordingIndexer())(job_id)
    assert outcome is JobOutcome.SKIPPED
    assert uow.tables.jobs[job_id].locked_by == "elsewhere"
    assert extractor.seen == []


async def test_leaving_a_fake_unit_of_work_without_commit_changes_nothing(
    uow: FakeUnitOfWorkFactory,
):
    async with uow() as tx:
        await tx.settings.upsert(MemorySettings(user_id="alice", memory_enabled=False))
    assert uow.tables.settings == {}
