"""Screenshots of the workbench for the docs (``make screenshots``): the mapping queue and a QC
case page, taken in headless Chromium from a workbench built exactly as the tests build it
(sample code systems, a run of samples/vendor-a, matcher candidates, one account per role).

Usage: python docs/screenshots.py [--out docs/screenshots]. Chinese text needs a CJK font
(Debian: fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hutong.web.app import Settings, create_app  # noqa: E402
from workbench import PASSWORD, _template  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bench = _template(Path(tempfile.mkdtemp(prefix="hutong-shots-")) / "workbench")
    app = create_app(Settings(store_url=bench.url, runs=bench.runs))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page.goto(f"{base}/queue")
        page.fill("input[name=username]", "rev1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#queue tbody tr.term.current")
        page.keyboard.press("1")
        page.wait_for_selector("#candidates tbody tr.candidate.picked")
        page.screenshot(path=str(args.out / "queue.png"), full_page=False)
        page.goto(f"{base}/runs/vendor-a")
        page.wait_for_selector("#qc-worklist tbody tr.finding.current")
        page.screenshot(path=str(args.out / "worklist.png"), full_page=False)
        page.keyboard.press("Enter")
        page.wait_for_selector("#qc-case")
        page.screenshot(path=str(args.out / "qc-case.png"), full_page=True)
        page.goto(f"{base}/dashboard")
        page.wait_for_selector("svg")
        page.screenshot(path=str(args.out / "dashboard.png"), full_page=True)
        browser.close()
    server.should_exit = True
    for name in ("queue", "worklist", "qc-case", "dashboard"):
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
