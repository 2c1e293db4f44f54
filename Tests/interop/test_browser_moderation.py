"""Room moderation in the web app (issue 16), headless Chromium through Selenium: /mute and
/kick typed in the composer (sent over REST, never stored as messages, errors shown inline),
what the muted and the kicked member see, and the audit log for moderators."""
import uuid

import pytest
from selenium.webdriver.common.keys import Keys

from browser_support import (
    DESKTOP, PHONE, assert_no_console_errors, find, gone, login, make_driver, require_browser, screenshot, text_of, wait,
)

PASSWORD = "correct horse battery"


def open_room(driver, server, user, room):
    driver.get(server.url + "/")
    login(driver, user["user"]["username"], PASSWORD)
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
    find(driver, "#composer-input")


def command(driver, text):
    box = find(driver, "#composer-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def test_mute_and_kick_from_the_composer_and_the_audit_log(server, browser):
    owner, bob = server.new_user("boss"), server.new_user("bob")
    r = server.api("POST", "/rooms", owner["accessToken"], json={"name": f"mod-{uuid.uuid4().hex[:6]}", "kind": "public"})
    room = r.json()
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    boss_page, bob_page = browser(), browser()
    open_room(boss_page, server, owner, room)
    open_room(bob_page, server, bob, room)
    bob_name = bob["user"]["username"]
    find(boss_page, f"#members li[data-username='{bob_name}']")

    # /help is answered locally; mistakes are shown inline and the text comes back to fix.
    command(boss_page, "/help")
    text_of(boss_page, "#command-feedback", "/mute @user 10m")
    command(boss_page, "/mute @nobody 10m")
    text_of(boss_page, "#command-feedback.error", "Nobody here is called @nobody")
    wait(boss_page).until(lambda d: d.find_element("css selector", "#composer-input").get_attribute("value") == "/mute @nobody 10m")
    find(boss_page, "#composer-input").clear()
    command(boss_page, f"/mute @{bob_name} 10x")
    text_of(boss_page, "#command-feedback.error", "Give a duration")
    find(boss_page, "#composer-input").clear()

    # /mute: done over REST; both pages get a line in the timeline; bob's send is refused.
    command(boss_page, f"/mute @{bob_name} 10m too loud")
    text_of(boss_page, "#command-feedback", "muted for 10 minutes")
    assert find(boss_page, "#composer-input").get_attribute("value") == ""
    text_of(boss_page, "#messages li.event-line", "Boss muted Bob for 10 minutes: too loud")
    text_of(bob_page, "#messages li.event-line", "Boss muted Bob for 10 minutes: too loud")
    screenshot(boss_page, "desktop-16-mute-command")
    command(bob_page, "can I talk")
    text_of(bob_page, "#messages li.failed .send-error", "You are muted in this room for another")
    screenshot(bob_page, "desktop-16-muted-send")

    # /kick: bob's page leaves the room and says who and why.
    command(boss_page, f"/kick @{bob_name} spamming")
    text_of(boss_page, "#command-feedback", "was kicked")
    text_of(boss_page, "#messages li.event-line", "Boss removed Bob: spamming")
    gone(boss_page, f"#members li[data-username='{bob_name}']")
    text_of(bob_page, "#notice", "Boss removed you from")
    text_of(bob_page, "#notice", "spamming")
    gone(bob_page, f"#room-list li[data-room-id='{room['id']}']")

    # No command was ever stored as a message.
    bodies = [m["body"] for m in server.api("GET", f"/rooms/{room['id']}/messages", owner["accessToken"]).json()["messages"]]
    assert not [b for b in bodies if b.startswith("/")], bodies

    # The audit log: who, what, to whom, why, when.
    find(boss_page, "#audit-log-button").click()
    dialog = find(boss_page, "#audit-log")
    text_of(boss_page, "#audit-log-entries li[data-action=kick]", f"@{owner['user']['username']} kicked @{bob_name} (spamming)")
    text_of(boss_page, "#audit-log-entries li[data-action=mute]", "(too loud)")
    entries = dialog.find_elements("css selector", "#audit-log-entries li")
    assert [e.get_attribute("data-action") for e in entries] == ["kick", "mute"]
    assert all(e.find_element("css selector", "time").get_attribute("datetime").endswith("Z") for e in entries)
    screenshot(boss_page, "desktop-16-audit-log")
    find(boss_page, "#audit-log-close").click()
    gone(boss_page, "#audit-log")
    assert_no_console_errors(boss_page)
    assert_no_console_errors(bob_page, allowed=[])


def test_a_members_menu_offers_only_what_my_role_allows(server, browser):
    owner, mod, bob = server.new_user("own"), server.new_user("mod"), server.new_user("bob")
    room = server.api("POST", "/rooms", owner["accessToken"], json={"name": f"menu-{uuid.uuid4().hex[:6]}", "kind": "public"}).json()
    for user in (mod, bob):
        assert server.api("POST", f"/rooms/{room['id']}/join", user["accessToken"]).status_code == 200
    r = server.api("PUT", f"/rooms/{room['id']}/members/{mod['user']['id']}/role", owner["accessToken"], json={"role": "moderator"})
    assert r.status_code == 200, r.text
    r = server.api("POST", f"/rooms/{room['id']}/messages", bob["accessToken"], json={"body": "buy cheap watches", "clientMsgId": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    page = browser()
    open_room(page, server, mod, room)
    # A moderator may delete others' messages (as the server allows): the message offers Delete.
    spam = text_of(page, "#messages li.message[data-message-id]", "buy cheap watches")
    assert spam.find_elements("css selector", ".action-delete"), "no Delete on another's message for a moderator"
    bob_item = f"#members li[data-username='{bob['user']['username']}']"
    owner_item = f"#members li[data-username='{owner['user']['username']}']"
    find(page, bob_item)
    # The owner ranks above a moderator: no menu; bob: mute, kick, ban, but no roles.
    assert not page.find_elements("css selector", f"{owner_item} .member-menu")
    find(page, f"{bob_item} .member-menu summary").click()
    actions = [b.get_attribute("data-action") for b in page.find_elements("css selector", f"{bob_item} .member-menu button")]
    assert actions == ["mute-10m", "mute-1h", "unmute", "kick", "ban"], actions
    find(page, f"{bob_item} button[data-action=ban]").click()
    find(page, "#dialog-confirm").click()
    text_of(page, "#command-feedback", "is banned")
    gone(page, bob_item)
    r = server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "banned_from_room"
    find(page, "#audit-log-button")
    assert_no_console_errors(page)


def test_a_private_rooms_join_code_is_shown_to_the_roles_that_may_invite(server, browser):
    """Issue 18: members of a private room see its join code when their role allows inviting
    (owners and admins, RoomRules.mayManageRoom; GET /rooms gives the code to them only). A
    role change while the room is open shows or hides the code at once."""
    owner, carol = server.new_user("own"), server.new_user("carol")
    topic = "Plans, minutes and decisions of the committee, " * 4  # long: the header's line is cut with an ellipsis
    room = server.api("POST", "/rooms", owner["accessToken"], json={"name": f"code-{uuid.uuid4().hex[:6]}", "kind": "private", "topic": topic.strip()}).json()
    code = room["joinCode"]
    assert code
    r = server.api("POST", "/rooms/join-by-code", carol["accessToken"], json={"code": code})
    assert r.status_code == 200, r.text
    assert r.json().get("joinCode") is None

    def set_role(role):
        r = server.api("PUT", f"/rooms/{room['id']}/members/{carol['user']['id']}/role", owner["accessToken"], json={"role": role})
        assert r.status_code == 200, r.text

    page = browser(PHONE)
    open_room(page, server, carol, room)
    find(page, "#room-title")
    assert not page.find_elements("css selector", "#room-join-code")
    set_role("moderator")  # moderates, but may not invite
    text_of(page, "#messages .event-line", "moderator")
    assert not page.find_elements("css selector", "#room-join-code")
    set_role("admin")
    assert find(page, "#room-join-code").text == code
    # On a phone, with a long topic, the code is still on screen: not cut off by the line's ellipsis.
    shown = page.execute_script(
        "const c = document.getElementById('room-join-code').getBoundingClientRect();"
        "const line = document.querySelector('.room-meta').getBoundingClientRect();"
        "return c.width > 0 && c.left >= line.left - 0.5 && c.right <= line.right + 0.5 && c.right <= innerWidth")
    assert shown, "the join code is cut off"
    screenshot(page, "phone-private-room-code-for-admin")
    set_role("member")
    gone(page, "#room-join-code")
    page.refresh()
    find(page, "#room-title")
    find(page, "#connection[data-state=connected]")
    assert not page.find_elements("css selector", "#room-join-code")
    assert_no_console_errors(page)
