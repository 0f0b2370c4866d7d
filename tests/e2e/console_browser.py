"""Browser helpers for the console's tests: Debian's Chromium driven by Playwright, the
screenshots CI keeps, and the check that a chart really drew something."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
VIEWPORT = {"width": 1280, "height": 800}


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium (no browser can be downloaded here); fails saying how to get it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium with "
            "`apt-get install -y chromium` (CI's .ci/run does)"
        )
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])


def screenshot(page: Any, name: str) -> Path:
    """A 1280x800 screenshot under tests/artifacts/console/ (kept by CI)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


# Counts the chart canvas's painted pixels: uPlot draws series on a <canvas>, and a chart
# with no data (or one that failed to draw) leaves only axes, or nothing at all.
_PAINTED = """(id) => {
  const state = (window.consoleCharts || {})[id];
  const canvas = document.querySelector('#' + id + ' canvas');
  if (!state || !canvas) return {points: 0, max: 0, painted: 0};
  const ctx = canvas.getContext('2d');
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) painted++;
  return {points: state.points, max: state.max, painted: painted};
}"""


def wait_chart_drawn(page: Any, chart_id: str, timeout_ms: float = 30_000) -> dict[str, Any]:
    """Wait until the chart holds at least two samples with a non-zero value, then check
    that its canvas has painted pixels; fails (with what it saw) when the chart is empty."""
    page.wait_for_function(
        "(id) => { const s = (window.consoleCharts || {})[id];"
        " return !!s && s.points >= 2 && s.max > 0; }",
        arg=chart_id,
        timeout=timeout_ms,
    )
    seen: dict[str, Any] = page.evaluate(_PAINTED, chart_id)
    assert seen["points"] >= 2 and seen["max"] > 0, f"chart {chart_id} has no data: {seen}"
    assert seen["painted"] > 0, f"chart {chart_id} drew nothing on its canvas: {seen}"
    return seen


def wait_until(page: Any, condition: Callable[[], bool], what: str, within_s: float) -> None:
    """Poll a Python-side condition (e.g. a page fetched with the session's cookie) every
    half second, bounded; fails naming what never held. (An async predicate given to
    page.wait_for_function would not do: its promise counts as true at once.)"""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s:g} s waiting for {what}")
        page.wait_for_timeout(500)
