"""Take the README screenshots from a running demo (scripts/run.sh), headless Chromium.

    python3 scripts/screenshots.py [base_url]

Logs in as admin/admin and saves PNGs into static/description/screenshots/.
MC_SHOTS is a JSON list of [path after /odoo/, file name, optional CSS selector to click first].
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import requests
import websocket

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8069"
OUT = os.path.join(os.path.dirname(__file__), "..", "static", "description", "screenshots")


def cdp_session():
    profile = tempfile.mkdtemp(prefix="mc-chrome-")
    port = 9333
    proc = subprocess.Popen(
        [
            shutil.which("chromium") or "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "--remote-debugging-address=127.0.0.1",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _i in range(100):
        try:
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
            page = next(t for t in targets if t["type"] == "page")
            return proc, websocket.create_connection(page["webSocketDebuggerUrl"])
        except Exception:  # noqa: BLE001 - Chromium still starting
            time.sleep(0.1)
    raise RuntimeError("Chromium did not start")


class Page:
    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def shot(self, url, name, wait=6.0, click=None):
        self.send("Page.navigate", url=url)
        time.sleep(wait)
        if click:
            self.send(
                "Runtime.evaluate",
                expression=f"document.querySelector({json.dumps(click)}).click()",
            )
            time.sleep(3)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(base64.b64decode(data))
        print("saved", name)


def main():
    os.makedirs(OUT, exist_ok=True)
    session = requests.Session()
    login = session.get(f"{BASE}/web/login")
    token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    session.post(
        f"{BASE}/web/login", data={"login": "admin", "password": "admin", "csrf_token": token}
    )
    sid = session.cookies.get("session_id")
    proc, ws = cdp_session()
    try:
        page = Page(ws)
        page.send("Network.enable")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=1400,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        page.send("Network.setCookie", name="session_id", value=sid, domain="127.0.0.1", path="/")
        page.shot(f"{BASE}/odoo", "warmup.png", wait=25)
        os.unlink(os.path.join(OUT, "warmup.png"))
        for path, name, *click in json.loads(os.environ.get("MC_SHOTS", "[]")):
            page.shot(f"{BASE}/odoo/{path}", name, click=click[0] if click else None)
    finally:
        ws.close()
        proc.terminate()


if __name__ == "__main__":
    main()
