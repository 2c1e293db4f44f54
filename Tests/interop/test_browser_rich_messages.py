"""Rich messages in two real Chromium browsers (issue 15): react, reply, edit and delete in the
web app, each seen live by the other user, each changing that one message node in place."""
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser_support import DESKTOP, assert_no_console_errors, find, login, make_driver, require_browser, send_message, wait, wait_message

PASSWORD = "correct horse battery"


@pytest.fixture
def two_browsers():
    require_browser()
    drivers = [make_driver(DESKTOP), make_driver(DESKTOP)]
    yield drivers
    for driver in drivers:
        try:
            for entry in driver.get_log("browser"):
                print(f"console {entry['level']}: {entry['message']}")
        finally:
            driver.quit()


def node(driver, message_id):
    return find(driver, f"#messages li.message[data-message-id='{message_id}']")


def mark(driver, message_id):
    """Tags the message's <li>: still tagged later means the same node was changed in place."""
    driver.execute_script("arguments[0].setAttribute('data-marker', 'kept')", node(driver, message_id))


def kept(driver, message_id):
    return node(driver, message_id).get_attribute("data-marker") == "kept"


def test_react_reply_edit_delete_between_two_users(server, two_browsers):
    ann_page, bob_page = two_browsers
    ann, bob = server.new_user("ann"), server.new_user("bob")
    r = server.api("POST", "/rooms", ann["accessToken"], json={"name": f"rich-{uuid.uuid4().hex[:6]}", "kind": "public"})
    room = r.json()
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    parent = server.api("POST", f"/rooms/{room['id']}/messages", ann["accessToken"], json={"body": "Lunch at noon? <b>not bold</b>", "clientMsgId": "p"}).json()["message"]
    for page, user in ((ann_page, ann), (bob_page, bob)):
        page.get(server.url + "/")
        login(page, user["user"]["username"], PASSWORD)
        page.execute_script("location.hash = arguments[0]", f"#/rooms/{room['id']}")
        wait_message(page, "Lunch at noon? <b>not bold</b>")

    # React: Bob picks 👍; both see one 👍, Bob's pressed, Ann's not; Ann learns who.
    node(bob_page, parent["id"]).find_element(By.CSS_SELECTOR, ".action-react").click()
    find(bob_page, f"li[data-message-id='{parent['id']}'] .reaction-picker button[data-emoji='👍']").click()
    for page, pressed in ((bob_page, "true"), (ann_page, "false")):
        chip = find(page, f"li[data-message-id='{parent['id']}'] .reaction[data-emoji='👍']")
        wait(page).until(lambda d: chip.find_element(By.CSS_SELECTOR, ".count").text == "1")
        assert chip.get_attribute("aria-pressed") == pressed
    chip = find(ann_page, f"li[data-message-id='{parent['id']}'] .reaction[data-emoji='👍']")
    ann_page.execute_script("arguments[0].dispatchEvent(new MouseEvent('mouseenter'))", chip)
    wait(ann_page).until(lambda d: "Bob" in (chip.get_attribute("title") or ""), "who reacted was not shown")
    # Ann adds hers by clicking the chip: 2.
    chip.click()
    wait(bob_page).until(lambda d: d.find_element(By.CSS_SELECTOR, f"li[data-message-id='{parent['id']}'] .reaction[data-emoji='👍'] .count").text == "2")

    # Reply: Bob quotes Ann's message, cancels once, replies.
    node(bob_page, parent["id"]).find_element(By.CSS_SELECTOR, ".action-reply").click()
    bar = find(bob_page, "#reply-bar")
    assert "Lunch at noon?" in bar.text
    bar.find_element(By.CSS_SELECTOR, ".reply-cancel").click()
    wait(bob_page).until(lambda d: not d.find_element(By.ID, "reply-bar").is_displayed())
    node(bob_page, parent["id"]).find_element(By.CSS_SELECTOR, ".action-reply").click()
    send_message(bob_page, "Yes, noon works")
    reply_el = wait_message(ann_page, "Yes, noon works")
    reply_li = reply_el.find_element(By.XPATH, "./ancestor::li[1]")
    quote = reply_li.find_element(By.CSS_SELECTOR, "blockquote.reply-quote")
    assert "Lunch at noon? <b>not bold</b>" in quote.text and quote.find_elements(By.TAG_NAME, "b") == []
    reply_id = int(reply_li.get_attribute("data-message-id"))
    mark(bob_page, reply_id)

    # Edit in place: Ann edits hers; Bob sees the new words and "(edited)" in the same node.
    mark(bob_page, parent["id"])
    mark(ann_page, parent["id"])
    assert kept(bob_page, parent["id"]) and kept(ann_page, parent["id"])
    node(ann_page, parent["id"]).find_element(By.CSS_SELECTOR, ".action-edit").click()
    box = find(ann_page, f"li[data-message-id='{parent['id']}'] .edit-input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("Lunch at 12:30 instead")
    box.send_keys(Keys.ENTER)
    wait_message(bob_page, "Lunch at 12:30 instead")
    assert "(edited)" in node(bob_page, parent["id"]).text and kept(bob_page, parent["id"])
    wait(bob_page).until(lambda d: "Lunch at 12:30 instead" in d.find_element(By.CSS_SELECTOR, f"li[data-message-id='{reply_id}'] blockquote").text)

    # Delete with our dialog: Bob deletes his reply; both see a tombstone in place.
    node(bob_page, reply_id).find_element(By.CSS_SELECTOR, ".action-delete").click()
    find(bob_page, "#confirm-dialog #dialog-confirm").click()
    for page in (bob_page, ann_page):
        wait(page).until(lambda d: "deleted" in d.find_element(By.CSS_SELECTOR, f"li[data-message-id='{reply_id}']").get_attribute("class"))
        li = node(page, reply_id)
        assert "Message deleted" in li.text and "Yes, noon works" not in li.text
        assert li.find_elements(By.CSS_SELECTOR, ".message-actions, .reactions") == []
    assert kept(bob_page, reply_id) and kept(ann_page, parent["id"])
    # Ann's own message offers no Delete to Bob, who is neither its author nor an admin.
    assert node(bob_page, parent["id"]).find_elements(By.CSS_SELECTOR, ".action-delete, .action-edit") == []
    for page in (ann_page, bob_page):
        assert_no_console_errors(page)
