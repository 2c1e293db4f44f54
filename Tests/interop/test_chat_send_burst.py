"""Bursts of concurrent `message:send`s from real python-socketio clients in their default
settings (polling first, then the upgrade to WebSocket), which the server group-commits into
batches (MessageService.insertBatch): each ack answers its own send, a clientMsgId sent from
two tabs at once is one message, every member hears the same order, which is the history's, a
mute landing during a burst stops the muted member's sends at once, and a server killed
mid-burst loses nothing a retry with the same clientMsgId does not get back exactly once."""
import signal
import threading
import time
import uuid

import socketio

from chat_client import create_room
from event_recorder import EventRecorder
from switchboard_fixture import Switchboard


class OrderedTab(EventRecorder):
    """A client in python-socketio's default transports that also keeps every recorded event with
    its offset (`timeline`: (name, data, offset)). Order is read by offset, not by arrival:
    python-engineio's client runs each message handler in its own thread (engineio/client.py:
    `_trigger_event('message', ..., run_async=True)`), so handlers may see events out of wire order."""

    EVENTS = ("message:new", "member:muted")

    def __init__(self, server, token):
        super().__init__()
        self.timeline = []
        self.client = socketio.Client(reconnection=False)
        for name in self.EVENTS:
            self.client.on(name, self._ordered(name))
        self.client.connect(server.url, auth={"token": token}, wait_timeout=10)
        # an acked event is handled after the connection handler joined the socket's rooms
        assert self.client.call("auth:refresh", {"token": token}, timeout=10)["ok"] is True

    def _ordered(self, name):
        record = self._recorder(name)

        def handler(data, *rest):
            with self.cond:
                self.timeline.append((name, data, int(rest[0]) if rest else None))
            record(data, *rest)
        return handler

    def wait_upgraded(self, timeout=10.0):
        """Waits for the default upgrade from polling to WebSocket and returns the transport."""
        deadline = time.monotonic() + timeout
        while self.client.transport() != "websocket" and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.client.transport()

    def send(self, room_id, body, client_msg_id=None, timeout=30):
        payload = {"roomId": room_id, "body": body}
        if client_msg_id is not None:
            payload["clientMsgId"] = client_msg_id
        return self.client.call("message:send", payload, timeout=timeout)

    def close(self):
        if self.client.connected:
            self.client.disconnect()


def room_history(server, token, room_id):
    """Every message of the room, in history (id) order."""
    messages, before = [], None
    while True:
        query = "?limit=100" + (f"&before={before}" if before else "")
        page = server.api("GET", f"/rooms/{room_id}/messages{query}", token).json()
        messages = page["messages"] + messages
        if not page.get("hasMore"):
            return messages
        before = page["messages"][0]["id"]


def burst(tabs_and_jobs):
    """Runs each (tab, jobs) in its own thread, all starting together; a job is
    (room_id, body, clientMsgId or None). Returns [(tab, job, ack)] in no particular order."""
    barrier = threading.Barrier(len(tabs_and_jobs))
    answers, lock = [], threading.Lock()

    def run(tab, jobs):
        barrier.wait()
        for job in jobs:
            ack = tab.send(*job)
            with lock:
                answers.append((tab, job, ack))

    threads = [threading.Thread(target=run, args=pair) for pair in tabs_and_jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_burst_from_every_tab_acks_each_send_its_own_message_and_all_hear_one_order(server):
    users = [server.new_user(f"b{i}") for i in range(3)]
    room = create_room(server, users[0]["accessToken"])
    for user in users[1:]:
        assert server.api("POST", f"/rooms/{room['id']}/join", user["accessToken"]).status_code == 200
    tabs = [OrderedTab(server, user["accessToken"]) for user in users for _ in range(2)]
    try:
        assert {tab.wait_upgraded() for tab in tabs} == {"websocket"}
        jobs = []
        for index, tab in enumerate(tabs):
            user = index // 2
            mine = []
            for k in range(15):
                if k % 3 == 0:    # no clientMsgId: matched back by id order
                    mine.append((room["id"], f"tab {index} plain {k} {uuid.uuid4().hex[:6]}", None))
                elif k % 3 == 1:  # the same clientMsgId and body from both tabs of the user at once
                    mine.append((room["id"], f"user {user} shared {k}", f"shared-{k}-ü🙂"))
                else:
                    mine.append((room["id"], f"tab {index} own {k}", f"own-{index}-{k}"))
            jobs.append((tab, mine))
        answers = burst(jobs)

        assert len(answers) == 6 * 15
        by_key = {}
        for tab, (room_id, body, client_msg_id), ack in answers:
            assert ack["ok"] is True, ack
            message = ack["message"]
            assert (message["body"], message["roomId"], message.get("clientMsgId")) == (body, room_id, client_msg_id), (body, message)
            if client_msg_id:
                by_key.setdefault((message["authorId"], client_msg_id), set()).add(message["id"])
        assert all(len(ids) == 1 for ids in by_key.values()), by_key
        duplicates = [ack for _, _, ack in answers if ack["duplicate"]]
        assert len(duplicates) == 3 * 5, "each shared clientMsgId stored once, the other tab told it is a duplicate"

        history = room_history(server, users[0]["accessToken"], room["id"])
        assert len(history) == 6 * 15 - len(duplicates)
        history_ids = [m["id"] for m in history]
        assert history_ids == sorted(history_ids)
        assert {ack["message"]["id"] for _, _, ack in answers} == set(history_ids)
        deadline = time.monotonic() + 10
        for tab in tabs:
            while True:
                with tab.cond:
                    heard = [data["id"] for name, data, _ in sorted(tab.timeline, key=lambda e: e[2]) if name == "message:new"]
                if len(heard) >= len(history_ids) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert heard == history_ids, "every member hears every message once, in id order"
    finally:
        for tab in tabs:
            tab.close()


def test_a_mute_during_a_burst_stops_the_muted_member_at_once(server):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = create_room(server, ann["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    watcher = OrderedTab(server, ann["accessToken"])
    bobs = [OrderedTab(server, bob["accessToken"]) for _ in range(3)]
    try:
        assert {tab.wait_upgraded() for tab in [watcher, *bobs]} == {"websocket"}
        muted_at = []   # monotonic time the mute's response arrived
        stop = threading.Event()
        sent = []       # (emitted at, ack received at, ack)
        lock = threading.Lock()

        def keep_sending(tab, index):
            k = 0
            while not stop.is_set():
                emitted = time.monotonic()
                ack = tab.send(room["id"], f"bob {index} {k}", f"bob-{index}-{k}")
                with lock:
                    sent.append((emitted, time.monotonic(), ack))
                k += 1

        threads = [threading.Thread(target=keep_sending, args=(tab, i)) for i, tab in enumerate(bobs)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(sent) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        r = server.api("POST", f"/rooms/{room['id']}/mutes", ann["accessToken"], json={"userId": bob["user"]["id"], "durationSeconds": 600})
        assert r.status_code == 201, r.text
        muted_at.append(time.monotonic())
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()

        ok = [(emitted, ack) for emitted, _, ack in sent if ack["ok"]]
        refused = [ack for _, _, ack in sent if not ack["ok"]]
        assert ok and refused, "the burst straddled the mute"
        assert all(ack["error"]["code"] == "muted" for ack in refused), refused
        assert not [ack for emitted, ack in ok if emitted > muted_at[0]], "no send emitted after the mute's answer is stored"
        # the room hears the mute after every message of bob's that was stored, none after it
        watcher.wait_for("member:muted")
        stored = {ack["message"]["id"] for _, ack in ok}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with watcher.cond:
                timeline = sorted(watcher.timeline, key=lambda e: e[2])
            if stored <= {data["id"] for name, data, _ in timeline if name == "message:new"}:
                break
            time.sleep(0.05)
        names = [(name, data.get("id")) for name, data, _ in timeline]
        mute_position = [name for name, _ in names].index("member:muted")
        assert {id for name, id in names[:mute_position] if name == "message:new"} == stored
        assert not [id for name, id in names[mute_position:] if name == "message:new"]
        history = room_history(server, ann["accessToken"], room["id"])
        assert {m["id"] for m in history} == stored
    finally:
        for tab in [watcher, *bobs]:
            tab.close()


def test_a_server_killed_mid_burst_loses_nothing_a_retry_does_not_get_back_once():
    first = Switchboard()
    data_dir = first.data_dir
    second = None
    try:
        ann = first.new_user("ann")
        room = create_room(first, ann["accessToken"])
        tabs = [OrderedTab(first, ann["accessToken"]) for _ in range(3)]
        assert {tab.wait_upgraded() for tab in tabs} == {"websocket"}
        jobs = [(tab, [(room["id"], f"tab {i} m{k}", f"k-{i}-{k}") for k in range(200)]) for i, tab in enumerate(tabs)]
        acked = {}
        lock = threading.Lock()

        def run(tab, mine):
            for job in mine:
                try:
                    ack = tab.send(*job, timeout=5)
                except Exception:   # the server died: the rest of this tab's sends are unanswered
                    return
                with lock:
                    acked[job[2]] = ack

        threads = [threading.Thread(target=run, args=pair) for pair in jobs]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acked) < 60 and time.monotonic() < deadline:
            time.sleep(0.005)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        for thread in threads:
            thread.join()
        for tab in tabs:
            tab.close()
        assert 0 < len(acked) < 600 and all(ack["ok"] for ack in acked.values())

        # a new process over the same data directory; every send retried with its clientMsgId
        second = Switchboard(DATA_DIR=data_dir)
        token = second.login(ann["user"]["username"])["accessToken"]
        retry_tabs = [OrderedTab(second, token) for _ in range(3)]
        try:
            assert {tab.wait_upgraded() for tab in retry_tabs} == {"websocket"}
            answers = burst([(retry_tabs[i], mine) for i, (_, mine) in enumerate(jobs)])
        finally:
            for tab in retry_tabs:
                tab.close()
        for _, (_, body, client_msg_id), ack in answers:
            assert ack["ok"] is True, ack
            assert ack["message"]["body"] == body and ack["message"]["clientMsgId"] == client_msg_id
            if client_msg_id in acked:
                assert ack["duplicate"] is True and ack["message"]["id"] == acked[client_msg_id]["message"]["id"]
        history = room_history(second, token, room["id"])
        assert sorted(m["clientMsgId"] for m in history) == sorted(job[2] for _, mine in jobs for job in mine)
    finally:
        if second is not None:
            second.stop()
        first.stop()   # after the second: removes the data directory they shared
