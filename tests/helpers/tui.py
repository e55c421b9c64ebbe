"""Helpers for the app's tests: run async Pilot scenarios without an asyncio pytest plugin."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Callable


def asynctest(fn):
    """Run an ``async def`` test with asyncio.run (pytest sees the wrapped signature's fixtures)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 60.0, step: float = 0.05) -> None:
    """Let the app run until ``condition()`` holds (workers report asynchronously)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        await pilot.pause(step)
    await asyncio.sleep(0)


async def type_into(pilot, selector: str, text: str) -> None:
    """Clear the Input at ``selector`` and type ``text`` into it key by key, as a person would."""
    from textual.widgets import Input

    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await pilot.pause()
