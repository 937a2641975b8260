"""The relay's own partitioning and record batches (issue 19), with a fake producer: no server."""

from __future__ import annotations

import asyncio
import random
from typing import Any, cast

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from services.common.kafka import default_partition, murmur2
from services.common.relay import OutboxRelay

# org.apache.kafka.common.utils.UtilsTest.testMurmur2: Java's signed results.
JAVA_MURMUR2 = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize(("text", "signed"), JAVA_MURMUR2.items())
def test_murmur2_is_kafkas(text: str, signed: int) -> None:
    assert murmur2(text.encode()) == signed & 0xFFFFFFFF


def test_the_default_partition_is_the_one_aiokafka_and_java_pick() -> None:
    rng = random.Random(19)
    keys = [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80))) for _ in range(3000)]
    for key in keys:
        assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF, key
        for count in (1, 3, 12):
            everyone = list(range(count))
            assert default_partition(key, count) == DefaultPartitioner()(key, everyone, everyone), key


class FakeProducer:
    """What the relay uses of AIOKafkaProducer; records the batches it is given, in order."""

    def __init__(self, partitions: int, batch_bytes: int) -> None:
        self.partitions = partitions
        self.batch_bytes = batch_bytes
        self.sent: list[tuple[str, int, BatchBuilder]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_bytes, 0)  # no compression

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[Any]:
        assert batch.closed(), "a batch is closed before it is sent (else it lingers)"
        self.sent.append((topic, partition, batch))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def row(seq: int, topic: str, key: str, traceparent: str | None = None) -> dict[str, Any]:
    return {
        "seq": seq,
        "topic": topic,
        "key": key.encode(),
        "subject": key.encode(),
        "id": f"id-{seq}".encode(),
        "time": b"2026-12-06T16:00:00.000000Z",
        "type": "org.un.uncops.pledges.pledge_submitted.v1",
        "source": "/uncops/pledges",
        "dataschema": "https://example.org/schemas/pledges/pledge_submitted.v1.json",
        "value": b'{"seq": %d}' % seq,
        "traceparent": traceparent,
    }


async def published(producer: FakeProducer, rows: list[dict[str, Any]]) -> list[tuple[str, int, Any]]:
    relay = OutboxRelay("pledges", "postgresql+asyncpg://u@127.0.0.1/x", lambda: cast(AIOKafkaProducer, None))
    deliveries = await relay._send(cast(AIOKafkaProducer, producer), cast(list[asyncpg.Record], rows))
    assert len(deliveries) == len(producer.sent)
    return [
        (topic, partition, record)
        for topic, partition, batch in producer.sent
        for record in DefaultRecordBatch(bytes(batch._build()))
    ]


async def test_each_row_goes_to_its_keys_default_partition_in_seq_order() -> None:
    keys = [f"pledge-{n}" for n in range(50)]
    rows = [row(seq, topic, keys[seq % 50]) for seq, topic in enumerate(["a.v1", "b.v1"] * 200)]
    rows[7]["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    producer = FakeProducer(partitions=3, batch_bytes=1024 * 1024)

    records = await published(producer, rows)

    assert len(producer.sent) == 6, "one batch per topic and partition"
    assert sorted(int(r.value[8:-1]) for _, _, r in records) == list(range(400))
    for topic, partition, record in records:
        assert partition == default_partition(record.key, 3)
        assert topic == rows[int(record.value[8:-1])]["topic"]
    for topic, partition, _ in producer.sent:
        seqs = [int(r.value[8:-1]) for t, p, r in records if (t, p) == (topic, partition)]
        assert seqs == sorted(seqs), (topic, partition)
    headers = {int(r.value[8:-1]): dict(r.headers) for _, _, r in records}
    assert headers[3] == {
        "content-type": b"application/json",
        "ce_id": b"id-3",
        "ce_source": b"/uncops/pledges",
        "ce_type": b"org.un.uncops.pledges.pledge_submitted.v1",
        "ce_specversion": b"1.0",
        "ce_subject": b"pledge-3",
        "ce_time": b"2026-12-06T16:00:00.000000Z",
        "ce_dataschema": b"https://example.org/schemas/pledges/pledge_submitted.v1.json",
    }
    assert headers[7]["ce_traceparent"] == headers[7]["traceparent"] == rows[7]["traceparent"].encode()


async def test_a_full_batch_is_sent_and_the_partition_goes_on_in_a_new_one_in_order() -> None:
    rows = [row(seq, "a.v1", "one-key") for seq in range(100)]
    producer = FakeProducer(partitions=3, batch_bytes=2000)

    records = await published(producer, rows)

    assert len(producer.sent) > 5
    assert {partition for _, partition, _ in producer.sent} == {default_partition(b"one-key", 3)}
    assert [int(r.value[8:-1]) for _, _, r in records] == list(range(100))
