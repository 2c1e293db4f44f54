"""The whole journey in two real browsers (headless Chromium through Selenium), as a new
user would go through it: register, verify from the mailed link, create a private room,
a second user joins by code, messages both ways live, unread badges, password reset
from the mailed link, and the old session being logged out.

Alice uses a desktop-sized window, Bob a 390 px wide phone-sized one. Screenshots of the
main screens go to test-artifacts/screenshots/. Every step checks the browser console:
any SEVERE entry fails the test, except the few HTTP errors a step provokes on purpose
(named where they happen)."""
import pytest

from browser_support import (
    DESKTOP, PHONE, assert_no_console_errors, badge_of, find, gone, login, logout, make_driver,
    open_mailed_link, register_and_verify, require_browser, screenshot, send_message, submit,
    text_of, unique_name, wait, wait_message,
)

# The 401s a step provokes on purpose (Chromium logs failed fetches as SEVERE).
WRONG_PASSWORD_401 = r"/api/auth/login - Failed to load resource: the server responded with a status of 401"
REVOKED_REFRESH_401 = r"/api/auth/refresh - Failed to load resource: the server responded with a status of 401"


@pytest.fixture
def browsers():
    require_browser()
    drivers = []

    def open_browser(size):
        driver = make_driver(size)
        drivers.append(driver)
        return driver

    yield open_browser
    for index, driver in enumerate(drivers):
        # The last screen of each browser, and what its console said, for a failure's report.
        try:
            screenshot(driver, f"last-{index}")
            print(f"browser {index} at {driver.current_url}")
            for entry in driver.get_log("browser"):
                print(f"  console {entry['level']}: {entry['message']}")
        finally:
            driver.quit()


def test_journey(server, browsers):
    alice, bob = browsers(DESKTOP), browsers(PHONE)
    a_name, b_name = unique_name("alice"), unique_name("bob")
    a_mail, b_mail = f"{a_name}@example.com", f"{b_name}@example.com"
    a_pass, b_pass, a_new_pass = "alice's first password", "bob's password 1", "alice's new password"

    # Security headers on the app's pages.
    import requests
    page = requests.get(server.url + "/", timeout=5)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" not in requests.get(server.url + "/api/me", timeout=5).headers

    # 1. Alice registers and opens the verification link from the development mailbox.
    alice.get(server.url + "/")
    find(alice, "form#login-form")
    screenshot(alice, "desktop-01-login")
    register_and_verify(alice, server, a_name, a_mail, a_pass, "Alice", shot_prefix="desktop-02")
    assert_no_console_errors(alice)

    # 2. She logs in and creates a private room with a password; the join code is shown.
    login(alice, a_name, a_pass)
    screenshot(alice, "desktop-04-rooms-empty")
    find(alice, "#new-room-link").click()
    form = find(alice, "form#create-room-form")
    form.find_element("name", "name").send_keys("Secret garden")
    form.find_element("name", "topic").send_keys("Plans and plants")
    find(alice, "#kind-private").click()
    submit(alice, "create-room-form", password="open sesame")
    code = find(alice, "#join-code").text.strip()
    assert len(code) >= 6, code
    screenshot(alice, "desktop-05-room-created")
    find(alice, "#open-created-room").click()
    find(alice, "#composer-input")
    room_id = int(alice.execute_script("return location.hash.split('/').pop()"))
    assert_no_console_errors(alice)

    # 3. Bob registers on his phone, verifies, logs in and joins by code.
    bob.get(server.url + "/")
    find(bob, "form#login-form")
    assert bob.execute_script("return window.innerWidth") == PHONE[0]
    register_and_verify(bob, server, b_name, b_mail, b_pass, "Bob", shot_prefix="phone-02")
    screenshot(bob, "phone-01-login")
    login(bob, b_name, b_pass)
    find(bob, "#join-link").click()
    submit(bob, "join-form", code=code.lower(), password="open sesame")
    find(bob, "#composer-input")
    assert_no_console_errors(bob)

    # 4. Messages appear live both ways; typing and presence show up.
    send_message(alice, "Hello Bob, welcome to the garden!")
    wait_message(bob, "Hello Bob, welcome to the garden!")
    find(bob, "#composer-input").send_keys("typing something")
    text_of(alice, "#typing", "Bob is typing")
    find(alice, f"#members li[data-username='{b_name}'] .dot.online")
    find(bob, "#composer-input").clear()
    send_message(bob, "Hi Alice! Happy to be here.")
    wait_message(alice, "Hi Alice! Happy to be here.")
    screenshot(alice, "desktop-06-chat")
    screenshot(bob, "phone-03-chat")
    assert_no_console_errors(alice)
    assert_no_console_errors(bob)

    # 5. Alice logs out; Bob posts three messages; Alice logs in to a badge of 3.
    logout(alice)
    for i in range(1, 4):
        send_message(bob, f"While you were away #{i}")
    login(alice, a_name, a_pass)
    wait(alice).until(lambda d: badge_of(d, room_id) == "3", "no badge of 3")
    screenshot(alice, "desktop-07-unread-badge")
    find(alice, f"#room-list li[data-room-id='{room_id}'] a").click()
    wait_message(alice, "While you were away #3")
    gone(alice, f"#room-list li[data-room-id='{room_id}'] .badge")
    # The read cursor is stored: a fresh load shows no badge either.
    alice.refresh()
    find(alice, f"#room-list li[data-room-id='{room_id}']")
    find(alice, "#connection[data-state=connected]")
    assert badge_of(alice, room_id) is None
    assert_no_console_errors(alice)

    # 6. Bob's phone now logs in as Alice too (the "old session" of step 7).
    bob.get(server.url + "/#/rooms")
    find(bob, "#room-list")
    logout(bob)
    login(bob, a_name, a_pass)
    screenshot(bob, "phone-04-room-list")
    assert_no_console_errors(bob)

    # 7. Alice forgets her password: the mailed link sets a new one.
    logout(alice)
    find(alice, "#forgot-link").click()
    submit(alice, "forgot-form", email=a_mail)
    find(alice, "#forgot-done")
    open_mailed_link(alice, server, a_mail, "/reset-password")
    find(alice, "form#reset-form")
    assert "token=" not in alice.current_url
    screenshot(alice, "desktop-08-reset-password")
    submit(alice, "reset-form", password=a_new_pass, confirm=a_new_pass)
    find(alice, "#reset-done")
    assert_no_console_errors(alice)

    # The session on Bob's phone is logged out at once (the server ends its socket).
    text_of(bob, ".flash", "session has ended", timeout=15)
    find(bob, "form#login-form")
    screenshot(bob, "phone-05-session-ended")
    assert_no_console_errors(bob, allowed=[REVOKED_REFRESH_401])

    # 8. The old password no longer works (a clear error), the new one does.
    find(alice, "#reset-login").click()
    submit(alice, "login-form", login=a_name, password=a_pass)
    text_of(alice, "#login-form .form-error", "wrong")
    screenshot(alice, "desktop-09-login-error")
    login(alice, a_mail, a_new_pass)
    find(alice, f"#room-list li[data-room-id='{room_id}']")
    assert_no_console_errors(alice, allowed=[WRONG_PASSWORD_401])
