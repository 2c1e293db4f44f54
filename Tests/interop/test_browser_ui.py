"""Focused browser checks of the web app (headless Chromium through Selenium): form errors
from the API, failed sends and retry, history loading upward, badges kept in step across
tabs, public rooms, direct messages, deleting a room, sessions and logging out everywhere.

Users are made over REST (`Switchboard.new_user`, password "correct horse battery") so
each test starts where it needs to."""
import re
import uuid

import pytest
from selenium.webdriver.common.keys import Keys

from browser_support import (
    DESKTOP, PHONE, assert_no_console_errors, badge_of, find, gone, login, make_driver, open_mailed_link,
    require_browser, screenshot, send_message, submit, text_of, wait, wait_message,
)
from switchboard_fixture import Switchboard

PASSWORD = "correct horse battery"


def make_room(server, token, name=None, kind="public", **extra):
    r = server.api("POST", "/rooms", token=token, json={"name": name or f"room-{uuid.uuid4().hex[:6]}", "kind": kind, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def post(server, token, room_id, body):
    r = server.api("POST", f"/rooms/{room_id}/messages", token=token, json={"body": body, "clientMsgId": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()["message"]


def open_room(driver, server, user, room):
    """Logs `user` in on this page and opens `room` from the room list."""
    driver.get(server.url + "/")
    login(driver, user["user"]["username"], PASSWORD)
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()


def room_of_two(server, prefix):
    """A new public room of a new user, which a second new user has joined: (owner, friend, room)."""
    me, friend = server.new_user(prefix), server.new_user(prefix + "pal")
    room = make_room(server, me["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=friend["accessToken"]).status_code == 200
    return me, friend, room


def test_register_errors_show_on_the_form(server, browser):
    existing = server.new_user("taken")
    driver = browser(PHONE)
    driver.get(server.url + "/#/register")
    # The server's field rules (validation_failed) land next to the field.
    submit(driver, "register-form", email="not-an-email@x", username="Bad Name!", displayName="", password="long enough password")
    text_of(driver, "#register-form .form-error", "invalid")
    username_error = text_of(driver, "#register-form .field-error", "may contain only")
    assert username_error.is_displayed()
    assert driver.find_element("name", "username").get_attribute("aria-invalid") == "true"
    screenshot(driver, "phone-10-register-errors")
    # username_taken is mapped to the username field.
    name = existing["user"]["username"]
    submit(driver, "register-form", email=f"other-{uuid.uuid4().hex[:6]}@example.com", username=name, password="long enough password")
    text_of(driver, "#register-form .field-error", "is taken")
    assert_no_console_errors(driver, allowed=[r"/api/auth/register - Failed to load resource: the server responded with a status of (409|422)"])


def test_failed_send_shows_retry_and_retry_succeeds(server, phone):
    driver, me = phone
    friend, room = room_with(server, me, "retry")
    go(driver, server, f"#/rooms/{room['id']}")
    find(driver, "#composer-input")
    for i in range(1, 30):  # a full list, so a clipped error line would be below the fold
        post(server, friend["accessToken"], room["id"], f"filler {i}")
    wait_message(driver, "filler 29")
    # The server refuses this one send.
    driver.execute_script("window.spoilNextSend()")
    box = find(driver, "#composer-input")
    box.send_keys("Hello, anyone here?\n")
    failed = find(driver, "#messages li.message.failed")
    error_line = find(driver, "#messages li.message.failed .send-error")
    # Its error line and buttons are in view, not clipped below the scroll area.
    line, scroller = error_line.rect, rect(driver, "#message-scroller")
    assert line["y"] + line["height"] <= scroller["bottom"] + 1, (line, scroller)
    screenshot(driver, "phone-11-send-failed")
    # Retry sends the same message again (same clientMsgId), which is stored.
    failed.find_element("css selector", "button.retry").click()
    wait(driver).until(lambda d: not d.find_elements("css selector", "#messages li.message.failed, #messages li.message.pending"))
    wait_message(driver, "Hello, anyone here?")
    history = server.api("GET", f"/rooms/{room['id']}/messages?limit=100", token=friend["accessToken"]).json()["messages"]
    assert [m["body"] for m in history].count("Hello, anyone here?") == 1
    assert_no_console_errors(driver)


def test_an_unverified_user_is_told_up_front(server, browser):
    owner = server.new_user("owner")
    room = make_room(server, owner["accessToken"], name=f"lobby-{uuid.uuid4().hex[:6]}")
    doomed = make_room(server, owner["accessToken"], name=f"doomed-{uuid.uuid4().hex[:6]}")
    name = f"newbie{uuid.uuid4().hex[:6]}"
    email = f"{name}@example.com"
    r = server.api("POST", "/auth/register", json={"email": email, "username": name, "password": PASSWORD})
    assert r.status_code == 202
    driver = browser()
    driver.get(server.url + "/")
    login(driver, name, PASSWORD)
    find(driver, "#verify-banner")
    # Joining a public room works; posting in it is off, and the page says why before anyone types.
    find(driver, "#discover-link").click()
    # A Join that fails (the room went meanwhile) says so here, and only here.
    find(driver, f"button[data-join-room='{doomed['id']}']")
    assert server.api("DELETE", f"/rooms/{doomed['id']}", token=owner["accessToken"]).status_code in (200, 204)
    find(driver, f"button[data-join-room='{doomed['id']}']").click()
    find(driver, "#notice.error")
    find(driver, f"button[data-join-room='{room['id']}']").click()
    note = text_of(driver, "#composer-note", "Verify your email address")
    gone(driver, "#notice")
    # The members' "Message" buttons are off up front, saying why.
    message_owner = find(driver, f"#members li[data-username='{owner['user']['username']}'] .message-member")
    assert not message_owner.is_enabled() and "Verify your email address" in message_owner.get_attribute("title")
    assert email in note.text
    assert not find(driver, "#composer-input").is_enabled()
    assert not find(driver, "#send-button").is_enabled()
    screenshot(driver, "desktop-11-unverified")
    # So are a new room and a direct message.
    for link, form_id in (("#new-room-link", "create-room-form"), ("#direct-link", "direct-form")):
        find(driver, link).click()
        text_of(driver, "#blocked-note", "Verify your email address")
        assert not find(driver, f"#{form_id} button[type=submit]").is_enabled()
    # A suggested person taken by the keyboard only fills the name in: nothing is sent.
    box = find(driver, "#direct-form input[name=username]")
    box.send_keys(owner["user"]["username"][:-2])
    find(driver, f"#direct-suggestions [data-username='{owner['user']['username']}']")
    box.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
    wait(driver).until(lambda d: box.get_attribute("value") == owner["user"]["username"])
    assert driver.current_url.endswith("#/direct")
    assert not [e for e in driver.find_elements("css selector", "#direct-form .form-error, #direct-form .field-error") if e.is_displayed()]
    # The mailed link, opened in another tab, turns everything on in this one.
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    open_mailed_link(driver, server, email, "/verify-email")
    find(driver, "#verify-status[data-state=verified]")
    driver.switch_to.window(first)
    gone(driver, "#blocked-note")
    assert find(driver, "#direct-form button[type=submit]").is_enabled()
    gone(driver, "#verify-banner")
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
    send_message(driver, "Hello, anyone here?")
    assert_no_console_errors(driver, allowed=[r"/api/rooms/\d+/join - Failed to load resource: the server responded with a status of 404"])


def test_history_loads_upward_as_you_scroll(server, browser):
    me = server.new_user("reader")
    room = make_room(server, me["accessToken"])
    for i in range(1, 131):
        post(server, me["accessToken"], room["id"], f"history message {i}")
    driver = browser()
    open_room(driver, server, me, room)
    wait_message(driver, "history message 130")
    count = lambda d: len(d.find_elements("css selector", "#messages li.message"))
    assert count(driver) == 50
    for expected in (100, 130):
        driver.execute_script("document.getElementById('message-scroller').scrollTop = 0")
        wait(driver).until(lambda d: count(d) == expected, f"expected {expected} messages")
    wait_message(driver, "history message 1")
    bodies = [el.text for el in driver.find_elements("css selector", "#messages li.message .body")]
    assert bodies == [f"history message {i}" for i in range(1, 131)]
    assert_no_console_errors(driver)


def test_badges_follow_reads_in_other_tabs(server, browser):
    me, friend = server.new_user("tabs"), server.new_user("friend")
    room = make_room(server, me["accessToken"], kind="private")
    r = server.api("POST", "/rooms/join-by-code", token=friend["accessToken"], json={"code": room["joinCode"]})
    assert r.status_code == 200, r.text
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(server.url + "/#/rooms")  # a second tab restores the session from the cookie
    find(driver, f"#room-list li[data-room-id='{room['id']}']")
    find(driver, "#connection[data-state=connected]")
    second = driver.current_window_handle
    post(server, friend["accessToken"], room["id"], "one")
    post(server, friend["accessToken"], room["id"], "two")
    for handle in (second, first):
        driver.switch_to.window(handle)
        wait(driver).until(lambda d: badge_of(d, room["id"]) == "2", "badge of 2")
    # Reading in the first tab clears the badge in the second (the `read` event).
    driver.switch_to.window(first)
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
    wait_message(driver, "two")
    gone(driver, f"#room-list li[data-room-id='{room['id']}'] .badge")
    driver.switch_to.window(second)
    gone(driver, f"#room-list li[data-room-id='{room['id']}'] .badge")
    # Both tabs still hold a working session (refreshes were not replayed).
    for handle in (first, second):
        driver.switch_to.window(handle)
        assert_no_console_errors(driver)
    assert server.api("GET", "/sessions", token=me["accessToken"]).status_code == 200


def test_public_rooms_direct_messages_and_deleting(server, browser):
    me, other = server.new_user("host"), server.new_user("guest")
    driver = browser(PHONE)
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    # Create a public room from the form.
    find(driver, "#new-room-link").click()
    name = f"town-square-{uuid.uuid4().hex[:4]}"
    submit(driver, "create-room-form", name=name)
    find(driver, "#composer-input")
    room_id = int(driver.execute_script("return location.hash.split('/').pop()"))
    # Someone else finds it and joins over REST; the member list follows live.
    found = server.api("GET", f"/rooms/public?q={name}", token=other["accessToken"]).json()["rooms"]
    assert [r["id"] for r in found] == [room_id]
    assert server.api("POST", f"/rooms/{room_id}/join", token=other["accessToken"]).status_code == 200
    find(driver, "#room-menu").click()
    find(driver, ".members-toggle").click()
    find(driver, f"#members li[data-username='{other['user']['username']}']")
    screenshot(driver, "phone-12-members")
    find(driver, "#room-menu").click()
    find(driver, ".members-toggle").click()
    # A direct message by username.
    find(driver, ".back-link").click()
    find(driver, "#direct-link").click()
    submit(driver, "direct-form", username="nobody-" + uuid.uuid4().hex[:6])
    text_of(driver, "#direct-form .form-error", "Nobody has that username")
    submit(driver, "direct-form", username=other["user"]["username"])
    find(driver, "#composer-input")
    send_message(driver, "psst")
    dm_id = int(driver.execute_script("return location.hash.split('/').pop()"))
    history = server.api("GET", f"/rooms/{dm_id}/messages", token=other["accessToken"]).json()["messages"]
    assert [m["body"] for m in history] == ["psst"]
    # Delete the public room (owner), confirming the dialog.
    driver.get(server.url + f"/#/rooms/{room_id}")
    find(driver, "#room-menu").click()
    find(driver, "#delete-room").click()
    text_of(driver, "#confirm-dialog", "cannot be undone")
    find(driver, "#dialog-confirm").click()
    find(driver, "#room-list")
    gone(driver, f"#room-list li[data-room-id='{room_id}']")
    text_of(driver, "#notice", "was deleted")
    assert_no_console_errors(driver, allowed=[r"/api/direct - Failed to load resource: the server responded with a status of 404"])


def test_sessions_list_and_log_out_everywhere(server, browser):
    me = server.new_user("sessions")  # one session from the REST login
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    find(driver, "#nav-sessions").click()
    wait(driver).until(lambda d: len(d.find_elements("css selector", "#sessions-list li")) == 2)
    # This browser is in use now (its stored last use moves only with a token refresh).
    text_of(driver, "#sessions-list li.current", "Active now")
    assert "last active" in find(driver, "#sessions-list li:not(.current)").text
    screenshot(driver, "desktop-13-sessions")
    find(driver, "#logout-everywhere").click()
    # Our own dialog (not the browser's confirm()): Escape cancels, the button confirms.
    find(driver, "#confirm-dialog")
    assert driver.switch_to.active_element.get_attribute("id") == "dialog-cancel"
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    gone(driver, "#confirm-dialog")
    assert driver.find_elements("css selector", "#sessions-list li.current")
    find(driver, "#logout-everywhere").click()
    find(driver, "#dialog-confirm").click()
    find(driver, "form#login-form")
    # Every session is gone: the REST login's refresh token no longer works.
    r = server.api("POST", "/auth/refresh", json={"refreshToken": me["refreshToken"]})
    assert r.status_code == 401
    # Reloading does not bring the session back.
    driver.refresh()
    find(driver, "form#login-form")
    assert_no_console_errors(driver)


def test_a_new_message_adds_one_node_and_keeps_the_others(server, browser):
    me, friend, room = room_of_two(server, "keeper")
    other = make_room(server, me["accessToken"])
    for i in range(1, 4):
        post(server, friend["accessToken"], room["id"], f"before {i}")
    driver = browser()
    open_room(driver, server, me, room)
    wait_message(driver, "before 3")
    # Mark the nodes on the page: a node that is rebuilt loses its mark.
    driver.execute_script("for (const el of document.querySelectorAll('#messages li.message, #room-list li')) el.keptNode = true")
    marked = "return [...document.querySelectorAll(arguments[0])].filter((el) => el.keptNode).length"
    post(server, friend["accessToken"], room["id"], "live one")
    wait_message(driver, "live one")
    send_message(driver, "my own")
    assert driver.execute_script(marked, "#messages li.message") == 3
    # In the room list, only the item of the room with news was replaced.
    assert driver.execute_script(marked, f"#room-list li[data-room-id='{other['id']}']") == 1
    assert driver.execute_script(marked, f"#room-list li[data-room-id='{room['id']}']") == 0
    bodies = [el.text for el in driver.find_elements("css selector", "#messages li.message .body")]
    assert bodies == ["before 1", "before 2", "before 3", "live one", "my own"]
    assert_no_console_errors(driver)


def test_a_long_live_history_keeps_the_page_bounded(server, browser):
    me, friend, room = room_of_two(server, "watcher")
    post(server, friend["accessToken"], room["id"], "live 1")
    driver = browser()
    open_room(driver, server, me, room)
    wait_message(driver, "live 1")
    cap = driver.execute_async_script("import('/js/message-list.js').then((m) => arguments[0](m.MAX_RENDERED))")
    total = cap + 30
    for i in range(2, total + 1):
        post(server, friend["accessToken"], room["id"], f"live {i}")
    wait_message(driver, f"live {total}", timeout=30)
    bodies = lambda d: [el.text for el in d.find_elements("css selector", "#messages li.message .body")]
    # At the bottom, the oldest went away: the newest `cap` messages are on the page, in order.
    wait(driver).until(lambda d: len(bodies(d)) == cap, f"expected {cap} messages on the page")
    assert bodies(driver) == [f"live {i}" for i in range(total - cap + 1, total + 1)]
    # Scrolling up brings the dropped ones back, a page at a time, still in order.
    find(driver, "button.load-older")
    driver.execute_script("document.getElementById('message-scroller').scrollTop = 0")
    wait(driver).until(lambda d: len(bodies(d)) == cap + 30, "the dropped messages did not come back")
    assert bodies(driver) == [f"live {i}" for i in range(1, total + 1)]
    assert_no_console_errors(driver)


# ---- issue 18: the broken corners ----
#
# One phone-sized browser, logged in once, serves the checks that only look at a screen
# (layout, composer, counters, right-to-left text, form wording): a fresh driver and login
# per check would cost more than the checks.

@pytest.fixture(scope="module")
def phone(server):
    """(driver, user): a 390×844 browser logged in as a new verified user."""
    require_browser()
    me = server.new_user("phone")
    # A long display name, as people have: the top bar must still fit.
    r = server.api("PATCH", "/me", token=me["accessToken"], json={"displayName": "Maximiliane Wolkenstein-Hartmann"})
    assert r.status_code == 200, r.text
    yield from shared_browser(server, me, PHONE)


def shared_browser(server, me, size):
    """Yields (driver, me): a browser of `size` with the socket hooks, logged in as `me`; prints
    its console when the module is done and quits it."""
    driver = make_driver(size)
    socket_hooks(driver)
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    yield driver, me
    try:
        for entry in driver.get_log("browser"):
            print(f"console {entry['level']}: {entry['message']}")
    finally:
        driver.quit()


def go(driver, server, hash_):
    """Moves the logged-in page to an in-app route (no reload) and waits for its content."""
    driver.execute_script("location.hash = arguments[0]", hash_)


def rect(driver, css):
    return driver.execute_script("const r = document.querySelector(arguments[0]).getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height, width: r.width}", css)


def line_height(driver, css):
    return driver.execute_script("const s = getComputedStyle(document.querySelector(arguments[0])); return parseFloat(s.lineHeight) || parseFloat(s.fontSize) * 1.45", css)


LONG_NAME = "The quarterly planning discussion for the northern region team x"  # 64 characters
LONG_TOPIC = ("Agenda notes and decisions for the coming quarter, budgets, hiring plans, the office move and "
              "everything else the team needs to agree on before the holidays start, kept here for reference ok")


def test_phone_layout_keeps_the_message_list_tall_with_long_names(server, phone):
    driver, me = phone
    assert len(LONG_NAME) == 64 and len(LONG_TOPIC) <= 200
    room = make_room(server, me["accessToken"], name=LONG_NAME[:58] + uuid.uuid4().hex[:6], topic=LONG_TOPIC)
    short = make_room(server, me["accessToken"], name=f"r{uuid.uuid4().hex[:5]}")
    # 64 characters with no place to break (issue 18, "bad input"), and a topic likewise.
    unbroken = make_room(server, me["accessToken"], name="W" * 58 + uuid.uuid4().hex[:6], topic="M" * 200)
    # A member whose display name is 64 characters with no place to break writes in each room.
    wide = server.new_user("wide")
    assert server.api("PATCH", "/me", token=wide["accessToken"], json={"displayName": "X" * 64}).status_code == 200
    for target in (room, short, unbroken):
        assert server.api("POST", f"/rooms/{target['id']}/join", token=wide["accessToken"]).status_code == 200
        post(server, wide["accessToken"], target["id"], "hello")
    go(driver, server, "#/rooms")
    item = find(driver, f"#room-list li[data-room-id='{unbroken['id']}']")
    assert item.rect["x"] + item.rect["width"] <= PHONE[0] + 0.5, item.rect
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    # The search screen's room picker lists it and still fits.
    go(driver, server, "#/search")
    picker = find(driver, "#search-room")
    assert picker.rect["x"] + picker.rect["width"] <= PHONE[0] + 0.5, picker.rect
    assert driver.execute_script("const c = document.getElementById('content'); return c.scrollWidth - c.clientWidth") <= 0
    go(driver, server, "#/discover")
    find(driver, "#discover-query").send_keys(unbroken["name"][:20])
    found = find(driver, f"#discover-results li[data-room-id='{unbroken['id']}']")
    assert found.rect["x"] + found.rect["width"] <= PHONE[0] + 0.5, found.rect
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    for target in (room, short, unbroken):
        go(driver, server, f"#/rooms/{target['id']}")
        find(driver, "#composer-input")
        wait(driver).until(lambda d: d.execute_script("return location.hash") == f"#/rooms/{target['id']}")
        title = find(driver, "#room-title")
        wait(driver).until(lambda d: title.text.startswith(target["name"][:10]))
        # The title is one line (cut with an ellipsis, the whole name in its tooltip), not a word per line.
        assert rect(driver, "#room-title")["height"] < 2 * line_height(driver, "#room-title"), rect(driver, "#room-title")
        assert driver.find_element("css selector", "#room-title").get_attribute("title") == target["name"]
        # Most of an 844 px screen is the message list: the chrome above and below stays small.
        scroller = rect(driver, "#message-scroller")
        assert scroller["height"] >= 0.72 * PHONE[1], f"message list {scroller['height']} px high"
        assert rect(driver, ".topbar")["height"] < 56, "the top bar wraps"
        # The room's buttons are behind one menu button.
        assert not driver.find_element("css selector", "#leave-room").is_displayed()
        find(driver, "#room-menu").click()
        find(driver, "#leave-room")
        find(driver, "#room-menu").click()
        gone(driver, "#leave-room")
        # Escape on the menu button closes it, and so does a click outside it (in the message list).
        find(driver, "#room-menu").click()
        find(driver, "#leave-room")
        find(driver, "#room-menu").send_keys(Keys.ESCAPE)
        gone(driver, "#leave-room")
        find(driver, "#room-menu").click()
        find(driver, "#leave-room")
        find(driver, "#message-scroller").click()
        gone(driver, "#leave-room")
        # Nothing sticks out sideways, not even out of the message list.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        wait_message(driver, "hello")
        assert driver.execute_script("const s = document.getElementById('message-scroller'); return s.scrollWidth - s.clientWidth") <= 0
    screenshot(driver, "phone-15-long-room-name")
    assert_no_console_errors(driver)


def open_new_room(driver, server, me, **extra):
    room = make_room(server, me["accessToken"], **extra)
    go(driver, server, f"#/rooms/{room['id']}")
    text_of(driver, "#room-title", room["name"])
    find(driver, "#composer-input")
    return room


def test_composer_grows_with_shift_enter_and_shrinks_after_sending(server, phone):
    driver, me = phone
    room = open_new_room(driver, server, me)
    box = find(driver, "#composer-input")
    one_line = rect(driver, "#composer-input")["height"]
    box.send_keys("line 1")
    for i in range(2, 5):
        box.send_keys(Keys.SHIFT, Keys.ENTER, Keys.NULL, f"line {i}")
    grown = rect(driver, "#composer-input")["height"]
    assert grown > 2.5 * one_line, (one_line, grown)
    # Every line is in view: nothing to scroll inside the box.
    assert driver.execute_script("const b = document.getElementById('composer-input'); return b.scrollHeight - b.clientHeight") <= 1
    box.send_keys(Keys.ENTER)
    wait_message(driver, "line 1\nline 2\nline 3\nline 4")
    wait(driver).until(lambda d: abs(rect(d, "#composer-input")["height"] - one_line) < 1, "the box did not shrink back")
    history = server.api("GET", f"/rooms/{room['id']}/messages", token=me["accessToken"]).json()["messages"]
    assert [m["body"] for m in history] == ["line 1\nline 2\nline 3\nline 4"]


def test_composer_counts_down_and_refuses_text_over_the_limit(server, phone):
    driver, me = phone
    room = open_new_room(driver, server, me)
    box = find(driver, "#composer-input")
    # 3,990 characters are there (pasted), then 15 are typed: nothing is cut.
    driver.execute_script("const b = arguments[0]; b.value = 'a'.repeat(3990); b.dispatchEvent(new Event('input', {bubbles: true}))", box)
    counter = find(driver, "#composer-count")
    assert "10" in counter.text
    box.send_keys("bcdefghijklmnop")
    assert len(box.get_attribute("value")) == 4005
    text_of(driver, "#composer-count", "5 characters over")
    assert box.get_attribute("aria-invalid") == "true"
    assert not find(driver, "#send-button").is_enabled()
    box.send_keys(Keys.ENTER)
    assert not driver.find_elements("css selector", "#messages li.message")
    # The limit counts characters (Unicode scalars) as the server does: an emoji is one.
    # Trailing spaces and a final new line are trimmed on sending (as the server trims): not counted.
    driver.execute_script("const b = arguments[0]; b.value = 'a'.repeat(3999) + '\\u{1F600}  \\n'; b.dispatchEvent(new Event('input', {bubbles: true}))", box)
    text_of(driver, "#composer-count", "0 characters left")
    assert find(driver, "#send-button").is_enabled()
    assert box.get_attribute("aria-invalid") is None
    find(driver, "#send-button").click()
    wait(driver, 15).until(lambda d: d.find_elements("css selector", "#messages li.message[data-message-id]"), "the 4,000-character message was not stored")
    gone(driver, "#composer-count")
    history = server.api("GET", f"/rooms/{room['id']}/messages", token=me["accessToken"]).json()["messages"]
    assert [len(m["body"]) for m in history] == [4000]
    assert_no_console_errors(driver)


def test_right_to_left_text_gets_its_own_direction(server, phone):
    driver, me = phone
    friend = server.new_user("rtl")
    room = make_room(server, me["accessToken"], name=f"שלום-{uuid.uuid4().hex[:4]}")
    assert server.api("POST", f"/rooms/{room['id']}/join", token=friend["accessToken"]).status_code == 200
    r = server.api("PATCH", "/me", token=friend["accessToken"], json={"displayName": "مريم"})
    post(server, friend["accessToken"], room["id"], "English first, then عربي")
    post(server, friend["accessToken"], room["id"], "مرحبا بالعالم! hello 123")
    post(server, friend["accessToken"], room["id"], "انظر https://example.com/مرحبا هنا")
    go(driver, server, f"#/rooms/{room['id']}")
    wait_message(driver, "مرحبا بالعالم! hello 123")
    # A link in right-to-left text reads as one left-to-right run, not split around its slashes.
    link = wait_message(driver, "انظر https://example.com/مرحبا هنا").find_element("css selector", "a")
    # Its "h" is its leftmost letter, and its pieces (LTR, then the Arabic path) touch.
    pieces, h_left = driver.execute_script(
        "const a = arguments[0]; const r = document.createRange(); r.setStart(a.firstChild, 0); r.setEnd(a.firstChild, 1);"
        "return [[...a.getClientRects()].map(x => [x.left, x.right, x.top]).sort((p, q) => p[0] - q[0]), r.getBoundingClientRect().left]", link)
    assert abs(h_left - pieces[0][0]) < 1, (h_left, pieces)
    assert all(abs(b[0] - a[1]) < 1 and a[2] == b[2] for a, b in zip(pieces, pieces[1:])), pieces
    direction = "return getComputedStyle(arguments[0]).direction"
    bodies = driver.find_elements("css selector", "#messages li.message .body")
    assert [driver.execute_script(direction, b) for b in bodies] == ["ltr", "rtl", "rtl"]
    # The RTL line starts at the bubble's right edge.
    edge = driver.execute_script(
        "const p = arguments[0]; const range = document.createRange(); range.selectNodeContents(p);"
        "return p.getBoundingClientRect().right - range.getBoundingClientRect().right", bodies[1])
    assert abs(edge) < 2, edge
    # The author's name, then the room's name and its preview in the sidebar.
    if r.status_code == 200:
        assert driver.execute_script(direction, find(driver, "#messages li.message .author")) == "rtl"
    screenshot(driver, "phone-16-right-to-left")
    go(driver, server, "#/rooms")
    item = f"#room-list li[data-room-id='{room['id']}']"
    assert driver.execute_script(direction, find(driver, f"{item} .room-name")) == "rtl"
    assert driver.execute_script(direction, find(driver, f"{item} .preview")) == "rtl"
    assert_no_console_errors(driver)


def test_content_headings_keep_their_distance_from_the_first_field(server, phone):
    driver, me = phone
    for route, form_id in (("#/new-room", "create-room-form"), ("#/join", "join-form"), ("#/direct", "direct-form")):
        go(driver, server, route)
        find(driver, f"form#{form_id}")
        heading = rect(driver, "#content-title")
        label = rect(driver, f"form#{form_id} label")
        assert label["top"] - heading["bottom"] >= 12, (route, heading, label)


def test_messaging_yourself_is_explained_in_words(server, phone):
    driver, me = phone
    go(driver, server, "#/direct")
    submit(driver, "direct-form", username=me["user"]["username"].upper())
    # Said once, next to the field (issue 18: a one-field error is not repeated above the form).
    text_of(driver, "#direct-form .field-error", "your own")
    assert not driver.find_element("css selector", "#direct-form .form-error").is_displayed()
    assert "cannot start a conversation with yourself" not in find(driver, "#direct-form").text
    assert find(driver, "#direct-form input[name=username]").get_attribute("aria-invalid") == "true"


def test_log_out_stays_on_one_line(server, phone):
    driver, me = phone
    try:
        for width in (500, PHONE[0]):
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
            wait(driver).until(lambda d: d.execute_script("return innerWidth") == width)
            for css in ("#logout-button", "#nav-sessions"):
                assert rect(driver, css)["height"] < 1.6 * line_height(driver, css), (width, css, rect(driver, css))
            assert rect(driver, ".topbar")["height"] < 56, width
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})


def test_a_new_error_replaces_the_stale_notice(server, browser):
    me = server.new_user("stale")
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    # The session is ended elsewhere: the login screen says so.
    assert server.api("POST", "/auth/logout-all", token=me["accessToken"]).status_code in (200, 204)
    text_of(driver, ".flash", "session has ended", timeout=15)
    # A wrong password now: its error is the only message on the screen.
    submit(driver, "login-form", login=me["user"]["username"], password="not the password")
    text_of(driver, "#login-form .form-error", "wrong")
    gone(driver, ".flash")
    assert not any(el.is_displayed() and "session" in el.text for el in driver.find_elements("css selector", "#notice"))


def socket_hooks(driver):
    """Before the page loads: `window.intervalTimers` records the page's setInterval timers
    ({fn, ms}; they still run as usual), and two faults the test can cause in the page's WebSockets:
    `window.cutOff(true)` closes them and makes new ones fail (as a lost network would;
    Chromium's offline emulation leaves open WebSockets alone), `cutOff(false)` lets them
    through again; `window.spoilNextSend()` sends the next `message:send` to a room that does
    not exist, so the server refuses that one send (room_not_found) and nothing else."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        (() => {
          // The page's interval timers, so a test can run one's tick without waiting for it.
          const realSetInterval = window.setInterval;
          const realClearInterval = window.clearInterval;
          window.intervalTimers = [];
          window.setInterval = (fn, ms, ...args) => {
            const id = realSetInterval(fn, ms, ...args);
            window.intervalTimers.push({ fn: () => fn(...args), ms, id });
            return id;
          };
          window.clearInterval = (id) => {
            window.intervalTimers = window.intervalTimers.filter((timer) => timer.id !== id);
            return realClearInterval(id);
          };
          const Real = window.WebSocket;
          const open = new Set();
          let cut = false;
          let spoil = false;
          window.WebSocket = class extends Real {
            constructor(url, protocols) {
              super(cut ? "ws://127.0.0.1:9/" : url, protocols);
              open.add(this);
              this.addEventListener("close", () => open.delete(this));
            }
            send(data) {
              if (spoil && typeof data === "string" && data.includes('"message:send"')) {
                spoil = false;
                data = data.replace(/"roomId":\\d+/, '"roomId":999999999');
              }
              super.send(data);
            }
          };
          window.cutOff = (on) => {
            cut = on;
            if (on) for (const socket of open) socket.close();
          };
          window.spoilNextSend = () => { spoil = true; };
        })();
    """})


@pytest.fixture(scope="module")
def desktop(server):
    """(driver, user): one desktop browser (with the socket hooks) logged in as a new user,
    shared by the checks that need nothing else of a browser: a driver and a login each would
    cost more than the checks (CI budget)."""
    require_browser()
    me = server.new_user("desk")
    yield from shared_browser(server, me, DESKTOP)


def room_with(server, me, prefix):
    """A new public room of a new user, which `me` has joined: (friend, room)."""
    friend = server.new_user(prefix)
    room = make_room(server, friend["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=me["accessToken"]).status_code == 200
    return friend, room


def test_presence_dots_follow_the_members_fetch_and_my_connection(server, desktop):
    import socketio
    driver, me = desktop
    friend = server.new_user("buddy")
    r = server.api("POST", "/direct", token=me["accessToken"], json={"username": friend["user"]["username"]})
    assert r.status_code in (200, 201), r.text
    dm = r.json()
    buddy = socketio.Client(reconnection=False)  # the friend is online
    buddy.connect(server.url, auth={"token": friend["accessToken"]}, transports=["websocket"], wait_timeout=10)
    try:
        go(driver, server, f"#/rooms/{dm['id']}")
        find(driver, "#room-title .dot.online")
        find(driver, f"#members li[data-username='{friend['user']['username']}'] .dot.online")
        # The sidebar's dot of the same person says the same.
        sidebar_dot = f"#room-list li[data-room-id='{dm['id']}'] .dot"
        find(driver, f"{sidebar_dot}.online")
        green = "return getComputedStyle(arguments[0]).backgroundColor"
        assert driver.execute_script(green, find(driver, sidebar_dot)) == "rgb(22, 163, 74)"
        # My own connection drops: no dot claims anyone is online while it is "Reconnecting…".
        driver.execute_script("window.cutOff(true)")
        find(driver, "#connection[data-state=waiting]")
        wait(driver).until(lambda d: not d.find_elements("css selector", ".dot.online"), "a dot stayed green while reconnecting")
        assert driver.execute_script(green, find(driver, sidebar_dot)) != "rgb(22, 163, 74)"
        assert "unknown" in find(driver, sidebar_dot).get_attribute("title")
        # Back online: the dots show what the server says again.
        driver.execute_script("window.cutOff(false)")
        find(driver, "#connection[data-state=connected]", timeout=20)
        find(driver, f"{sidebar_dot}.online")
        find(driver, "#room-title .dot.online")
    finally:
        buddy.disconnect()
    assert_no_console_errors(driver, allowed=[r"WebSocket connection to .* failed"])


def reset_links(server, email):
    """Every /reset-password link mailed to `email`, oldest first."""
    import requests
    mails = requests.get(server.url + "/dev/mailbox.json", timeout=5).json()
    items = mails.get("messages", mails) if isinstance(mails, dict) else mails
    links = []
    for mail in items:
        to = mail.get("to")
        if email in (to if isinstance(to, list) else [to]) and "/reset-password?token=" in mail.get("text", ""):
            links.append("/reset-password?token=" + mail["text"].split("/reset-password?token=")[1].split()[0])
    return links


def test_a_dead_reset_link_is_said_when_the_page_opens(server, browser):
    me = server.new_user("forgetful")
    email = me["user"]["email"]
    import time
    for _ in range(2):
        count = len(reset_links(server, email))
        assert server.api("POST", "/auth/forgot-password", json={"email": email}).status_code == 202
        deadline = time.monotonic() + 10
        while len(reset_links(server, email)) <= count and time.monotonic() < deadline:
            time.sleep(0.1)
    links = reset_links(server, email)
    assert len(links) == 2
    # The mail's order is not promised: the superseded one is the one the check refuses.
    answers = {link: server.api("POST", "/auth/reset-password/check", json={"token": link.split("token=")[1]}) for link in links}
    old = next(link for link, r in answers.items() if r.status_code == 400)
    new = next(link for link, r in answers.items() if r.status_code == 200)
    assert answers[old].json()["error"]["code"] == "email_token_superseded"
    driver = browser()
    # A superseded link: said at once, with the way to a new one, and no password form.
    driver.get(server.url + old)
    text_of(driver, "#reset-link-dead", "newer link")
    assert not driver.find_elements("css selector", "form#reset-form")
    find(driver, "#reset-ask-again")
    # The good link opens the form, and opening it (twice: checks) did not use it up.
    driver.get(server.url + new)
    find(driver, "form#reset-form")
    driver.get(server.url + new)
    submit(driver, "reset-form", password="a brand new password", confirm="a brand new password")
    find(driver, "#reset-done")
    # Used now: the page says so when it opens.
    driver.get(server.url + new)
    text_of(driver, "#reset-link-dead", "already used")
    assert not driver.find_elements("css selector", "form#reset-form")
    # A used verification link (new_user verified the address with it) says so as it opens too.
    driver.get(server.url + server.mail_link(email, "/verify-email"))
    text_of(driver, "#verify-status[data-state=failed]", "already used")
    assert "token=" not in driver.current_url
    assert_no_console_errors(driver, allowed=[r"/api/auth/(reset-password/check|verify-email) - Failed to load resource: the server responded with a status of 400"])


def test_the_last_owner_must_hand_over_before_leaving_and_the_heir_sees_it(server, browser, desktop):
    heir_page, friend = desktop  # the heir
    me = server.new_user("founder")
    room = make_room(server, me["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=friend["accessToken"]).status_code == 200
    go(heir_page, server, f"#/rooms/{room['id']}")
    find(heir_page, f"#members li[data-username='{me['user']['username']}']")
    assert not heir_page.find_elements("css selector", "#delete-room")
    owner_page = browser()
    open_room(owner_page, server, me, room)
    friend_item = f"#members li[data-username='{friend['user']['username']}']"
    find(owner_page, friend_item)
    # The last owner is not let go (the server would answer 409 last_owner): hand over first.
    find(owner_page, "#leave-room").click()
    prompt = find(owner_page, "#confirm-dialog")
    assert "last owner" in prompt.text and "/role @username owner" in prompt.text, prompt.text
    find(owner_page, "#dialog-confirm").click()
    gone(owner_page, "#confirm-dialog")
    assert server.api("GET", f"/rooms/{room['id']}/members", token=me["accessToken"]).status_code == 200  # still a member
    # Handing over from the member's menu.
    find(owner_page, f"{friend_item} .member-menu summary").click()
    find(owner_page, f"{friend_item} button[data-action=role-owner]").click()
    text_of(owner_page, "#command-feedback", "is now owner")
    # The heir's open room follows at once: their role, the owner's buttons, a line in the timeline.
    text_of(heir_page, f"{friend_item} .role", "owner")
    find(heir_page, "#delete-room")
    text_of(heir_page, "#messages li.event-line", "Founder made Desk owner")
    # Now leaving is only leaving.
    find(owner_page, "#leave-room").click()
    prompt = find(owner_page, "#confirm-dialog")
    assert "join it again" in prompt.text and "last owner" not in prompt.text, prompt.text
    find(owner_page, "#dialog-confirm").click()
    text_of(owner_page, "#notice", "You left")
    assert server.api("GET", f"/rooms/{room['id']}/members", token=friend["accessToken"]).json()["members"][0]["role"] == "owner"
    assert_no_console_errors(heir_page)


# ---- issue 18: what users expect ----

def test_unread_total_in_the_title_new_messages_divider_and_jump_to_latest(server, browser):
    me, friend, room = room_of_two(server, "catchup")
    for i in range(1, 6):
        post(server, me["accessToken"], room["id"], f"read {i}")
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    for i in range(1, 61):  # more than a page of history (50)
        post(server, friend["accessToken"], room["id"], f"unread {i}")
    # The tab says how many are waiting, and its icon carries a badge.
    wait(driver).until(lambda d: d.title.startswith("(60) "), "no unread total in the title")
    assert driver.find_element("css selector", "link[rel=icon]").get_attribute("href").startswith("data:image/svg+xml")
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
    # Opening the room: a divider above the first unread message, scrolled into view near the top.
    divider = find(driver, "#unread-divider")
    following = driver.execute_script("return arguments[0].nextElementSibling.querySelector('.body').textContent", divider)
    assert following == "unread 1"
    top, scroller = divider.rect["y"], rect(driver, "#message-scroller")
    assert scroller["top"] <= top < scroller["top"] + scroller["height"] / 3, (top, scroller)
    # Read now: the title drops its count.
    wait(driver).until(lambda d: not d.title.startswith("("), "the title kept its count")
    assert driver.find_element("css selector", "link[rel=icon]").get_attribute("href").endswith("/favicon.svg")
    # Away from the bottom, new messages are counted on a button that jumps to them.
    jump = find(driver, "#jump-latest")
    post(server, friend["accessToken"], room["id"], "live after the divider")
    text_of(driver, "#jump-latest", "1 new message below")
    jump.click()
    gone(driver, "#jump-latest")
    scroller_el = find(driver, "#message-scroller")
    assert driver.execute_script("const s = arguments[0]; return s.scrollHeight - s.scrollTop - s.clientHeight", scroller_el) < 2
    assert wait_message(driver, "live after the divider").is_displayed()
    screenshot(driver, "desktop-15-jump-to-latest")
    assert_no_console_errors(driver)


def test_the_new_messages_divider_moves_up_as_earlier_pages_of_many_unread_arrive(server, desktop):
    driver, me = desktop
    friend, room = room_with(server, me, "flood")
    for i in range(1, 4):
        post(server, me["accessToken"], room["id"], f"mine {i}")  # mine: read
    for i in range(1, 131):  # more than the 100 one page can hold
        post(server, friend["accessToken"], room["id"], f"flood {i}")
    go(driver, server, f"#/rooms/{room['id']}")
    find(driver, "#unread-divider")
    scroller = find(driver, "#message-scroller")
    # Scrolled up until the first message: the divider is above "flood 1", below my own messages.
    for _ in range(20):
        if any(el.text == "mine 1" for el in driver.find_elements("css selector", "#messages li.message .body")):
            break
        driver.execute_script("arguments[0].scrollTop = 0", scroller)
        wait(driver).until(lambda d: d.execute_script("return !document.querySelector('.load-older')?.textContent.includes('Loading')"))
    wait_message(driver, "mine 1")
    after = "const n = arguments[0]; let e = n.nextElementSibling; while (e && !e.querySelector('.body')) e = e.nextElementSibling; return e && e.querySelector('.body').textContent"
    wait(driver).until(lambda d: d.execute_script(after, d.find_element("id", "unread-divider")) == "flood 1",
                       "the divider is not above the first unread message")
    assert len(driver.find_elements("css selector", "#messages li.unread-divider")) == 1
    assert_no_console_errors(driver)


def test_joins_leaves_and_renames_are_lines_in_the_timeline_not_messages(server, desktop):
    driver, me = desktop
    room = make_room(server, me["accessToken"], name=f"plaza-{uuid.uuid4().hex[:6]}")
    post(server, me["accessToken"], room["id"], "first")
    go(driver, server, f"#/rooms/{room['id']}")
    wait_message(driver, "first")
    visitor = server.new_user("visitor")
    assert server.api("POST", f"/rooms/{room['id']}/join", token=visitor["accessToken"]).status_code == 200
    text_of(driver, "#messages li.event-line", "Visitor joined")
    new_name = f"square-{uuid.uuid4().hex[:6]}"
    r = server.api("PATCH", f"/rooms/{room['id']}", token=me["accessToken"], json={"name": new_name, "topic": "Benches"})
    assert r.status_code == 200, r.text
    text_of(driver, "#messages li.event-line", f"renamed “{new_name}”")
    text_of(driver, "#messages li.event-line", "topic is now “Benches”")
    assert server.api("POST", f"/rooms/{room['id']}/leave", token=visitor["accessToken"]).status_code == 204
    text_of(driver, "#messages li.event-line", "Visitor left")
    # A message's text is its .body (its action buttons follow it); a timeline line is the whole item.
    lines = [
        (el.find_element("css selector", ".body").text if el.find_elements("css selector", ".body") else el.text)
        for el in driver.find_elements("css selector", "#messages > li:not(.day-separator)")
    ]
    assert lines == ["first", "Visitor joined", f"The room was renamed “{new_name}”", "The topic is now “Benches”", "Visitor left"], lines
    # Not messages: nothing stored, nothing unread.
    assert [m["body"] for m in server.api("GET", f"/rooms/{room['id']}/messages", token=me["accessToken"]).json()["messages"]] == ["first"]
    assert badge_of(driver, room["id"]) is None
    assert_no_console_errors(driver)


def test_one_authors_messages_are_grouped_under_a_day_separator_with_relative_times(server, desktop):
    driver, me = desktop
    friend, room = room_with(server, me, "grouper")
    for text in ("one", "two", "three"):
        post(server, friend["accessToken"], room["id"], text)
    post(server, me["accessToken"], room["id"], "mine")
    go(driver, server, f"#/rooms/{room['id']}")
    wait_message(driver, "mine")
    items = driver.find_elements("css selector", "#messages > li.message, #messages > li.day-separator")
    kinds = [("separator" if "day-separator" in i.get_attribute("class") else "message") for i in items]
    assert kinds == ["separator", "message", "message", "message", "message"], kinds
    assert items[0].text == "TODAY" or items[0].text.lower() == "today", items[0].text
    # The name and time show once for the friend's three messages, again for mine.
    shown = [i.find_element("css selector", ".author").is_displayed() for i in items[1:]]
    assert shown == [True, False, False, True], shown
    # The grouped messages sit closer together than messages of different authors.
    tops = [i.rect["y"] for i in items[1:]]
    bottoms = [i.rect["y"] + i.rect["height"] for i in items[1:]]
    assert tops[1] - bottoms[0] < tops[3] - bottoms[2]
    # Times read as people say them, and change as time passes.
    assert items[1].find_element("css selector", "time").text == "just now"
    later = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/js/dom.js').then((m) => { const t = new Date().toISOString();"
        " done([m.formatRelativeTime(t, Date.now() + 5 * 60000), m.formatRelativeTime(t, Date.now() + 2 * 3600000) === m.formatTime(t)]); })")
    assert later[0] in ("5 min. ago", "5 minutes ago", "5 min ago"), later
    assert later[1] is True
    # On the page, as time passes: the list's own timer redraws the times and the day's name.
    # The page's clock is moved on, and the timer's tick is run at once (not waited for).
    clock = """
        const shift = arguments[0];
        if (!window.realNow) window.realNow = Date.now;
        Date.now = shift ? () => window.realNow.call(Date) + shift : window.realNow;
        for (const timer of window.intervalTimers || []) if (timer.ms === 30000) timer.fn();
    """
    first_time = items[1].find_element("css selector", "time")
    try:
        driver.execute_script(clock, 5 * 60000 + 5000)
        assert first_time.text in ("5 min. ago", "5 minutes ago", "5 min ago"), first_time.text
        # Five minutes on is still today, unless the test runs in the last minutes before midnight.
        same_day = driver.execute_script("return new Date(Date.now()).toDateString() === new Date(window.realNow.call(Date)).toDateString()")
        assert items[0].text.lower() == ("today" if same_day else "yesterday"), items[0].text
        driver.execute_script(clock, 24 * 3600000 + 5000)
        assert items[0].text.lower() == "yesterday", items[0].text
        assert re.match(r"^\d{1,2}:\d{2}", first_time.text), first_time.text
    finally:
        driver.execute_script(clock, 0)
    assert_no_console_errors(driver)


def test_links_are_clickable_safely_and_odd_bodies_stay_legible(server, phone):
    driver, me = phone
    room = make_room(server, me["accessToken"])
    tricky = ("see https://example.com/a?b=1&c=2, and (https://en.wikipedia.org/wiki/Foo_(bar)) "
              "but not javascript:alert(1) nor data:text/html,<b>x</b> nor <img src=x onerror=alert(1)>")
    post(server, me["accessToken"], room["id"], tricky)
    post(server, me["accessToken"], room["id"], "x" * 4000)
    go(driver, server, f"#/rooms/{room['id']}")
    body = wait_message(driver, tricky)
    links = body.find_elements("css selector", "a")
    assert [a.get_attribute("href") for a in links] == ["https://example.com/a?b=1&c=2", "https://en.wikipedia.org/wiki/Foo_(bar)"]
    for a in links:
        assert set(a.get_attribute("rel").split()) == {"noopener", "noreferrer"} and a.get_attribute("target") == "_blank"
    assert not body.find_elements("css selector", "img, b, script")
    assert body.text == tricky
    # A URL whose text does not name the host it opens stays text: a Cyrillic "а" (opens
    # xn--pple-43d.com), a user part (opens evil.example), an invisible character in the host.
    misleading = "https://\u0430pple.com/login https://bank.example@evil.example/ https://exa\u200bmple.com/ https://EXAMPLE.org:443/x"
    post(server, me["accessToken"], room["id"], misleading)
    body = text_of(driver, "#messages li.message .body", "bank.example@evil.example")
    assert [a.get_attribute("href") for a in body.find_elements("css selector", "a")] == ["https://example.org/x"]
    # A 4,000-character unbroken word wraps inside its bubble: nothing sticks out sideways.
    long_word = driver.find_elements("css selector", "#messages li.message")[-1]
    scroller = rect(driver, "#message-scroller")
    assert long_word.rect["x"] + long_word.rect["width"] <= scroller["right"] + 0.5
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    assert driver.execute_script("const s = document.getElementById('message-scroller'); return s.scrollWidth - s.clientWidth") <= 0
    assert_no_console_errors(driver)


def test_a_member_is_one_click_from_a_direct_message(server, desktop):
    driver, me = desktop
    friend, room = room_with(server, me, "clicker")
    go(driver, server, f"#/rooms/{room['id']}")
    item = find(driver, f"#members li[data-username='{friend['user']['username']}']")
    assert not driver.find_elements("css selector", f"#members li[data-username='{me['user']['username']}'] .message-member")
    item.find_element("css selector", ".message-member").click()
    text_of(driver, "#room-title", friend["user"]["displayName"])
    send_message(driver, "hi from the members list")
    rooms = server.api("GET", "/rooms", token=friend["accessToken"]).json()["rooms"]
    dm = next(r for r in rooms if r["kind"] == "direct")
    assert dm["peer"]["id"] == me["user"]["id"] and dm["lastMessage"]["body"] == "hi from the members list"
    assert_no_console_errors(driver)


def test_settings_change_the_name_and_password_and_log_out_other_sessions(server, browser):
    me = server.new_user("settler")  # the REST login is another session
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    find(driver, "#nav-settings").click()
    submit(driver, "display-name-form", displayName="Sunny Settler")
    text_of(driver, "#display-name-done", "Saved")
    text_of(driver, "#nav-settings", "Sunny Settler")
    assert server.api("GET", "/me", token=me["accessToken"]).json()["displayName"] == "Sunny Settler"
    # Optional, as at sign-up: emptied, the name is the username again; the old "Saved." goes as the field changes.
    name_box = find(driver, "#display-name-form input[name=displayName]")
    name_box.send_keys(Keys.CONTROL, "a")
    name_box.send_keys(Keys.DELETE)
    wait(driver).until(lambda d: d.find_element("id", "display-name-done").text == "", "the old 'Saved.' stayed")
    find(driver, "#display-name-form button[type=submit]").click()
    text_of(driver, "#display-name-done", "Saved")
    assert not [e for e in driver.find_elements("css selector", "#display-name-form .field-error, #display-name-form .form-error") if e.is_displayed()]
    assert not driver.find_elements("css selector", "#display-name-form [aria-invalid=true]")
    text_of(driver, "#nav-settings", me["user"]["username"])
    assert server.api("GET", "/me", token=me["accessToken"]).json()["displayName"] == me["user"]["username"]
    submit(driver, "password-form", currentPassword="wrong password", newPassword="another good password")
    text_of(driver, "#password-form .field-error", "current password is wrong")
    assert [e.text for e in driver.find_elements("css selector", "#password-form .form-error, #password-form .field-error") if e.is_displayed()] == ["The current password is wrong."]
    submit(driver, "password-form", currentPassword=PASSWORD, newPassword="another good password")
    text_of(driver, "#password-done", "password was changed")
    # The REST session was logged out by the change; this browser was not.
    assert server.api("POST", "/auth/refresh", json={"refreshToken": me["refreshToken"]}).status_code == 401
    other = server.login(me["user"]["username"], "another good password")
    find(driver, "#logout-others").click()
    find(driver, "#dialog-confirm").click()
    text_of(driver, "#others-done", "Logged out 1 other session")
    assert server.api("POST", "/auth/refresh", json={"refreshToken": other["refreshToken"]}).status_code == 401
    find(driver, "#connection[data-state=connected]")
    assert_no_console_errors(driver, allowed=[r"/api/me/password - Failed to load resource: the server responded with a status of 403"])


def test_desktop_notifications_for_direct_messages_asked_on_a_click_and_muted_per_room(server, browser):
    me, friend, room = room_of_two(server, "notified")
    r = server.api("POST", "/direct", token=friend["accessToken"], json={"userId": me["user"]["id"]})
    assert r.status_code in (200, 201), r.text
    dm = r.json()
    driver = browser()
    # Shown notifications are recorded (a headless browser has no desktop to show them on).
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        window.shownNotifications = [];
        if (window.Notification) {
          const Real = window.Notification;
          window.Notification = class extends Real {
            constructor(title, options) { super(title, options); window.shownNotifications.push({title, body: options && options.body}); }
          };
        }
    """})
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    # Not asked on page load: an offer to click instead.
    find(driver, "#notify-on")
    assert driver.execute_script("return Notification.permission") == "default"
    # Granted (as a click on the offer and the browser's prompt would), from a fresh load.
    driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": server.url, "permissions": ["notifications"]})
    driver.refresh()
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
    find(driver, "#composer-input")
    assert not driver.find_elements("css selector", "#notify-on")
    shown = lambda d: d.execute_script("return window.shownNotifications")
    post(server, friend["accessToken"], dm["id"], "psst, over here")
    wait(driver).until(lambda d: shown(d), "no notification for the direct message")
    assert shown(driver) == [{"title": friend["user"]["displayName"], "body": "psst, over here"}]
    # A message in the (public) room: no notification.
    post(server, friend["accessToken"], room["id"], "hello room")
    wait_message(driver, "hello room")
    # The direct message open in this focused window: read here, no notification.
    driver.get(server.url + f"/#/rooms/{dm['id']}")
    find(driver, "#composer-input")
    assert driver.execute_script("return document.hasFocus() && document.visibilityState === 'visible'")
    post(server, friend["accessToken"], dm["id"], "seen as it came")
    wait_message(driver, "seen as it came")
    assert len(shown(driver)) == 1
    # A mention of me in the (public) room, not open now: a notification saying where.
    post(server, friend["accessToken"], room["id"], f"@{me['user']['username']} look at this")
    wait(driver).until(lambda d: len(shown(d)) == 2, "no notification for the mention")
    assert shown(driver)[1] == {"title": f"{friend['user']['displayName']} in #{room['name']}", "body": f"@{me['user']['username']} look at this"}
    # Muted here: none for that direct message either.
    find(driver, "#mute-room").click()
    find(driver, "#mute-room[aria-pressed=true]")
    driver.get(server.url + f"/#/rooms/{room['id']}")
    find(driver, "#composer-input")
    post(server, friend["accessToken"], dm["id"], "still there?")
    wait(driver).until(lambda d: badge_of(d, dm["id"]) is not None, "the muted room's message did not arrive")
    assert len(shown(driver)) == 2
    assert_no_console_errors(driver)


def test_a_direct_message_closes_from_the_sidebar_until_news_arrives(server, desktop):
    driver, me = desktop
    friend = server.new_user("chatty")
    r = server.api("POST", "/direct", token=friend["accessToken"], json={"userId": me["user"]["id"]})
    dm = r.json()
    post(server, friend["accessToken"], dm["id"], "hello")
    other = make_room(server, me["accessToken"])  # a neighbour in the list
    go(driver, server, f"#/rooms/{dm['id']}")
    item = f"#room-list li[data-room-id='{dm['id']}']"
    find(driver, item)
    driver.find_element("css selector", f"{item} .close-dm").send_keys(Keys.ENTER)  # the open one, by keyboard
    gone(driver, item)
    # Focus moved to a neighbour in the list, not to the page's body.
    wait(driver).until(lambda d: d.execute_script("return !!document.activeElement.closest('#room-list li[data-room-id]')"), "focus was lost")
    assert driver.execute_script("return location.hash") == "#/rooms"
    # Still closed after a reload.
    driver.refresh()
    find(driver, "#connection[data-state=connected]")
    assert not driver.find_elements("css selector", item)
    # A new message brings it back, with its badge.
    post(server, friend["accessToken"], dm["id"], "are you there?")
    find(driver, item)
    wait(driver).until(lambda d: badge_of(d, dm["id"]) is not None, "no badge")
    assert_no_console_errors(driver)


# ---- issue 18: the reviewer's second pass ----

def test_scrolling_a_room_with_grouped_messages_moves_only_the_message_list(server, phone):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    driver, me = phone
    room = make_room(server, me["accessToken"])
    for i in range(1, 41):  # one author: every message after the first is grouped, its name and time hidden
        post(server, me["accessToken"], room["id"], f"grouped line {i}")
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 500, "height": 640, "deviceScaleFactor": 1, "mobile": True})
        wait(driver).until(lambda d: d.execute_script("return innerWidth") == 500)
        go(driver, server, f"#/rooms/{room['id']}")
        wait_message(driver, "grouped line 40")
        assert len(driver.find_elements("css selector", "#messages li.message.grouped")) >= 39
        scroller = find(driver, "#message-scroller")
        for _ in range(3):  # at the bottom of the list, the wheel keeps going down
            ActionChains(driver).scroll_from_origin(ScrollOrigin.from_element(scroller), 0, 600).perform()
        size = driver.execute_script("const c = document.getElementById('content'); return [c.scrollTop, c.scrollHeight, c.clientHeight]")
        assert size[0] == 0 and size[1] <= size[2] + 1, f"#content scrolls: scrollTop, scrollHeight, clientHeight = {size}"
        composer = rect(driver, "#composer")
        assert composer["top"] >= 0 and composer["bottom"] <= driver.execute_script("return innerHeight") + 1, composer
        assert driver.execute_script("return document.scrollingElement.scrollTop") == 0
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
    assert_no_console_errors(driver)


def test_sidebar_dots_of_direct_messages_are_right_before_opening_and_survive_long_names(server, desktop):
    import socketio
    driver, me = desktop
    long_name = "Bartholomew Maximilian Featherstonehaugh-Wolkenstein of Hartmann"  # 64 characters
    friend, late = server.new_user("dotty"), server.new_user("latecomer")
    assert server.api("PATCH", "/me", token=friend["accessToken"], json={"displayName": long_name}).status_code == 200
    dm = server.api("POST", "/direct", token=friend["accessToken"], json={"userId": me["user"]["id"]}).json()
    clients = []
    try:
        for user in (friend, late):  # both online
            client = socketio.Client(reconnection=False)
            client.connect(server.url, auth={"token": user["accessToken"]}, transports=["websocket"], wait_timeout=10)
            clients.append(client)
        driver.refresh()  # a fresh page: nothing known of anyone's presence
        find(driver, "#connection[data-state=connected]")
        item = f"#room-list li[data-room-id='{dm['id']}']"
        find(driver, f"{item} .dot.online")  # without opening the conversation
        # The dot stays in view after the cut name, inside the sidebar, which does not scroll sideways.
        dot, name, li = rect(driver, f"{item} .dot"), rect(driver, f"{item} .room-name"), rect(driver, item)
        assert dot["width"] > 0 and dot["left"] >= name["right"] - 1 and dot["right"] <= li["right"], (dot, name, li)
        assert driver.execute_script("const s = document.querySelector('.sidebar'); return s.scrollWidth - s.clientWidth") <= 0
        # A direct message the other side starts later shows their dot right too.
        dm2 = server.api("POST", "/direct", token=late["accessToken"], json={"userId": me["user"]["id"]}).json()
        post(server, late["accessToken"], dm2["id"], "hi, I am new here")
        find(driver, f"#room-list li[data-room-id='{dm2['id']}'] .dot.online")
    finally:
        for client in clients:
            client.disconnect()
    assert_no_console_errors(driver)


def test_an_unbroken_64_character_name_stays_inside_its_bubble_and_the_members_panel(server, desktop):
    driver, me = desktop
    friend, room = room_with(server, me, "wide")
    assert server.api("PATCH", "/me", token=friend["accessToken"], json={"displayName": "X" * 64}).status_code == 200
    post(server, friend["accessToken"], room["id"], "hi")
    go(driver, server, f"#/rooms/{room['id']}")
    wait_message(driver, "hi")
    name = find(driver, f"#members li[data-username='{friend['user']['username']}'] .member-name")
    wait(driver).until(lambda d: name.text == "X" * 64)
    panel, bubble = rect(driver, "#members-panel"), rect(driver, "#messages li.message")
    assert name.rect["x"] + name.rect["width"] <= panel["right"], (name.rect, panel)
    author = driver.find_element("css selector", "#messages li.message .author")
    assert author.rect["x"] + author.rect["width"] <= bubble["right"], (author.rect, bubble)
    for scroller in ("#members-panel", "#message-scroller"):
        assert driver.execute_script("const s = document.querySelector(arguments[0]); return s.scrollWidth - s.clientWidth", scroller) <= 0, scroller
    assert_no_console_errors(driver)


def test_a_renamed_room_is_called_by_its_new_name_everywhere(server, desktop):
    driver, me = desktop
    room = make_room(server, me["accessToken"], name=f"before-{uuid.uuid4().hex[:6]}")
    go(driver, server, f"#/rooms/{room['id']}")
    text_of(driver, "#room-title", room["name"])
    wait(driver).until(lambda d: room["name"] in d.title)
    new_name = f"after-{uuid.uuid4().hex[:6]}"
    r = server.api("PATCH", f"/rooms/{room['id']}", token=me["accessToken"], json={"name": new_name})
    assert r.status_code == 200, r.text
    text_of(driver, "#room-title", new_name)
    wait(driver).until(lambda d: new_name in d.title, "the tab title kept the old name")
    state = driver.execute_script("""return [document.title, document.getElementById('composer-input').placeholder,
        document.querySelector('label[for=composer-input]').textContent, document.getElementById('messages').getAttribute('aria-label')]""")
    assert all(new_name in text and room["name"] not in text for text in state), state
    assert_no_console_errors(driver)


def test_closing_an_unread_direct_message_clears_the_tab_title_and_icon(server, desktop):
    driver, me = desktop
    friend = server.new_user("nudger")
    dm = server.api("POST", "/direct", token=friend["accessToken"], json={"userId": me["user"]["id"]}).json()
    go(driver, server, "#/rooms")
    find(driver, "#content .empty")
    icon = "return document.querySelector('link[rel=icon]').getAttribute('href')"
    total = lambda d: int(re.match(r"(?:\((\d+)\) )?", d.title).group(1) or 0)  # "(3) Rooms · Switchboard"
    before, icon_before = total(driver), driver.execute_script(icon)  # other checks may have left rooms unread
    post(server, friend["accessToken"], dm["id"], "unread and then closed")
    wait(driver).until(lambda d: badge_of(d, dm["id"]) == "1", "no badge")
    assert total(driver) == before + 1 and driver.execute_script(icon).startswith("data:")
    driver.find_element("css selector", f"#room-list li[data-room-id='{dm['id']}'] .close-dm").click()
    gone(driver, f"#room-list li[data-room-id='{dm['id']}']")
    wait(driver).until(lambda d: total(d) == before, "the tab title kept the closed room's unread count")
    assert driver.execute_script(icon) == icon_before
    # Read on the server too: another tab or a reload shows nothing unread.
    wait(driver).until(lambda d: next(r for r in server.api("GET", "/rooms", token=me["accessToken"]).json()["rooms"] if r["id"] == dm["id"])["unreadCount"] == 0)
    assert_no_console_errors(driver)


def test_leaving_a_room_as_its_only_member_warns_that_it_will_be_deleted(server, desktop):
    driver, me = desktop
    alone = open_new_room(driver, server, me)
    find(driver, f"#members li[data-username='{me['user']['username']}']")
    find(driver, "#leave-room").click()
    text = find(driver, "#dialog-text").text
    assert "deleted" in text and "join it again" not in text, text
    find(driver, "#dialog-cancel").click()
    gone(driver, "#confirm-dialog")
    # With someone else in it, leaving is only leaving.
    friend, shared = room_with(server, me, "stayer")
    go(driver, server, f"#/rooms/{shared['id']}")
    find(driver, f"#members li[data-username='{friend['user']['username']}']")
    find(driver, "#leave-room").click()
    text = find(driver, "#dialog-text").text
    assert "join it again" in text and "deleted" not in text, text
    find(driver, "#dialog-cancel").click()
    gone(driver, "#confirm-dialog")
    assert server.api("GET", f"/rooms/{alone['id']}/messages", token=me["accessToken"]).status_code == 200
    # Left, by keyboard: focus goes to the room list's heading, not to the page's body.
    find(driver, "#leave-room").send_keys(Keys.ENTER)
    find(driver, "#dialog-confirm").send_keys(Keys.ENTER)
    text_of(driver, "#notice", "You left")
    wait(driver).until(lambda d: d.execute_script("return document.activeElement.id") == "rooms-heading", "focus was lost")
    assert_no_console_errors(driver)


def test_session_buttons_and_times_stay_on_one_line_at_500_px(server, phone):
    driver, me = phone
    server.login(me["user"]["username"], PASSWORD)  # another session, with its own Log out button
    go(driver, server, "#/sessions")
    try:
        for width in (500, PHONE[0]):
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
            wait(driver).until(lambda d: d.execute_script("return innerWidth") == width)
            find(driver, "#content .sessions li button")
            for button in driver.find_elements("css selector", "#content .sessions li button"):
                # The lines its text takes: one box per line.
                lines = driver.execute_script("const r = document.createRange(); r.selectNodeContents(arguments[0]); return r.getClientRects().length", button)
                assert lines == 1, f"'Log out' wraps over {lines} lines at {width} px"
            # Each time is whole on one line: one box per time, none split over two lines.
            lines = driver.execute_script("""return [...document.querySelectorAll('#content .sessions li .muted')].filter((e) => /\\d/.test(e.textContent))
                .flatMap((e) => [...e.querySelectorAll('.when')].map((t) => t.getClientRects().length))""")
            assert lines and all(n == 1 for n in lines), (width, lines)
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})


def test_an_empty_composer_is_one_line_under_a_long_placeholder(server, phone):
    driver, me = phone
    open_new_room(driver, server, me, name=LONG_NAME[:58] + uuid.uuid4().hex[:6])
    box = rect(driver, "#composer-input")
    assert find(driver, "#composer-input").get_attribute("placeholder").startswith("Message The quarterly")
    assert box["height"] < 2 * line_height(driver, "#composer-input"), f"the empty box is {box['height']} px high"
