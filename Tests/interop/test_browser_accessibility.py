"""Accessibility of the web app in headless Chromium (issue 18):

- every main screen, at desktop and phone sizes, passes axe-core with no violation of impact
  "critical" or "serious". axe-core 4.9 comes from PyPI's selenium-axe-python, the maintained
  fork of axe-selenium-python: the latter bundles axe-core 3.1 (2018), whose label rule
  counts a visually hidden <label> as missing (fixed in axe-core 3.2);
- the whole everyday journey works with the keyboard alone (no clicks): log in, create a
  room, write in it, open another room from the list, open settings, log out;
- focus moves to what appeared (the composer when a room opens, the new screen's heading
  or first field when a screen opens, a dialog's control when a dialog opens);
- the open room's message list is a polite live region, so screen readers announce new
  messages without taking focus;
- no screen scrolls sideways, at the desktop size or on a 390×844 phone.

Each screen's screenshot goes to test-artifacts/screenshots/a11y-*.png."""
import uuid

import pytest
from selenium_axe_python import Axe
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser_support import DESKTOP, PHONE, find, login, make_driver, promote_admin, require_browser, screenshot, send_message, wait, wait_message

PASSWORD = "correct horse battery"
BLOCKING = {"critical", "serious"}


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def driver(request):
    require_browser()
    d = make_driver(request.param)
    d.set_script_timeout(30)
    yield d
    d.quit()


def blocking_violations(driver):
    """axe-core's violations of impact critical or serious on the page as it is now, each as
    `rule: target (summary)` lines for the assertion message."""
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    found = []
    for violation in results["violations"]:
        if violation.get("impact") not in BLOCKING:
            continue
        for node in violation["nodes"]:
            found.append(f"{violation['id']} [{violation['impact']}]: {node.get('target')} - {node.get('failureSummary', '').strip()[:300]}")
    return found


def check_screen(driver, name, size_name):
    screenshot(driver, f"a11y-{name}-{size_name}")
    problems = blocking_violations(driver)
    assert not problems, f"axe-core on the {name} screen ({size_name}):\n" + "\n".join(problems)
    # Nothing sticks out sideways: the page never scrolls horizontally (390 px phones included).
    overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the {name} screen ({size_name}) scrolls sideways by {overflow} px"


def make_room(server, token, name=None, **extra):
    r = server.api("POST", "/rooms", token=token, json={"name": name or f"a11y-{uuid.uuid4().hex[:6]}", "kind": "public", **extra})
    assert r.status_code == 201, r.text
    return r.json()


def size_name(driver):
    # outerWidth: the emulated screen's width on any page (innerWidth is 980 on about:blank,
    # which has no viewport meta, so a phone was named "desktop" and its screenshots
    # overwrote the desktop ones).
    return "phone" if driver.execute_script("return window.outerWidth") < 600 else "desktop"


def test_logged_out_screens_pass_axe(server, driver):
    name = size_name(driver)
    for route, ready, screen in (
        ("#/login", "form#login-form", "login"),
        ("#/register", "form#register-form", "register"),
        ("#/forgot", "form", "forgot"),
    ):
        driver.get(server.url + "/" + route)
        find(driver, ready)
        check_screen(driver, screen, name)


def test_logged_in_screens_pass_axe(server, driver):
    me, friend = server.new_user("axe"), server.new_user("axepal")
    promote_admin(server, me["user"]["username"])  # for the admin screen (#/admin)
    room = make_room(server, me["accessToken"], topic="Where the accessible things are", allowGuests=True)
    assert server.api("POST", f"/rooms/{room['id']}/join", token=friend["accessToken"]).status_code == 200
    # A guest in the room: its badge (messages, members) is checked too.
    guest = server.api("POST", "/auth/guest", json={"displayName": "Passing guest"}).json()
    assert server.api("POST", f"/rooms/{room['id']}/join", token=guest["accessToken"]).status_code == 200
    r = server.api("POST", f"/rooms/{room['id']}/messages", token=guest["accessToken"], json={"body": "a guest was here", "clientMsgId": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    for i in range(3):
        r = server.api("POST", f"/rooms/{room['id']}/messages", token=friend["accessToken"], json={"body": f"hello {i} https://example.com", "clientMsgId": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
    name = size_name(driver)
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    check_screen(driver, "rooms", name)
    driver.get(server.url + f"/#/rooms/{room['id']}")
    wait_message(driver, "hello 2 https://example.com")
    check_screen(driver, "room", name)
    for route, screen in (("#/new-room", "new-room"), ("#/discover", "discover"), ("#/join", "join"),
                          ("#/direct", "direct"), ("#/sessions", "sessions"), ("#/settings", "settings"), ("#/admin", "admin")):
        driver.get(server.url + "/" + route)
        find(driver, "main form, main ul, main section, main table, main")
        wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")
        if screen == "admin":  # its lists loaded
            find(driver, "#admin-stats dd")
            find(driver, "#admin-users > li[data-user-id]")
            find(driver, "#admin-rooms > li[data-room-id]")
        check_screen(driver, screen, name)


def active(driver):
    return driver.switch_to.active_element


def press(driver, *keys):
    ActionChains(driver).send_keys(*keys).perform()


def tab_to(driver, predicate, limit=80, what="element"):
    """Presses Tab until `predicate(focused element)` holds; fails after `limit` presses."""
    for _ in range(limit):
        if predicate(active(driver)):
            return active(driver)
        press(driver, Keys.TAB)
    raise AssertionError(f"Tab never reached the {what} (stuck on {active(driver).get_attribute('outerHTML')[:200]})")


def focus_in_main(driver, what):
    """Focus moved to what appeared: an element inside <main> (the new screen's heading, its
    first field or the composer), not left on the link that was pressed or on <body>."""
    wait(driver).until(lambda d: d.execute_script(
        "const a = document.activeElement; return !!a && a !== document.body && !!a.closest('main')"), f"focus did not move into the {what}")


def test_keyboard_only_journey(server):
    """Log in, create a room, write, switch rooms, open settings and log out without a click."""
    require_browser()
    me, friend = server.new_user("keys"), server.new_user("keyspal")
    other = make_room(server, friend["accessToken"])
    assert server.api("POST", f"/rooms/{other['id']}/join", token=me["accessToken"]).status_code == 200
    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/#/login")
        find(driver, "form#login-form")
        focus_in_main(driver, "login screen")
        tab_to(driver, lambda el: el.get_attribute("name") == "login", what="login field")
        press(driver, me["user"]["username"], Keys.TAB, PASSWORD, Keys.ENTER)
        find(driver, "#room-list")
        find(driver, "#connection[data-state=connected]")

        # New room: reach its link by Tab, Enter; focus moves into the form's screen.
        tab_to(driver, lambda el: el.tag_name == "a" and (el.get_attribute("href") or "").endswith("#/new-room"), what="new-room link")
        press(driver, Keys.ENTER)
        find(driver, "form#create-room-form")
        focus_in_main(driver, "new-room screen")
        tab_to(driver, lambda el: el.get_attribute("name") == "name", what="room name field")
        room_name = f"kb-{uuid.uuid4().hex[:6]}"
        press(driver, room_name, Keys.ENTER)

        # The room opens and the composer has focus: write without touching the mouse.
        wait(driver).until(lambda d: active(d).get_attribute("id") == "composer-input", "the composer did not get focus when the room opened")
        press(driver, "typed with keys only", Keys.ENTER)
        wait_message(driver, "typed with keys only")

        # Another room from the list, by keyboard.
        link = tab_to(driver, lambda el: el.tag_name == "a" and f"#/rooms/{other['id']}" in (el.get_attribute("href") or ""), what="other room's link")
        assert link.is_displayed()
        press(driver, Keys.ENTER)
        wait(driver).until(lambda d: d.current_url.endswith(f"#/rooms/{other['id']}"))
        wait(driver).until(lambda d: active(d).get_attribute("id") == "composer-input", "the composer did not get focus in the other room")
        press(driver, "and here too", Keys.ENTER)
        wait_message(driver, "and here too")

        # Settings, then log out, by keyboard.
        tab_to(driver, lambda el: el.get_attribute("id") == "nav-settings", what="settings link")
        press(driver, Keys.ENTER)
        wait(driver).until(lambda d: d.current_url.endswith("#/settings"))
        focus_in_main(driver, "settings screen")
        tab_to(driver, lambda el: el.get_attribute("id") == "logout-button", what="log-out button")
        press(driver, Keys.ENTER)
        find(driver, "form#login-form")
    finally:
        driver.quit()


def announced(driver):
    return driver.execute_script("return [...document.querySelectorAll('#message-announcer > *')].map((p) => p.textContent)")


def test_new_messages_are_announced_politely(server):
    """New messages of others in the open room are announced by a polite live region, focus
    untouched, at a sane rate: the history shown when a room opens is not read out (the
    message list itself is no live region), and of a burst only the first few are read, then
    how many more came; my own messages are not announced."""
    require_browser()
    me, friend = server.new_user("live"), server.new_user("livepal")
    room = make_room(server, me["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=friend["accessToken"]).status_code == 200

    def post(body):
        r = server.api("POST", f"/rooms/{room['id']}/messages", token=friend["accessToken"], json={"body": body, "clientMsgId": uuid.uuid4().hex})
        assert r.status_code == 201, r.text

    for i in range(3):
        post(f"history {i}")
    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/")
        login(driver, me["user"]["username"], PASSWORD)
        driver.get(server.url + f"/#/rooms/{room['id']}")
        composer = find(driver, "#composer-input")
        wait_message(driver, "history 2")
        assert driver.execute_script("return !!document.querySelector('#messages').closest('[aria-live]:not([aria-live=off]), [role=log], [role=status]')") is False, \
            "the message list is a live region: the history of every opened room would be read out"
        region = driver.execute_script(
            "const r = document.getElementById('message-announcer');"
            "return r ? {live: r.getAttribute('aria-live'), role: r.getAttribute('role')} : null;")
        assert region == {"live": "polite", "role": "log"}, region
        assert announced(driver) == []
        post("announce me")
        wait_message(driver, "announce me")
        wait(driver).until(lambda d: announced(d) == ["Livepal: announce me"], f"announced {announced(driver)}")
        # Focus stayed where the user was.
        assert active(driver) == composer
        # A burst: the first few are read, then a count of the rest.
        for i in range(8):
            post(f"burst {i}")
        wait_message(driver, "burst 7")
        wait(driver, 15).until(lambda d: any("more new message" in line for line in announced(d)), f"announced {announced(driver)}")
        lines = announced(driver)
        read = [line for line in lines if line.startswith("Livepal: burst")]
        assert 1 <= len(read) <= 3, lines
        assert f"{8 - len(read)} more new messages" in lines[-1], lines
        send_message(driver, "my own reply")
        assert not any("my own reply" in line for line in announced(driver))
    finally:
        driver.quit()


def test_dialog_takes_focus_and_escape_returns_it(server):
    """Our own dialogs (leave room) take focus when they open and give it back on Escape."""
    require_browser()
    me, friend = server.new_user("dlg"), server.new_user("dlgpal")
    room = make_room(server, friend["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=me["accessToken"]).status_code == 200
    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/")
        login(driver, me["user"]["username"], PASSWORD)
        driver.get(server.url + f"/#/rooms/{room['id']}")
        find(driver, "#composer-input")
        leave = find(driver, "#leave-room, button[data-action=leave], button.leave")
        leave.send_keys(Keys.ENTER)
        dialog = find(driver, "dialog[open]")
        wait(driver).until(lambda d: d.execute_script("return arguments[0].contains(document.activeElement)", dialog), "focus did not move into the dialog")
        problems = blocking_violations(driver)
        assert not problems, "axe-core on the leave dialog:\n" + "\n".join(problems)
        press(driver, Keys.ESCAPE)
        wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        wait(driver).until(lambda d: active(d) == leave, "focus did not return to the Leave button")
    finally:
        driver.quit()
