"""The broker transport (config/broker.py): a connection that drops while the worker holds an
unacknowledged message must come back as a connection error that Celery reconnects from, not an
AttributeError that stops the worker. Against the real Redis of the test run."""

import uuid

import pytest
from kombu import Connection
from kombu.transport.redis import Transport as StockTransport

from config.broker import Transport
from config.celery import app as celery_app


def test_the_celery_app_uses_the_fixed_transport():
    with celery_app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)


def _hold_an_unacked_message(conn: Connection):
    channel = conn.channel()
    queue = f"relink-test-broker-{uuid.uuid4().hex}"
    channel.queue_declare(queue, auto_delete=True)
    channel.basic_publish(channel.prepare_message("held"), exchange="", routing_key=queue)
    message = channel.basic_get(queue, no_ack=False)
    assert message is not None and channel.qos._delivered  # delivered, not acked
    return channel, message


def _lose_the_connection_like_kombu_does(conn: Connection, channel) -> None:
    # What kombu's close leaves behind when another user of the transport closed first: no
    # pool on the channel, and no connection details on the transport.
    channel._pool = None
    conn.transport.client = None


def test_closing_a_channel_after_the_connection_is_gone_is_a_connection_error():
    """The state is made by hand: the drop that leads to it is a race between two users of the
    transport during a Redis outage, which no test can bring about on demand (the Redis-outage
    fault drill in tests/faults stops a real Redis under a working worker). What is checked here
    is everything that follows from it: a connection error (which Celery reconnects from), the
    held message still waiting in Redis to come back, and a new connection that works."""
    with celery_app.connection_for_write() as conn:
        channel, message = _hold_an_unacked_message(conn)
        tag = message.delivery_tag
        unacked_key = channel.unacked_key
        _lose_the_connection_like_kombu_does(conn, channel)
        conn.maybe_close_channel(channel)  # swallows connection errors only
        assert channel.closed
    with celery_app.connection_for_write() as fresh:
        fresh_channel = fresh.channel()
        # Not lost: still in Redis's unacknowledged set, to be given back after the visibility timeout.
        assert fresh_channel.client.hget(unacked_key, tag) is not None
        fresh_channel.client.hdel(unacked_key, tag)
        # The worker's reconnect works: a new connection sends and receives.
        queue = f"relink-test-broker-{uuid.uuid4().hex}"
        fresh_channel.queue_declare(queue, auto_delete=True)
        fresh_channel.basic_publish(fresh_channel.prepare_message("after"), exchange="", routing_key=queue)
        got = fresh_channel.basic_get(queue, no_ack=True)
        assert got is not None and got.body == b"after"


def test_the_stock_transport_crashes_there():
    """The defect this module works around; when kombu fixes it, this test says so."""
    with Connection(celery_app.conf.broker_url, transport=StockTransport) as conn:
        channel, message = _hold_an_unacked_message(conn)
        _lose_the_connection_like_kombu_does(conn, channel)
        with pytest.raises(AttributeError):
            conn.maybe_close_channel(channel)
