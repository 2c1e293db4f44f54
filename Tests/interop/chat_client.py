"""What the chat test files share (test_chat_realtime, test_chat_mentions_search,
test_chat_moderation, test_chat_guests_admin): a connected python-socketio client that records the events it is told
to, a `tabs` fixture that closes them after the test, and room creation over REST."""
import threading
import uuid

import pytest
import socketio

from event_recorder import EventRecorder


class Tab(EventRecorder):
    """One connected client recording `events` by name; `disconnected` is set when the server
    closes it. `transports`: python-socketio's (`websocket`, `polling`)."""

    def __init__(self, server, token: str, events, transports=("websocket",)):
        super().__init__()
        self.client = socketio.Client(reconnection=False)
        self.disconnected = threading.Event()
        for name in events:
            self.client.on(name, self._recorder(name))
        self.client.on("disconnect", lambda *args: self.disconnected.set())
        self.client.connect(server.url, auth={"token": token}, transports=list(transports), wait_timeout=10)

    def call(self, event, data):
        return self.client.call(event, data, timeout=10)

    def bodies(self):
        """The bodies of the `message:new` events received so far."""
        with self.cond:
            return [m["body"] for m in self.events.get("message:new", [])]

    def close(self):
        if self.client.connected:
            self.client.disconnect()


def tabs_fixture(*events):
    """A `tabs` fixture for a test module: `tabs(server, token, transports=("websocket",))`
    opens a ``Tab`` recording `events`; every tab opened is closed after the test."""

    @pytest.fixture
    def tabs():
        opened = []

        def open_tab(server, token, transports=("websocket",)):
            tab = Tab(server, token, events, transports)
            opened.append(tab)
            return tab

        yield open_tab
        for tab in opened:
            tab.close()

    return tabs


def create_room(server, token, **fields):
    """Creates a room named `room-<6 hex>` with `fields` (kind, allowGuests, …; public by
    default) and returns it."""
    r = server.api("POST", "/rooms", token, json={"name": f"room-{uuid.uuid4().hex[:6]}", **fields})
    assert r.status_code == 201, r.text
    return r.json()
