"""The web app in Chromium over HTTPS/WSS served by the server itself (TLS_CERT_FILE), with a
throwaway CA (Chromium is told to accept it: acceptInsecureCerts): login, the socket connects over
wss, and a message sent in the page reaches a python-socketio client over wss and back."""
import pathlib
import time
import uuid

import pytest
import requests
import socketio

from browser_support import DESKTOP, chromium_paths, find, login, require_browser, screenshot, send_message, wait_message
from ops_tls_support import ThrowawayCA, TLSSwitchboard


@pytest.fixture
def server(tmp_path: pathlib.Path, monkeypatch):
    require_browser()
    ca = ThrowawayCA(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.cert))
    s = TLSSwitchboard(ca)
    yield s
    s.stop()


@pytest.fixture
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    driver_path, browser_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--lang=en-US", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(arg)
    options.set_capability("acceptInsecureCerts", True)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    d.set_page_load_timeout(20)
    yield d
    d.quit()


def test_app_over_https_and_wss(server, driver):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    r = server.api("POST", "/rooms", ann["accessToken"], json={"name": f"tls-{uuid.uuid4().hex[:6]}", "kind": "public"})
    room = r.json()
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200

    session = requests.Session()
    session.verify = str(server.ca.cert)
    other = socketio.Client(reconnection=False, http_session=session)
    received = []
    other.on("message:new", lambda data, *rest: received.append(data))
    other.connect(server.url, auth={"token": bob["accessToken"]}, transports=["websocket"], wait_timeout=10)
    try:
        driver.get(server.url + "/")
        find(driver, "form#login-form")
        assert driver.execute_script("return location.protocol") == "https:"
        login(driver, ann["user"]["username"], "correct horse battery")  # waits for the socket: connected
        driver.get(server.url + f"/#/rooms/{room['id']}")
        find(driver, "#composer-input")
        send_message(driver, "hello over wss")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(m.get("body") == "hello over wss" for m in received):
            time.sleep(0.05)
        assert any(m.get("body") == "hello over wss" for m in received), received
        ack = other.call("message:send", {"roomId": room["id"], "body": "and back", "clientMsgId": "tls-b-1"}, timeout=10)
        assert ack["ok"] is True, ack
        wait_message(driver, "and back")
        screenshot(driver, "desktop-tls-room")
    finally:
        other.disconnect()
