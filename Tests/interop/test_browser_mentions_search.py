"""The web app's mentions and search (issue 15) in headless Chromium: the mention badge beside
the unread badge (cleared by reading), mentions of me highlighted, `@` autocomplete in the
composer by keyboard, and the search screen opening a result's room."""
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser_support import (
    DESKTOP, assert_no_console_errors, badge_of, find, gone, login, make_driver, require_browser, screenshot, wait,
    wait_message,
)

PASSWORD = "correct horse battery"


def make_room(server, token, kind="public"):
    r = server.api("POST", "/rooms", token=token, json={"name": f"room-{uuid.uuid4().hex[:6]}", "kind": kind})
    assert r.status_code == 201, r.text
    return r.json()


def post(server, token, room_id, body):
    r = server.api("POST", f"/rooms/{room_id}/messages", token=token, json={"body": body, "clientMsgId": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()["message"]


def mention_badge_of(driver, room_id):
    items = driver.find_elements(By.CSS_SELECTOR, f"#room-list li[data-room-id='{room_id}'] .mention-badge")
    return items[0].text if items else None


def test_mention_badge_highlight_and_clearing(server, browser):
    me, friend = server.new_user("me"), server.new_user("friend")
    room = make_room(server, friend["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=me["accessToken"]).status_code == 200
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    find(driver, f"#room-list li[data-room-id='{room['id']}']")

    # Live: a mention of me and a plain message: two unread, one mention.
    post(server, friend["accessToken"], room["id"], f"look @{me['user']['username']}, a fox")
    post(server, friend["accessToken"], room["id"], "nothing for you")
    wait(driver).until(lambda d: badge_of(d, room["id"]) == "2" and mention_badge_of(d, room["id"]) == "@1", "badges 2 and @1")
    link = find(driver, f"#room-list li[data-room-id='{room['id']}'] a")
    assert "1 mentioning you" in link.get_attribute("aria-label")
    screenshot(driver, "mentions-badge")

    # At login, from GET /api/rooms.
    driver.refresh()
    wait(driver).until(lambda d: mention_badge_of(d, room["id"]) == "@1", "mention badge after reload")

    # Opening the room reads it: both badges go; the message naming me is highlighted.
    link = find(driver, f"#room-list li[data-room-id='{room['id']}'] a")
    link.click()
    body = wait_message(driver, f"look @{me['user']['username']}, a fox")
    item = body.find_element(By.XPATH, "./ancestor::li[contains(@class,'message')]")
    assert "mentions-me" in item.get_attribute("class")
    assert body.find_element(By.CSS_SELECTOR, ".mention.mention-me").text == f"@{me['user']['username']}"
    wait(driver).until(lambda d: mention_badge_of(d, room["id"]) is None and badge_of(d, room["id"]) is None, "badges cleared")
    r = server.api("GET", "/rooms", token=me["accessToken"])
    assert next(x for x in r.json()["rooms"] if x["id"] == room["id"])["mentionCount"] == 0
    assert_no_console_errors(driver)


def test_mention_autocomplete_by_keyboard(server, browser):
    me, friend, other = server.new_user("me"), server.new_user("zed"), server.new_user("zeta")
    room = make_room(server, me["accessToken"])
    for user in (friend, other):
        assert server.api("POST", f"/rooms/{room['id']}/join", token=user["accessToken"]).status_code == 200
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    find(driver, f"#room-list li[data-room-id='{room['id']}'] a").click()
    find(driver, "#members li")
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#members li")) >= 3, "three members listed")

    box = find(driver, "#composer-input")
    box.send_keys("hi @z")
    listbox = find(driver, ".mention-suggestions[role=listbox]")
    options = listbox.find_elements(By.CSS_SELECTOR, "li[role=option]")
    names = sorted([friend["user"]["username"], other["user"]["username"]])
    assert [o.get_attribute("data-username") for o in options] == names
    # The textarea points at the open list (a textarea takes no aria-expanded; see mentions.js).
    assert box.get_attribute("aria-controls") == listbox.get_attribute("id") and listbox.is_displayed()
    screenshot(driver, "mentions-autocomplete")
    # ArrowDown moves to the second, Enter takes it (and does not send).
    box.send_keys(Keys.ARROW_DOWN)
    assert listbox.find_element(By.CSS_SELECTOR, "li.active").get_attribute("data-username") == names[1]
    box.send_keys(Keys.ENTER)
    gone(driver, ".mention-suggestions")
    assert box.get_attribute("value") == f"hi @{names[1]} "
    assert not driver.find_elements(By.CSS_SELECTOR, "#messages li.message")
    # Escape closes the list without taking anything.
    box.send_keys("and @z")
    find(driver, ".mention-suggestions")
    box.send_keys(Keys.ESCAPE)
    gone(driver, ".mention-suggestions")
    box.send_keys(Keys.BACKSPACE, Keys.BACKSPACE, Keys.BACKSPACE, Keys.BACKSPACE, Keys.BACKSPACE, Keys.BACKSPACE)
    box.send_keys(Keys.ENTER)
    text = f"hi @{names[1]}"
    wait_message(driver, text)
    mentioned = other if names[1] == other["user"]["username"] else friend
    r = server.api("GET", "/rooms", token=mentioned["accessToken"])
    assert next(x for x in r.json()["rooms"] if x["id"] == room["id"])["mentionCount"] == 1
    assert_no_console_errors(driver)


def test_search_screen_finds_and_opens_the_room(server, browser):
    me, friend = server.new_user("me"), server.new_user("friend")
    room = make_room(server, friend["accessToken"])
    other = make_room(server, friend["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=me["accessToken"]).status_code == 200
    word = f"kiwi{uuid.uuid4().hex[:6]}"
    post(server, friend["accessToken"], room["id"], f"the {word} is ripe today")
    post(server, friend["accessToken"], other["id"], f"secret {word} elsewhere")  # a room I am not in
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    find(driver, "#search-link").click()
    box = find(driver, "#search-query")
    box.send_keys(word, Keys.ENTER)
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#search-results li.search-result")) == 1, "one result")
    result = find(driver, "#search-results li.search-result")
    assert result.find_element(By.CSS_SELECTOR, ".search-snippet mark").text == word
    assert result.get_attribute("data-room-id") == str(room["id"])
    assert room["name"] in result.find_element(By.CSS_SELECTOR, ".search-room").text
    screenshot(driver, "search-results")
    # Full-text syntax is searched as words: no error, nothing found.
    box = find(driver, "#search-query")
    box.clear()
    box.send_keys('NEAR( " *', Keys.ENTER)
    wait(driver).until(lambda d: "No messages found" in d.find_element(By.CSS_SELECTOR, "#search-status").text, "no results")
    assert not driver.find_elements(By.CSS_SELECTOR, "#search-form .form-error:not([hidden])")
    box.clear()
    box.send_keys(word, Keys.ENTER)
    find(driver, "#search-results li.search-result a").click()
    wait(driver).until(lambda d: d.current_url.endswith(f"#/rooms/{room['id']}"), "the room opened")
    wait_message(driver, f"the {word} is ripe today")
    assert_no_console_errors(driver)


def test_room_list_preview_and_mention_badge_follow_edits_and_deletes(server, browser):
    """A message edited or deleted in a room I am not looking at: its preview in the room list
    shows the new body or "message deleted" (not the old text), and the mention badge follows
    an edit that drops or adds a mention of me and a delete."""
    me, friend = server.new_user("me"), server.new_user("friend")
    room = make_room(server, friend["accessToken"])
    other = make_room(server, me["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", token=me["accessToken"]).status_code == 200
    driver = browser()
    driver.get(server.url + "/")
    login(driver, me["user"]["username"], PASSWORD)
    find(driver, f"#room-list li[data-room-id='{other['id']}'] a").click()
    find(driver, f"#room-list li[data-room-id='{room['id']}']")
    name = me["user"]["username"]

    def preview(d):
        items = d.find_elements(By.CSS_SELECTOR, f"#room-list li[data-room-id='{room['id']}'] .preview")
        return items[0].text if items else None

    def edit(message, body):
        r = server.api("PATCH", f"/rooms/{room['id']}/messages/{message['id']}", friend["accessToken"], json={"body": body})
        assert r.status_code == 200, r.text

    sent = post(server, friend["accessToken"], room["id"], f"secret plan @{name}")
    wait(driver).until(lambda d: mention_badge_of(d, room["id"]) == "@1" and preview(d) == f"secret plan @{name}", "badge @1")
    edit(sent, "public plan")
    wait(driver).until(lambda d: mention_badge_of(d, room["id"]) is None and preview(d) == "public plan", "edit drops the mention and the old text")
    edit(sent, f"public plan, @{name}")
    wait(driver).until(lambda d: mention_badge_of(d, room["id"]) == "@1" and preview(d) == f"public plan, @{name}", "edit adds a mention")
    r = server.api("DELETE", f"/rooms/{room['id']}/messages/{sent['id']}", friend["accessToken"])
    assert r.status_code in (200, 204), r.text
    wait(driver).until(lambda d: mention_badge_of(d, room["id"]) is None and preview(d) == "message deleted", "delete: no badge, no old text")
    assert "plan" not in find(driver, "#room-list").text
    # A signed-in member's top bar (no Admin link, not a guest) shows no "null" for the absent parts.
    top = find(driver, "#account").text
    assert me["user"]["displayName"] in top and "Sessions" in top and "null" not in top
    assert_no_console_errors(driver)
