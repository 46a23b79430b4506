"""`Batcher`: requests that arrive together are answered by one `generate_batch` call, on one worker thread.

A bounded asyncio queue sits in front of the model. A collector task takes the first waiting job, waits up to
`batch_wait_ms` for more (at most `max_batch`), groups them by generation options (one `generate_batch` call
per group) and runs each group on the single model thread. Streaming jobs go through the same queue but run
alone, with `pipeline.stream` on that thread, their pieces passed back to the event loop. A full queue raises
`asyncio.QueueFull` at once (the route answers 429); nothing piles up unbounded.

Work given up is not finished: a job whose future is cancelled (the route's timeout, or its client gone) or whose
stream is cancelled is skipped if it has not started, and stops its `generate` call at the next decoding step if
it has (the pipeline's `should_stop`; a call answering several jobs stops when all of them are given up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from soundwave.inference.pipeline import Item, Result

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    item: Item
    options: dict
    future: asyncio.Future | None = None  # batch job: its Result
    events: asyncio.Queue | None = None  # stream job: ("piece", str) ... then ("end", None) or ("error", exc)
    cancelled: bool = False  # given up (timed out, client gone): skip it, or stop its generation at the next step
    transcribe: bool = False  # answered by `transcribe_batch` (the model's transcription decoding)
    timestamps: str | None = None  # transcribe jobs: also place words/segments in time ("word", "segment")

    def __post_init__(self) -> None:
        if self.future is not None:  # the route cancels the future when it gives up on it
            self.future.add_done_callback(lambda future: future.cancelled() and self.cancel())

    def cancel(self) -> None:
        self.cancelled = True  # a plain flag: the model thread reads it between decoding steps

    def key(self) -> tuple:
        """Jobs with equal keys can share a `generate_batch` call; a seeded job runs alone so it reproduces."""
        if self.options.get("seed") is not None:
            return ("alone", id(self))
        return (self.transcribe, self.timestamps, *sorted((k, repr(v)) for k, v in self.options.items()))


@dataclass
class StreamJob:
    """A queued streaming request. Iterate `pieces()` for the text; `cancel()` when the client goes away."""

    _job: _Job
    finished: bool = field(default=False, init=False)

    async def next_event(self) -> tuple[str, object]:
        """The next ("piece", text), ("end", None) or ("error", exception)."""
        kind, value = await self._job.events.get()
        self.finished = kind != "piece"
        return kind, value

    def cancel(self) -> None:
        self._job.cancel()

    async def pieces(self) -> AsyncIterator[str]:
        while True:
            kind, value = await self.next_event()
            if kind == "error":
                raise value  # type: ignore[misc]
            if kind == "end":
                return
            yield value  # type: ignore[misc]


class Batcher:
    """Feeds one pipeline from a bounded queue. `start()` inside the running event loop, `stop()` at shutdown.

    Args:
        pipeline: anything with `generate_batch(items, should_stop=None, **options)`, `transcribe_batch` alike, and
            `stream(audio, prompt, history, history_audio, should_stop=None, **options)` (a `soundwave.Pipeline`).
        max_batch: most jobs per `generate_batch` call.
        queue_size: most jobs waiting; `submit` raises `asyncio.QueueFull` beyond it.
        batch_wait_ms: how long to wait for more jobs after the first one arrives.
    """

    def __init__(self, pipeline, max_batch: int = 8, queue_size: int = 64, batch_wait_ms: float = 5.0) -> None:
        self.pipeline = pipeline
        self.max_batch = max_batch
        self.batch_wait = batch_wait_ms / 1000
        self.queue_size = queue_size
        self.batch_sizes: list[int] = []  # size of every generate_batch call, for tests and logs
        self._queue: asyncio.Queue[_Job] | None = None
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    # ---- life cycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soundwave-model")
        self._task = asyncio.create_task(self._collect(), name="soundwave-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._task = self._executor = None

    @property
    def queued(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    # ---- submitting ---------------------------------------------------------------------------------------------
    def _put(self, job: _Job) -> None:
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not called (run the app with its lifespan)")
        self._queue.put_nowait(job)  # raises asyncio.QueueFull
        self._arrived.set()

    def submit(
        self, item: Item, options: dict, transcribe: bool = False, timestamps: str | None = None
    ) -> asyncio.Future:
        """Queue one item (`transcribe`: a transcript, `transcribe_batch`, with `timestamps` if given); the future
        resolves to its `Result`. Cancel the future to give up on it."""
        future = asyncio.get_running_loop().create_future()
        job = _Job(item, options, future=future, transcribe=transcribe, timestamps=timestamps)
        self._put(job)
        return job.future

    def submit_stream(self, item: Item, options: dict) -> StreamJob:
        """Queue one streaming item."""
        job = _Job(item, options, events=asyncio.Queue())
        self._put(job)
        return StreamJob(job)

    # ---- the collector ------------------------------------------------------------------------------------------
    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            deadline = loop.time() + self.batch_wait
            while len(jobs) < self.max_batch:
                try:
                    jobs.append(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
            try:
                await self._run(jobs)
            except Exception:  # never let one bad batch kill the collector
                logger.exception("batch of %d failed", len(jobs))

    async def _run(self, jobs: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        groups: dict[tuple, list[_Job]] = {}
        for job in jobs:
            if job.future is not None and not job.future.done():  # skip the ones given up while waiting
                groups.setdefault(job.key(), []).append(job)
        for group in groups.values():
            await self._answer(group)
        for job in jobs:
            if job.events is not None and not job.cancelled:
                await loop.run_in_executor(self._executor, self._pump, job, loop)

    async def _answer(self, group: list[_Job]) -> None:
        """One `generate_batch` call for jobs with equal options; if it raises, each job again alone, so a bad
        request fails only itself, never the requests it happened to be batched with."""
        group = [job for job in group if not job.cancelled]  # given up while an earlier group ran
        if not group:
            return
        self.batch_sizes.append(len(group))
        method = self.pipeline.transcribe_batch if group[0].transcribe else self.pipeline.generate_batch
        should_stop = partial(_all_cancelled, tuple(group))
        timed = {"timestamps": group[0].timestamps} if group[0].timestamps is not None else {}
        call = partial(method, [job.item for job in group], should_stop=should_stop, **timed, **group[0].options)
        try:
            results: list[Result] = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except Exception as err:
            if len(group) > 1:
                logger.warning("a batch of %d raised (%s); answering its requests one by one", len(group), err)
                for job in group:
                    await self._answer([job])
                return
            logger.exception("generate_batch failed for %d item(s)", len(group))
            if not group[0].future.done():
                group[0].future.set_exception(err)
            return
        for job, result in zip(group, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    def _pump(self, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        """On the model thread: run `pipeline.stream` and hand each piece to the event loop."""

        def emit(kind: str, value) -> None:
            loop.call_soon_threadsafe(job.events.put_nowait, (kind, value))

        item = job.item
        try:
            stream = self.pipeline.stream(
                item.audio, item.prompt, item.history, item.history_audio, should_stop=lambda: job.cancelled,
                **job.options,
            )  # fmt: skip
            for piece in stream:
                if job.cancelled:
                    stream.close()
                    break
                emit("piece", piece)
        except Exception as err:
            emit("error", err)
        else:
            emit("end", None)


def _all_cancelled(jobs: tuple[_Job, ...]) -> bool:
    """True once every job of a `generate` call is given up: the call may stop."""
    return all(job.cancelled for job in jobs)
