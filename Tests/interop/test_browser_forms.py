"""Length limits on the web app's form fields (issue 18: "text over the length limit is cut
silently"): a field never cuts what was typed or pasted; near its limit a counter says what
is left, past it how far over, and the form refuses to send until it fits. Limits count
Unicode scalars as the server does, so 256 emoji fit a 256-character topic (512 UTF-16 units,
which the HTML maxlength attribute would have cut to 128). A counter counts what the server
will count: spaces around a name are trimmed by the server, and so not counted; the "@" in
front of a username on "Message someone" is dropped before sending, and so not counted."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser_support import DESKTOP, find, login, make_driver, require_browser, screenshot, wait

PASSWORD = "correct horse battery"


def put_text(driver, el, text):
    """Sets the field's text as a paste would (one input event), then types one more key so
    the page sees a real keystroke too."""
    driver.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", el, text[:-1])
    el.send_keys(text[-1])


def counter_of(el):
    return el.find_element(By.XPATH, "./ancestor::div[contains(@class,'field')]//p[contains(@class,'field-count')]")


def test_a_long_room_name_is_kept_counted_and_refused_until_it_fits(server):
    require_browser()
    me = server.new_user("forms")
    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/")
        login(driver, me["user"]["username"], PASSWORD)
        driver.get(server.url + "/#/new-room")
        form = find(driver, "form#create-room-form")
        name = form.find_element(By.NAME, "name")
        long_name = "n" * 70
        put_text(driver, name, long_name)
        # Nothing was cut.
        assert name.get_attribute("value") == long_name
        count = counter_of(name)
        wait(driver).until(lambda d: count.is_displayed() and count.text == "6 over the limit of 64 characters", f"counter says {count.text!r}")
        screenshot(driver, "forms-room-name-over")
        before = server.api("GET", "/rooms", token=me["accessToken"]).json()["rooms"]
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        error = find(driver, "form#create-room-form .field-error")
        assert "at most 64 characters (6 over)" in error.text
        assert name.get_attribute("aria-invalid") == "true"
        assert server.api("GET", "/rooms", token=me["accessToken"]).json()["rooms"] == before
        # Shortened to fit: the counter follows and the room is created.
        for _ in range(6):
            name.send_keys(Keys.BACKSPACE)
        wait(driver).until(lambda d: count.text == "0 of 64 characters left")
        # Trailing spaces: the server trims them, so they are not counted and do not block.
        name.send_keys("   ")
        wait(driver).until(lambda d: count.text == "0 of 64 characters left", f"counter says {count.text!r}")
        assert name.get_attribute("value") == "n" * 64 + "   "
        topic = form.find_element(By.NAME, "topic")
        # The server's limit for a topic (RoomTopic in docs/openapi.yaml: 256 scalars).
        emoji_topic = "😀" * 256  # 256 scalars, 512 UTF-16 units
        put_text(driver, topic, emoji_topic)
        assert topic.get_attribute("value") == emoji_topic
        wait(driver).until(lambda d: counter_of(topic).text == "0 of 256 characters left", f"counter says {counter_of(topic).text!r}")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(driver).until(lambda d: "#/rooms/" in d.current_url, "the room was not created")
        rooms = server.api("GET", "/rooms", token=me["accessToken"]).json()["rooms"]
        created = [r for r in rooms if r["name"] == "n" * 64]
        assert created and created[0]["topic"] == emoji_topic
        # "Message someone": "@" and a 32-character username is 32 characters to the server.
        driver.get(server.url + "/#/direct")
        form = find(driver, "form#direct-form")
        username = form.find_element(By.NAME, "username")
        put_text(driver, username, "@" + "u" * 32)
        count = counter_of(username)
        wait(driver).until(lambda d: count.text == "0 of 32 characters left", f"counter says {count.text!r}")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # Sent (nobody has that name), not refused here as too long.
        wait(driver).until(lambda d: "Nobody has that username" in form.text, "the username was not sent")
        assert "over" not in form.text
    finally:
        driver.quit()


def test_short_text_shows_no_counter(server):
    require_browser()
    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/#/register")
        form = find(driver, "form#register-form")
        display = form.find_element(By.NAME, "displayName")
        display.send_keys("Ann")
        assert not counter_of(display).is_displayed()
        put_text(driver, display, "d" * 52)  # 81% of 64
        wait(driver).until(lambda d: counter_of(display).text == "12 of 64 characters left")
    finally:
        driver.quit()
