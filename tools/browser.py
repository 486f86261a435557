"""The OS's Chromium, started headless and kept off the network.

Used to capture the MLflow UI screenshots (``tools.screenshots``) and by the tests that
show a lesson as slides. Chromium comes from the OS packages (``apt-get install chromium``
on Debian and Ubuntu; see "What you need" in README.md): nothing is downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Headless, and no background traffic: on a machine without internet Chromium would
# otherwise keep trying to reach its update and sync services.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PLACES = ("/Applications/Chromium.app/Contents/MacOS/Chromium",)


class ChromiumNotInstalled(RuntimeError):
    """No Chromium (or Chrome) executable was found."""


def chromium_path() -> Path:
    """Return the Chromium executable, or raise a message that says how to install it.

    Raises:
        ChromiumNotInstalled: When none of the usual executables is on the PATH.
    """
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    for place in PLACES:
        if Path(place).exists():
            return Path(place)
    raise ChromiumNotInstalled(
        "Chromium is not installed. Install the OS package `chromium` "
        "(Debian/Ubuntu: sudo apt-get install chromium; macOS: brew install --cask chromium), "
        "see 'What you need' in README.md."
    )
