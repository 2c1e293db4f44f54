"""Fixtures every interop test file gets: `server` (one Switchboard on a fresh SQLite data
directory per module) and `browser` (opens headless Chromium windows for a test, printing
their console and closing them after it)."""
import pytest

from browser_support import DESKTOP, make_driver, require_browser
from switchboard_fixture import Switchboard


@pytest.fixture(scope="module")
def server():
    s = Switchboard()
    yield s
    s.stop()


@pytest.fixture
def browser():
    """`browser(size=DESKTOP)` opens a Chromium window (skipped, or failed under CI=true, when
    Chromium or Selenium is missing)."""
    require_browser()
    drivers = []

    def open_browser(size=DESKTOP):
        driver = make_driver(size)
        drivers.append(driver)
        return driver

    yield open_browser
    for driver in drivers:
        try:
            for entry in driver.get_log("browser"):
                print(f"console {entry['level']}: {entry['message']}")
        finally:
            driver.quit()
