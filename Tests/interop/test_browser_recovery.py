"""Connection state recovery in the real web app (headless Chromium), issue 13.

The browser reaches the server through a TCP proxy this test owns (`CuttableProxy`), so the
test can take the network away under the open page: every connection through the proxy is
closed and new ones are refused. Meanwhile another user posts messages (straight to the
server), then the network comes back and the app's Socket.IO client reconnects by itself.

- Inside RECOVERY_WINDOW the client presents its pid and last offset and the server gives the
  session back: the app shows every missed message exactly once, in order, and it got them
  through the protocol (`#connection[data-recovered=true]`, and no REST catch-up request
  `GET /api/rooms/<id>/messages?after=…` was made after the cut). The same holds when the
  server itself is restarted during the gap (SQLite: sessions and log are in its file).
- Outside the window (RECOVERY_WINDOW=1, a gap of several seconds) the client gets a new
  session (`data-recovered=false`) and the app falls back to REST catch-up: it still shows
  every missed message exactly once, in order.
"""
import asyncio
import threading
import time
import uuid

import pytest

from browser_support import (
    DESKTOP, assert_no_console_errors, find, login, make_driver, require_browser, start_server_process,
    stop_server_process, wait, wait_message,
)
from relay_fixture import free_port
from switchboard_fixture import Switchboard

PASSWORD = "correct horse battery"
# While the network is cut, the page's reconnect attempts and any request in flight fail loudly.
OUTAGE = [r"net::ERR_CONNECTION_REFUSED", r"net::ERR_EMPTY_RESPONSE", r"net::ERR_CONNECTION_RESET",
          r"WebSocket connection to .* failed", r"Failed to fetch"]
MISSED = 5

# Every fetch the page makes, in order ({url, method}); installed before any of the app's scripts run.
RECORD_FETCHES = """
window.__fetches = [];
const originalFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  window.__fetches.push({ url: String(input && input.url ? input.url : input), method: (init && init.method) || "GET" });
  return originalFetch(input, init);
};
"""


class CuttableProxy:
    """A TCP proxy on 127.0.0.1:`port` to 127.0.0.1:`target_port`, run by an asyncio loop on its
    own thread. `cut()` stops listening (new connections are refused) and closes every
    connection through it; `restore()` listens again on the same port."""

    def __init__(self, target_port: int, port: int):
        self.target_port, self.port = target_port, port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.restore()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _accept(self, client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        self.writers |= {client_writer, server_writer}
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        finally:
            self.writers -= {client_writer, server_writer}

    async def _listen(self):
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self):
        self.server.close()
        await self.server.wait_closed()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def restore(self):
        self._run(self._listen())

    def cut(self):
        self._run(self._cut())

    def stop(self):
        try:
            self.cut()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


@pytest.fixture(params=[("inside-window", "120"), ("server-restart", "120"), ("outside-window", "1")], ids=lambda p: p[0])
def setup(request):
    """A server with the case's RECOVERY_WINDOW, the proxy in front of it (the browser's origin)
    and a browser recording its fetches."""
    require_browser()
    case, window = request.param
    proxy_port = free_port()
    server = Switchboard(RECOVERY_WINDOW=window, PUBLIC_URL=f"http://127.0.0.1:{proxy_port}")
    proxy = CuttableProxy(server.port, proxy_port)
    driver = None
    try:
        driver = make_driver(DESKTOP)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_FETCHES})
        yield case, server, proxy, driver, f"http://127.0.0.1:{proxy_port}"
    finally:
        if driver is not None:
            for entry in driver.get_log("browser"):
                print(f"console {entry['level']}: {entry['message']}")
            driver.quit()
        proxy.stop()
        server.stop()


def shown_bodies(driver) -> list[str]:
    return [el.text for el in driver.find_elements("css selector", "#messages li.message[data-message-id] .body")]


def catch_up_requests(driver, room_id: int, since: int) -> list[str]:
    fetches = driver.execute_script("return window.__fetches")[since:]
    return [f["url"] for f in fetches if f["method"] == "GET" and f"/rooms/{room_id}/messages?after=" in f["url"]]


def test_the_app_shows_every_missed_message_once_after_a_lost_connection(setup):
    case, server, proxy, driver, url = setup
    me, friend = server.new_user("away"), server.new_user("talker")
    room = server.api("POST", "/rooms", token=friend["accessToken"], json={"name": f"gap-{uuid.uuid4().hex[:6]}", "kind": "public"}).json()
    assert server.api("POST", f"/rooms/{room['id']}/join", token=me["accessToken"]).status_code == 200

    def post(body):
        r = server.api("POST", f"/rooms/{room['id']}/messages", token=friend["accessToken"], json={"body": body, "clientMsgId": uuid.uuid4().hex})
        assert r.status_code == 201, r.text

    driver.get(url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
    find(driver, "#composer-input")
    # A logged event reached the page before the cut, so its client holds an offset to recover from.
    post("before the gap")
    wait_message(driver, "before the gap")
    find(driver, "#connection[data-state=connected][data-recovered=false]")
    fetches_before = len(driver.execute_script("return window.__fetches"))

    proxy.cut()
    find(driver, "#connection[data-state=waiting]")
    if case == "server-restart":
        start_server_process(server, stop_server_process(server))
    missed = [f"missed {i} {uuid.uuid4().hex[:4]}" for i in range(MISSED)]
    for body in missed:
        post(body)
    if case == "outside-window":
        time.sleep(3)  # the session's window (1 s) runs out while the page is away
    proxy.restore()

    recovered = "false" if case == "outside-window" else "true"
    find(driver, f"#connection[data-state=connected][data-recovered={recovered}]", timeout=30)
    # A live message after the reconnect: replayed events come before any live one, and the
    # fallback's REST catch-up has had time to answer once this one is shown too.
    post("after the gap")
    wait_message(driver, "after the gap", timeout=15)
    expected = ["before the gap", *missed, "after the gap"]
    wait(driver, 10).until(lambda d: all(b in shown_bodies(d) for b in expected), "a missed message is not shown")
    time.sleep(0.5)  # anything shown twice would be by now
    assert shown_bodies(driver) == expected

    catch_ups = catch_up_requests(driver, room["id"], fetches_before)
    if case == "outside-window":
        assert catch_ups, "the app did not fall back to REST catch-up"
    else:
        assert catch_ups == [], f"recovered, yet the app caught up over REST: {catch_ups}"
        assert driver.execute_script("return document.querySelector('#connection').dataset.recovered") == "true"
    assert_no_console_errors(driver, allowed=OUTAGE)
