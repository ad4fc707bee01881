"""Opens a report's index.html in headless Chromium (Debian's chromium) the way a person
would, over the DevTools protocol, and checks what they would see:

  - every <img> has loaded (naturalWidth > 0);
  - every <audio> has a source that decodes (its metadata loads: duration > 0, no error);
  - no console error, uncaught exception, error log entry or failed load;
and keeps a full-page screenshot (PNG).

    check_page.py INDEX_HTML --screenshot OUT.png [--chromium /usr/bin/chromium]

Prints a JSON summary; exits 0 when every check holds, 1 otherwise. A missing chromium or
websocket-client package fails with the command that installs it (never a skip).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

PAGE_JS = r"""
(async () => {
  const audios = [...document.querySelectorAll('audio')];
  await Promise.all(audios.map(a => new Promise(res => {
    if (a.readyState >= 1 || a.error) return res();
    a.addEventListener('loadedmetadata', res, {once: true});
    a.addEventListener('error', res, {once: true});
    a.load();
    setTimeout(res, 15000);
  })));
  const imgs = [...document.images];
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(res => {
    i.addEventListener('load', res, {once: true});
    i.addEventListener('error', res, {once: true});
    setTimeout(res, 15000);
  })));
  return JSON.stringify({
    title: document.title,
    images: imgs.map(i => ({src: i.getAttribute('src'), naturalWidth: i.naturalWidth})),
    audios: audios.map(a => ({src: a.getAttribute('src'), duration: a.duration,
                              error: a.error ? a.error.code : null, readyState: a.readyState})),
    partialBanners: document.querySelectorAll('.partial').length,
    text: document.body.innerText.length,
  });
})()
"""


def fail_missing(what: str, install: str) -> None:
    print(f"FAIL: the page check needs {what}.\n  Install: {install}\n"
          "  (tools/setup.sh installs it)", flush=True)
    sys.exit(1)


class Cdp:
    """A minimal DevTools protocol client over one page's websocket."""

    def __init__(self, url: str):
        import websocket
        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 60):
        end = time.time() + timeout
        for e in self.events:
            if e["method"] == method:
                return e
        while time.time() < end:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(method)


def launch(chromium: str, profile: str):
    proc = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--mute-audio",
         "--remote-debugging-port=0", "--remote-allow-origins=*",
         f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.time() + 60
    while time.time() < end:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        m = re.search(r"DevTools listening on (ws://[^\s]+)", line)
        if m:
            port = re.search(r":(\d+)/", m.group(1)).group(1)
            return proc, port
    proc.kill()
    raise RuntimeError("chromium did not start its DevTools endpoint")


def page_ws(port: str) -> str:
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                for t in json.load(r):
                    if t.get("type") == "page":
                        return t["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("no page target")


def problems_of(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console." + p["type"] + ": " +
                       " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif m == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:300])
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append("load failed: " + p.get("errorText", "") + " " + p.get("requestId", ""))
    return out


def check(index: str, screenshot: str, chromium: str) -> dict:
    profile = tempfile.mkdtemp(prefix="mgsweep-chromium-")
    proc, port = launch(chromium, profile)
    try:
        cdp = Cdp(page_ws(port))
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable")
        cdp.call("Page.navigate", url="file://" + os.path.abspath(index))
        cdp.wait_event("Page.loadEventFired")
        r = cdp.call("Runtime.evaluate", expression=PAGE_JS, awaitPromise=True,
                     returnByValue=True, timeout=60000)
        state = json.loads(r["result"]["value"])
        metrics = cdp.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = int(size["width"]), min(int(size["height"]), 16000)
        shot = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        with open(screenshot, "wb") as fh:
            fh.write(base64.b64decode(shot["data"]))
        time.sleep(0.2)
        cdp.call("Runtime.evaluate", expression="1")  # drains events that came meanwhile
        state["problems"] = problems_of(cdp.events)
        state["screenshot"] = os.path.abspath(screenshot)
        state["page_size"] = [width, height]
        return state
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def verdict(state: dict, min_images: int = 1, min_audio: int = 1) -> list[str]:
    bad = []
    if len(state["images"]) < min_images:
        bad.append(f"{len(state['images'])} images, expected at least {min_images}")
    if len(state["audios"]) < min_audio:
        bad.append(f"{len(state['audios'])} audio players, expected at least {min_audio}")
    bad += [f"image not loaded: {i['src']}" for i in state["images"] if not i["naturalWidth"] > 0]
    bad += [f"audio does not decode: {a['src']} (duration {a['duration']}, error {a['error']})"
            for a in state["audios"]
            if not (isinstance(a["duration"], (int, float)) and a["duration"] > 0) or a["error"]]
    bad += state["problems"]
    return bad


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("index")
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--min-images", type=int, default=1)
    ap.add_argument("--min-audio", type=int, default=1)
    a = ap.parse_args()
    try:
        import websocket  # noqa: F401
    except ModuleNotFoundError:
        fail_missing("the websocket-client package",
                     f"{os.path.dirname(sys.executable)}/pip install -r python/requirements.txt")
    if not os.path.exists(a.chromium):
        fail_missing("Debian's chromium", "apt-get update && apt-get install -y chromium")
    state = check(a.index, a.screenshot, a.chromium)
    bad = verdict(state, a.min_images, a.min_audio)
    print(json.dumps({"images": len(state["images"]), "audios": len(state["audios"]),
                      "problems": state["problems"], "screenshot": state["screenshot"],
                      "page_size": state["page_size"]}, indent=1))
    for b in bad:
        print("FAIL:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
