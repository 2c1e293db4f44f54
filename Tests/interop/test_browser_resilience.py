"""The web app through a server restart and past access-token expiry (headless Chromium).

The server runs with the shortest access-token lifetime it accepts (30 s), so the app has
to refresh before expiry for REST and for the socket; and it is stopped and started again
under the open page, so the app's Socket.IO client has to reconnect (backoff) and send
what was typed meanwhile, exactly once."""
import time
import uuid

import pytest
from selenium.webdriver.common.keys import Keys

from browser_support import (
    DESKTOP, assert_no_console_errors, find, login, make_driver, require_browser, screenshot,
    start_server_process, stop_server_process, wait, wait_message,
)
from switchboard_fixture import Switchboard

PASSWORD = "correct horse battery"
# While the server is down, the page's reconnect attempts and refreshes fail loudly.
OUTAGE = [r"net::ERR_CONNECTION_REFUSED", r"WebSocket connection to .* failed"]


@pytest.fixture(scope="module")
def server():
    require_browser()
    s = Switchboard(ACCESS_TOKEN_TTL="30")
    yield s
    s.stop()


def test_reconnect_and_token_refresh(server):
    me, friend = server.new_user("steady"), server.new_user("pal")
    r = server.api("POST", "/rooms", token=me["accessToken"], json={"name": f"ops-{uuid.uuid4().hex[:6]}", "kind": "public"})
    room = r.json()
    assert server.api("POST", f"/rooms/{room['id']}/join", token=friend["accessToken"]).status_code == 200
    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/")
        login(driver, me["user"]["username"], PASSWORD)
        logged_in_at = time.monotonic()
        find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
        find(driver, "#composer-input")
        assert_no_console_errors(driver)

        # The server goes away: the app says so, and a message typed now waits.
        environment = stop_server_process(server)
        find(driver, "#connection[data-state=waiting]")
        box = find(driver, "#composer-input")
        box.send_keys("sent during the outage")
        box.send_keys(Keys.ENTER)
        find(driver, "#messages li.message.pending")
        screenshot(driver, "desktop-14-reconnecting")
        start_server_process(server, environment)
        find(driver, "#connection[data-state=connected]", timeout=20)
        wait(driver, 25).until(
            lambda d: not d.find_elements("css selector", "#messages li.pending, #messages li.failed")
            and any(el.text == "sent during the outage" for el in d.find_elements("css selector", "#messages li[data-message-id] .body")),
            "the buffered message did not settle",
        )
        friend_token = server.login(friend["user"]["username"])["accessToken"]
        history = server.api("GET", f"/rooms/{room['id']}/messages", token=friend_token).json()["messages"]
        assert [m["body"] for m in history] == ["sent during the outage"]
        assert_no_console_errors(driver, allowed=OUTAGE)

        # Past the first access token's lifetime, everything still works: live messages in,
        # sends out, and a reload restores the session from the refresh cookie.
        remaining = 32 - (time.monotonic() - logged_in_at)
        if remaining > 0:
            time.sleep(remaining)
        # The friend's own 30-second token may have lapsed by now too (it is not what this
        # test is about): take a fresh one for the REST post.
        friend_token = server.login(friend["user"]["username"])["accessToken"]
        r = server.api("POST", f"/rooms/{room['id']}/messages", token=friend_token, json={"body": "still there?", "clientMsgId": "late-1"})
        assert r.status_code == 201, r.text
        wait_message(driver, "still there?")
        box = find(driver, "#composer-input")
        box.send_keys("yes, still here")
        box.send_keys(Keys.ENTER)
        wait(driver, 15).until(lambda d: any(el.text == "yes, still here" for el in d.find_elements("css selector", "#messages li[data-message-id] .body")))
        driver.refresh()
        find(driver, f"#room-list li[data-room-id='{room['id']}']")
        find(driver, "#connection[data-state=connected]")
        assert_no_console_errors(driver)
    finally:
        for entry in driver.get_log("browser"):
            print(f"console {entry['level']}: {entry['message']}")
        driver.quit()
