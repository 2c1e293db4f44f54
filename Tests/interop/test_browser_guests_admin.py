"""Guests and server administration in the web app (issue 16), headless Chromium through
Selenium against the real server: "Continue as guest" on the login screen, what a guest is
not offered, a guest joining a room whose owner turned "Allow guests" on in its settings and
posting there, the "guest" badge a member sees (message, members panel) and the guest sees
(top bar); an admin (made with the built `switchboard admin promote` on the server's own
database) disables a user from the admin screen and that user's open page is logged out,
then enables them again."""
import uuid

import pytest
from selenium.webdriver.common.by import By

from browser_support import (
    DESKTOP, find, gone, login, make_driver, promote_admin, require_browser, screenshot, send_message, submit, text_of, wait,
    wait_message,
)

PASSWORD = "correct horse battery"


def public_room(server, token, **extra):
    r = server.api("POST", "/rooms", token, json={"name": f"lobby-{uuid.uuid4().hex[:6]}", "kind": "public", **extra})
    assert r.status_code == 201, r.text
    return r.json()


def present(driver, css):
    return any(el.is_displayed() for el in driver.find_elements(By.CSS_SELECTOR, css))


def test_guest_joins_an_allowed_room_posts_and_is_marked_for_members(server, browser):
    owner = server.new_user("host")
    room = public_room(server, owner["accessToken"])
    assert room["allowGuests"] is False

    # The owner opens the room and turns "Allow guests" on in its settings.
    host = browser()
    host.get(server.url + "/")
    login(host, owner["user"]["username"], PASSWORD)
    find(host, f"#room-list li[data-room-id='{room['id']}'] a").click()
    find(host, "#composer-input")
    assert not present(host, "#room-guests-allowed")
    find(host, "#room-settings").click()
    dialog = find(host, "#room-settings-dialog")
    box = dialog.find_element(By.CSS_SELECTOR, "input[name=allowGuests]")
    assert not box.is_selected()
    box.click()
    screenshot(host, "guests-room-settings")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    gone(host, "#room-settings-dialog")
    find(host, "#room-guests-allowed")
    text_of(host, "#messages li", "Guests may now join this room")
    mine = server.api("GET", "/rooms", owner["accessToken"]).json()["rooms"]
    assert [r["allowGuests"] for r in mine if r["id"] == room["id"]] == [True]

    # Someone without an account continues as a guest from the login screen.
    guest = browser()
    guest.get(server.url + "/#/login")
    submit(guest, "guest-form", displayName="Visiting Vera")
    find(guest, "#discover-guest-hint")
    find(guest, "#connection[data-state=connected]")
    # Marked as a guest in the top bar; nothing offered that a guest cannot do.
    find(guest, "#account .guest-badge")
    assert "Visiting Vera" in find(guest, "#nav-settings").text
    assert "null" not in find(guest, "#account").text
    find(guest, "#guest-note")
    for link in ("#new-room-link", "#join-link", "#direct-link", "#nav-admin"):
        assert not present(guest, link), f"{link} offered to a guest"
    join = find(guest, f"#discover-results button[data-join-room='{room['id']}']")
    screenshot(guest, "guests-discover")
    join.click()
    find(guest, "#composer-input")
    send_message(guest, "hello from a guest")
    guest_id = guest.execute_script("return Number(document.querySelector('#members li .guest-badge')?.closest('li')?.dataset.userId || 0)")
    assert guest_id > 0

    # The member sees the message live with the badge, and the guest in the members panel with it,
    # with no "Message" button (no direct messages with guests).
    line = wait_message(host, "hello from a guest")
    item = line.find_element(By.XPATH, "./ancestor::li[contains(@class, 'message')]")
    assert item.find_element(By.CSS_SELECTOR, ".meta .guest-badge").text == "guest"
    member = find(host, f"#members li[data-user-id='{guest_id}']")
    wait(host).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#members li[data-user-id='{guest_id}'] .guest-badge"))
    member = find(host, f"#members li[data-user-id='{guest_id}']")
    assert not member.find_elements(By.CSS_SELECTOR, ".message-member")
    screenshot(host, "guests-member-view")
    stored = server.api("GET", f"/rooms/{room['id']}/messages", owner["accessToken"]).json()["messages"]
    assert [m["author"].get("guest") for m in stored if m["body"] == "hello from a guest"] == [True]

    # Reached directly, the forms a guest cannot use say why, with the button off.
    guest.get(server.url + "/#/new-room")
    assert "Guests cannot create rooms" in find(guest, "#blocked-note").text
    assert not find(guest, "form#create-room-form button[type=submit]").is_enabled()
    guest.get(server.url + "/#/settings")
    find(guest, "#guest-password-note")
    assert not present(guest, "form#password-form")
    # A guest deletes itself: told so, with no word of a mailed confirmation (it has no address).
    find(guest, "form#delete-account-form button[type=submit]").click()
    find(guest, "dialog[open] #dialog-confirm").click()
    find(guest, "form#login-form")
    flash = text_of(guest, ".flash", "guest session was deleted")
    assert "mail" not in flash.text


def test_new_room_form_allows_guests(server, browser):
    owner = server.new_user("maker")
    driver = browser()
    driver.get(server.url + "/")
    login(driver, owner["user"]["username"], PASSWORD)
    find(driver, "#new-room-link").click()
    form = find(driver, "form#create-room-form")
    name = f"open-{uuid.uuid4().hex[:6]}"
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.CSS_SELECTOR, "input[name=allowGuests]").click()
    # A private room has no such setting: the box goes with the choice.
    find(driver, "#kind-private").click()
    assert not form.find_element(By.CSS_SELECTOR, "input[name=allowGuests]").is_displayed()
    find(driver, "#kind-public").click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    find(driver, "#room-guests-allowed")
    rooms = server.api("GET", "/rooms", owner["accessToken"]).json()["rooms"]
    assert [r["allowGuests"] for r in rooms if r["name"] == name] == [True]


def test_admin_disables_a_user_whose_open_page_is_logged_out(server, browser):
    boss, victim = server.new_user("boss"), server.new_user("vic")
    promote_admin(server, boss["user"]["username"])
    room = public_room(server, victim["accessToken"])
    r = server.api("POST", f"/rooms/{room['id']}/messages", victim["accessToken"], json={"body": "before the ban hammer", "clientMsgId": uuid.uuid4().hex})
    assert r.status_code == 201, r.text

    # The victim's page is open; they are no admin, so no link and no screen.
    page = browser()
    page.get(server.url + "/")
    login(page, victim["user"]["username"], PASSWORD)
    assert not present(page, "#nav-admin")
    page.get(server.url + "/#/admin")
    find(page, "#admin-required")
    page.get(server.url + f"/#/rooms/{room['id']}")
    find(page, "#composer-input")

    admin = browser()
    admin.get(server.url + "/")
    login(admin, boss["user"]["username"], PASSWORD)
    find(admin, "#nav-admin").click()
    find(admin, "#admin-stats [data-stat=users] dd")
    # The victim's room, with the victim online in it.
    wait(admin).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#admin-rooms li[data-room-id='{room['id']}']"))
    online = admin.find_element(By.CSS_SELECTOR, f"#admin-rooms li[data-room-id='{room['id']}'] .online-count").text
    assert online == "1 online", online
    find(admin, "#admin-user-query").send_keys(victim["user"]["username"])
    wait(admin).until(lambda d: [li.get_attribute("data-username") for li in d.find_elements(By.CSS_SELECTOR, "#admin-users > li[data-username]")] == [victim["user"]["username"]])
    # A user's latest messages and a room's members, on demand.
    find(admin, f"#admin-users li[data-username='{victim['user']['username']}'] button[aria-controls$='-messages']").click()
    text_of(admin, f"#admin-user-{victim['user']['id']}-messages li", "before the ban hammer")
    find(admin, f"#admin-rooms li[data-room-id='{room['id']}'] button[aria-controls$='-members']").click()
    text_of(admin, f"#admin-room-{room['id']}-members li", "@" + victim["user"]["username"])
    screenshot(admin, "admin-users")
    find(admin, f"#admin-users li[data-username='{victim['user']['username']}'] [data-action=disable]").click()
    find(admin, "#confirm-dialog")
    find(admin, "#dialog-confirm").click()
    find(admin, f"#admin-users li[data-username='{victim['user']['username']}'][data-disabled=true] [data-action=enable]")
    assert "disabled" in find(admin, "#admin-user-status").text

    # The victim's open page is logged out at once, saying why, and cannot log in again
    # (a disabled account's login is refused like a wrong password, AuthService).
    find(page, "form#login-form")
    text_of(page, ".flash", "disabled by an administrator")
    screenshot(page, "admin-disabled-user")
    submit(page, "login-form", login=victim["user"]["username"], password=PASSWORD)
    text_of(page, "form#login-form .form-error", "wrong")
    assert "#/login" in page.current_url

    # Enabled again: the user logs in.
    find(admin, f"#admin-users li[data-username='{victim['user']['username']}'] [data-action=enable]").click()
    find(admin, f"#admin-users li[data-username='{victim['user']['username']}'][data-disabled=false] [data-action=disable]")
    page.get(server.url + "/#/login")
    login(page, victim["user"]["username"], PASSWORD)
