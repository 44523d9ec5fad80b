"""Micro-batching of lists (known and ad-hoc users): requests that arrive together share one product.

Scoring one user reads the whole item matrix for a 1 x n product, so at 32 concurrent clients most of
a request's time is memory traffic. Requests queue here; the first schedules a flush with
`call_soon`, which runs after every handler already ready in this turn of the event loop has queued
its own, so a batch holds whatever arrived together and nobody waits for a timer. A batch of one is
scored exactly as `llmrec recommend` scores it; in a larger batch a row's scores can differ from it in
the last bit of a float (another matrix-product kernel), which can swap two items whose scores tie to
that bit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from llmrec.serve.recommender import Ask, Ranked, Recommender

MAX_BATCH = 64  # rows per product; more queued requests make more batches


@dataclass
class Batcher:
    """Collects `Ask`s for one event loop and scores them in batches."""

    queue: list[tuple[Recommender, Ask, asyncio.Future[Ranked]]] = field(default_factory=list)
    scheduled: bool = False
    batches: int = 0  # batches scored and requests in them, for tests and metrics
    requests: int = 0

    async def recommend(self, recommender: Recommender, ask: Ask) -> Ranked:
        """The list for `ask`, scored with whatever else is queued by the end of this loop turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Ranked] = loop.create_future()
        self.queue.append((recommender, ask, future))
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        """Score everything queued, grouped by recommender (a reload may leave two for a moment)."""
        self.scheduled = False
        queued, self.queue = self.queue, []
        groups: dict[int, list[tuple[Recommender, Ask, asyncio.Future[Ranked]]]] = {}
        for entry in queued:
            groups.setdefault(id(entry[0]), []).append(entry)
        for entries in groups.values():
            for start in range(0, len(entries), MAX_BATCH):
                chunk = entries[start : start + MAX_BATCH]
                self.batches, self.requests = self.batches + 1, self.requests + len(chunk)
                try:
                    lists = chunk[0][0].answer([ask for _, ask, _ in chunk])
                except Exception as err:  # noqa: BLE001  (handed to each waiting request)
                    for _, _, future in chunk:
                        if not future.done():
                            future.set_exception(err)
                    continue
                for (_, _, future), ranked in zip(chunk, lists, strict=True):
                    if not future.done():  # a client that went away leaves a cancelled future
                        future.set_result(ranked)


__all__ = ["MAX_BATCH", "Batcher"]
