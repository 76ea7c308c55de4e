"""The reliability tests' apps whose writes really commit (tests/live.py)."""

from tests.live import LiveApp, OpenApp, live_app

__all__ = ["LiveApp", "OpenApp", "live_app"]
