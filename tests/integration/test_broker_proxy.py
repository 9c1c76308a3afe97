"""Through the broker proxy, on the real embedded broker: a consumer that asks to wait 20 s for
records gets one as soon as it is produced (Tansu alone would look again only after 10 s), and
records arrive whole and in order."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from brokers import Tansu
from services.local.broker_proxy import BrokerProxy
from services.local.platform import free_port

WAIT_MS = 20_000


async def test_a_waiting_consumer_gets_each_record_as_it_is_produced() -> None:
    port = free_port()
    broker = Tansu(advertised_port=port)  # clients learn the proxy's address from the metadata
    broker.start()
    proxy = BrokerProxy(("127.0.0.1", broker.port))
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", port)
    address = f"127.0.0.1:{port}"
    try:
        producer = AIOKafkaProducer(bootstrap_servers=address)
        consumer = AIOKafkaConsumer("proxied", bootstrap_servers=address, fetch_max_wait_ms=WAIT_MS,
                                    auto_offset_reset="earliest", group_id="g")
        await producer.start()
        await producer.send_and_wait("proxied", b"first")
        await consumer.start()
        assert (await asyncio.wait_for(consumer.getone(), 30)).value == b"first"
        for i in range(5):
            await asyncio.sleep(0.3)  # the consumer's next Fetch is held by now
            await producer.send_and_wait("proxied", f"r{i}".encode())
            got = await asyncio.wait_for(consumer.getone(), WAIT_MS / 1000 / 4)
            assert got.value == f"r{i}".encode()
        assert proxy.held >= 5
        await consumer.stop()
        await producer.stop()
    finally:
        server.close()
        broker.stop()
