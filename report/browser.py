"""A report opened in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
driven by Selenium), with its console and every network request recorded: for the browser
tests and ``benchmarks/report.py``. Nothing is downloaded: the system browser is used."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver",)


def find(candidates: tuple[str, ...], name: str) -> str | None:
    for path in candidates:
        if Path(path).exists():
            return path
    return shutil.which(name)


def missing() -> str | None:
    """Why no browser test can run here (None: Chromium, its driver and Selenium are there)."""
    if find(CHROMIUM, "chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium chromium-driver)"
    if find(DRIVER, "chromedriver") is None:
        return "chromium-driver is not installed (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium session logging the console and the network (CDP performance log)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = find(CHROMIUM, "chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync", "--metrics-recording-only"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=find(DRIVER, "chromedriver") or "chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """Console messages at level SEVERE (errors, failed loads, CSP violations) since last asked."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since last asked (from the DevTools network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def remote(urls: list[str]) -> list[str]:
    """The URLs that would leave the machine (anything but the report's own files)."""
    return [u for u in urls if not u.startswith(("file://", "data:", "about:"))]
