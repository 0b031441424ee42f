#!/usr/bin/python3
"""Full-page screenshots of a barlow run's HTML report, for looking at its
layout without a desktop.

    tools/screenshot_report.py DIR OUTDIR [--group ID] [--width 1280]
                               [--max-height 4000] [--theme light|dark]

writes OUTDIR/report-overview.png (DIR/index.html) and OUTDIR/report-group.png
(one group's page): by default the label group whose deepest tree has a valid
best leaf with the highest importance value (IV) and whose rule has panels,
read from DIR/results.json; --group label-6 (or prediction-3, ...) picks one.
A --single-file report has no group pages: its group's section of index.html
is captured instead.

Each page is drawn by headless Chromium (Debian's chromium and
chromium-driver, python3-selenium) in a viewport WIDTH pixels wide and as
tall as the page (at most MAX_HEIGHT; a longer page is cut), after every
image has loaded. Nothing is fetched from the network. Prints the paths it
wrote. Exit status: 0 success, 1 error, 2 bad usage.
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

CHROMEDRIVER = "/usr/bin/chromedriver"


def fail(msg):
    print(f"screenshot_report: {msg}", file=sys.stderr)
    sys.exit(1)


def pick_group(results, want=None):
    """The report group to capture: (results.json group, analysis result of
    its deepest tree), by id ("label-6") or the most informative one."""
    analysis = {(g["grouping"], g["class"]): g for g in results["analysis"]["groups"]}
    best, best_key = None, None
    for g in results["groups"]:
        gid = f"{g['grouping']}-{g['class_id']}"
        a = analysis.get((g["grouping"], g["class_id"]), {})
        res = [r for r in a.get("results", []) if r.get("tree")]
        deepest = max(res, key=lambda r: r["depth"]) if res else None
        if want is not None:
            if gid == want:
                return g, deepest
            continue
        if deepest is None or g["grouping"] != "label" or not deepest.get("valid"):
            continue
        shown = [d for d in g.get("depths", []) if d["depth"] == deepest["depth"]]
        if not shown or not any(f.get("panel") for f in shown[0].get("features") or []):
            continue
        key = (deepest["depth"] >= 2, deepest.get("best_importance") or 0.0)
        if best_key is None or key > best_key:
            best, best_key = (g, deepest), key
    if want is not None:
        fail(f"no group {want!r} in the report (ids such as label-0, prediction-3)")
    if best is None:  # nothing valid with panels: the first group
        if not results["groups"]:
            fail("the report shows no groups")
        g = results["groups"][0]
        return g, None
    return best


def make_driver(width, theme):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        fail("python3-selenium is not installed (apt-get install python3-selenium)")
    if not Path(CHROMEDRIVER).exists() or not shutil.which("chromium"):
        fail("chromium and chromium-driver are not installed "
             "(apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="barlow-shot-")
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--hide-scrollbars", "--force-device-scale-factor=1",
              f"--window-size={width},1600", f"--user-data-dir={profile}",
              "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "media": "screen",
        "features": [{"name": "prefers-color-scheme", "value": theme}]})
    return drv, profile


def set_viewport(drv, width, height):
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def wait_images(drv, timeout=20.0):
    """Waits until every <img> in the viewport has loaded (lazy images
    outside it may not start); returns the ones that did not."""
    js = """
    const vh = window.innerHeight, out = [];
    for (const i of document.images) {
      const r = i.getBoundingClientRect();
      if (r.bottom < 0 || r.top > vh) continue;
      if (!i.complete || i.naturalWidth === 0) out.push((i.getAttribute('src') || '').slice(0, 80));
    }
    return out;"""
    end = time.monotonic() + timeout
    while True:
        left = drv.execute_script(js)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


def shoot(drv, url, out, width, max_height, anchor=None):
    """Loads url; captures from the element with id anchor (or the top)
    down to the page's end, at most max_height pixels, into out."""
    set_viewport(drv, width, 1600)
    drv.get(url)
    drv.execute_script("return document.fonts ? document.fonts.ready : null")
    top, height = drv.execute_script("""
      const a = arguments[0] ? document.getElementById(arguments[0]) : null;
      const full = Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);
      if (!a) return [0, full];
      const r = a.getBoundingClientRect(), y = r.top + window.scrollY;
      return [Math.floor(y), Math.ceil(r.height)];""", anchor)
    if anchor and height == 0:
        fail(f"{url}: no element with id {anchor!r}")
    height = max(200, min(int(height), max_height))
    set_viewport(drv, width, height)
    drv.execute_script("window.scrollTo(0, arguments[0]);", top)
    time.sleep(0.2)  # a frame for the lazy images now in the viewport to start
    broken = wait_images(drv)
    for src in broken:
        print(f"screenshot_report: warning: {url}: image {src} did not load", file=sys.stderr)
    drv.execute_script("window.scrollTo(0, arguments[0]);", top)
    time.sleep(0.1)
    out.write_bytes(drv.get_screenshot_as_png())
    print(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path, help="the run directory (barlow run --out DIR)")
    ap.add_argument("outdir", type=Path, help="where the PNGs go (created)")
    ap.add_argument("--group", help="the group to capture, e.g. label-6 or prediction-3")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--max-height", type=int, default=4000)
    ap.add_argument("--theme", choices=("light", "dark"), default="light")
    args = ap.parse_args()

    index = args.dir / "index.html"
    if not index.is_file():
        fail(f"{index} does not exist (is {args.dir} a barlow run directory?)")
    try:
        results = json.loads((args.dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"cannot read {args.dir / 'results.json'}: {e}")
    group, _ = pick_group(results, args.group)
    gid = f"{group['grouping']}-{group['class_id']}"
    page = args.dir / group["page"] if group.get("page") else None
    args.outdir.mkdir(parents=True, exist_ok=True)

    drv, profile = make_driver(args.width, args.theme)
    try:
        shoot(drv, index.resolve().as_uri(), args.outdir / "report-overview.png",
              args.width, args.max_height)
        if page is not None and page.is_file():
            shoot(drv, page.resolve().as_uri(), args.outdir / "report-group.png",
                  args.width, args.max_height)
        else:  # --single-file: the group's section of index.html
            shoot(drv, index.resolve().as_uri() + "#" + gid, args.outdir / "report-group.png",
                  args.width, args.max_height, anchor=gid)
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
