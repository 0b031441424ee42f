"""The report of `barlow demo` in a real browser (headless Chromium through
selenium): index.html, one group page and the --single-file variant load
from file: with nothing fetched from anywhere else, no error in the browser's
console, every image decoded, the failure trees drawn with one box per node
of results.json's trees, a screenshot that is not blank, a groups table that
sorts with JavaScript and is complete without it.

Skipped where the demo cannot run (no shipped models in models/ or
$BARLOW_MODELS, no Fashion-MNIST in /usr/share/datasets/fashion-mnist,
libbarlow without libtorch) or no browser is installed (Debian's chromium,
chromium-driver and python3-selenium; scripts/setup installs them)."""
import io
import json
import os
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from conftest import ROOT, run_cli

DATA = Path("/usr/share/datasets/fashion-mnist")
MODELS = Path(os.environ.get("BARLOW_MODELS") or ROOT / "models")
MODEL_FILES = ("fmnist_robust.pt", "fmnist_standard.pt", "fmnist_classes.txt")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Browser-log warnings that mean a resource did not load or was refused.
RESOURCE_WARNING = re.compile(r"Failed to load|net::ERR_|ERR_[A-Z_]{4,}|Refused to|"
                              r"Not allowed to load|Content.Security.Policy|blocked",
                              re.IGNORECASE)
# Attributes that make the browser fetch or navigate.
URL_ATTRS = ("src", "href", "srcset", "xlink:href", "action", "formaction", "poster",
             "data", "background", "ping", "manifest", "cite", "longdesc")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def webdriver_mod():
    """selenium's webdriver, skipping when the browser stack is absent."""
    try:
        from selenium import webdriver
    except ImportError:
        pytest.skip("selenium is not installed (python3-selenium)")
    if not CHROMEDRIVER.exists():
        pytest.skip(f"{CHROMEDRIVER} is absent (chromium-driver)")
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        pytest.skip("chromium is not installed")
    return webdriver


class Report:
    def __init__(self, multi, single):
        self.multi, self.single = multi, single
        self.results = json.loads((multi / "results.json").read_text(encoding="utf-8"))
        self.single_results = json.loads((single / "results.json").read_text(encoding="utf-8"))
        self.group = pick_group(self.results)


@pytest.fixture(scope="module")
def report(cli, webdriver_mod, tmp_path_factory):
    """`barlow demo` with 20 attack steps, then the same with --single-file
    in a copy of the run directory (reusing its features and panels)."""
    missing = [f for f in MODEL_FILES if not (MODELS / f).is_file()]
    if missing:
        pytest.skip(f"the shipped models are absent from {MODELS}: {', '.join(missing)}")
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        if not (DATA / f).is_file():
            pytest.skip(f"{DATA / f} is absent (dataset-fashion-mnist)")
    base = tmp_path_factory.mktemp("report")
    multi, single = base / "multi", base / "single"
    common = ("--attack-steps", "20", "--models", MODELS, "--data", DATA, "--quiet")
    rc, _, err = run_cli(cli, "demo", "--out", multi, *common, check=False)
    if "built without libtorch" in err:
        pytest.skip("libbarlow was built without libtorch")
    assert rc == 0, f"barlow demo --out {multi} exited {rc}: {err}"
    shutil.copytree(multi, single, symlinks=True)
    run_cli(cli, "demo", "--out", single, "--single-file", *common)
    assert not (single / "groups").exists(), "--single-file left group pages in the run directory"
    return Report(multi, single)


def new_driver(webdriver, profile, javascript=True):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1600", f"--user-data-dir={profile}",
              "--force-device-scale-factor=1", "--hide-scrollbars",
              # nothing may touch the network: any http(s) fetch fails (and is logged)
              "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
              "--disable-background-networking", "--disable-component-update",
              "--no-first-run", "--disable-sync", "--disable-default-apps"):
        opts.add_argument(a)
    if not javascript:
        opts.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_script_timeout(60)
    drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "media": "screen", "features": [{"name": "prefers-color-scheme", "value": "light"}]})
    return drv


@pytest.fixture(scope="module")
def driver(webdriver_mod, report):
    profile = tempfile.mkdtemp(prefix="barlow-chromium-")
    drv = new_driver(webdriver_mod, profile)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def nojs_driver(webdriver_mod, report):
    profile = tempfile.mkdtemp(prefix="barlow-chromium-nojs-")
    drv = new_driver(webdriver_mod, profile, javascript=False)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------- helpers

def gid(g):
    return f"{g['grouping']}-{g['class_id']}"


def analysis_of(results, g):
    for a in results["analysis"]["groups"]:
        if a["grouping"] == g["grouping"] and a["class"] == g["class_id"]:
            return a
    raise AssertionError(f"group {gid(g)} of results.json's groups is not in its analysis")


def trees_of(results, g):
    """The analysis results of g that have a fitted tree, in order."""
    return [r for r in analysis_of(results, g).get("results", [])
            if isinstance(r.get("tree"), dict) and r["tree"].get("nodes")]


def images_of(g):
    """The panel and sample PNGs results.json lists for group g."""
    out = []
    for d in g.get("depths", []):
        out += [f["panel"] for f in d.get("features") or [] if f.get("panel")]
        if d.get("samples"):
            out.append(d["samples"])
    return sorted(set(out))


def pick_group(results):
    """The label group with a valid deepest tree, panels and the highest
    best-leaf IV; else any group with a tree and panels."""
    best, best_key = None, None
    for g in results["groups"]:
        trees = trees_of(results, g)
        if not trees or not any(p.startswith("panels/") for p in images_of(g)):
            continue
        deepest = max(trees, key=lambda r: r["depth"])
        key = (g["grouping"] == "label", bool(deepest.get("valid")),
               deepest.get("best_importance") or 0.0)
        if best_key is None or key > best_key:
            best, best_key = g, key
    if best is None:
        pytest.fail("no group of results.json has both a tree and panels: "
                    f"{[gid(g) for g in results['groups']]}")
    return best


def visit(drv, path, javascript=True):
    """Opens path, lets every image load (scrolling each into view, as
    the report's images are loading=lazy) and returns the browser log."""
    from selenium.webdriver.support.ui import WebDriverWait
    drv.get_log("browser")  # drop what earlier pages left
    drv.get(Path(path).resolve().as_uri())
    WebDriverWait(drv, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    if javascript:
        drv.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const imgs = Array.from(document.images);
            let i = 0;
            (function step() {
              while (i < imgs.length && imgs[i].complete) i++;  // loaded or failed
              if (i >= imgs.length) { window.scrollTo(0, 0); done(imgs.length); return; }
              imgs[i++].scrollIntoView({block: 'center'});
              requestAnimationFrame(() => requestAnimationFrame(step));
            })();""")
    try:
        WebDriverWait(drv, 15, poll_frequency=0.1).until(lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete);"))
    except Exception:  # the images still loading are reported by image_problems
        pass
    return drv.get_log("browser")


def short(url):
    return url if len(url) <= 90 else url[:60] + "..." + url[-20:]


def log_problems(log):
    return [f"browser log {e['level']}: {e['message']}" for e in log
            if e["level"] == "SEVERE"
            or (e["level"] == "WARNING" and RESOURCE_WARNING.search(e["message"]))]


def image_problems(drv):
    imgs = drv.execute_script("""
        return Array.from(document.images).map(i => ({
          src: (s => s.length > 90 ? s.slice(0, 60) + '...' + s.slice(-20) : s)(
                 i.getAttribute('src') || ''),
          alt: i.getAttribute('alt') || '',
          complete: i.complete, nw: i.naturalWidth, nh: i.naturalHeight,
          w: i.getBoundingClientRect().width, h: i.getBoundingClientRect().height}));""")
    out = []
    for i in imgs:
        what = f"<img src={short(i['src'])!r} alt={i['alt']!r}>"
        if not i["complete"] or i["nw"] == 0:
            out.append(f"{what} did not load (complete={i['complete']}, "
                       f"naturalWidth={i['nw']})")
        elif i["w"] == 0 or i["h"] == 0:
            out.append(f"{what} is drawn {i['w']}x{i['h']} px")
        elif abs(i["w"] / i["h"] - i["nw"] / i["nh"]) > 0.02 * i["nw"] / i["nh"]:
            out.append(f"{what} is distorted: {i['nw']}x{i['nh']} px drawn as "
                       f"{i['w']:.0f}x{i['h']:.0f}")
    return imgs, out


def network_problems(drv):
    """Everything the page fetched came from file: or data: (performance
    entries; those that are not fetches, such as 'first-paint', have no
    URL), and no attribute or style names an http(s) URL."""
    out = []
    for kind, name in drv.execute_script(
            "return performance.getEntries().map(e => [e.entryType, e.name]);"):
        local = name.startswith(("file:", "data:")) or name == "about:blank"
        if not local and (kind in ("navigation", "resource")
                          or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", name)):
            out.append(f"the page fetched {short(name)} ({kind} entry)")
    for tag, attr, value in drv.execute_script("""
        const names = new Set(arguments[0]), bad = [];
        for (const el of document.querySelectorAll('*')) {
          for (const a of el.attributes) {
            const v = a.value;
            if ((names.has(a.name.toLowerCase()) && /https?:\\/\\//i.test(v)) ||
                (a.name === 'style' && /url\\(\\s*['"]?\\s*https?:/i.test(v)))
              bad.push([el.tagName, a.name, v.slice(0, 120)]);
          }
        }
        for (const s of document.querySelectorAll('style'))
          if (/url\\(\\s*['"]?\\s*https?:|@import/i.test(s.textContent))
            bad.push(['STYLE', 'text', s.textContent.match(/(url\\([^)]*\\)|@import[^;]*)/i)[0]]);
        return bad;""", list(URL_ATTRS)):
        out.append(f"<{tag.lower()} {attr}={value!r}> names a remote URL")
    return out


def screenshot_problems(drv, what):
    from PIL import Image
    png = drv.get_screenshot_as_png()
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int64)
    colours = len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))
    std = float(rgb.std())
    if colours <= 50 or std < 8:
        return [f"the screenshot of {what} ({rgb.shape[1]}x{rgb.shape[0]}) looks blank: "
                f"{colours} distinct colours, standard deviation {std:.1f}"]
    return []


def page_problems(drv, path, what):
    """Loads path and returns what is wrong with it, one line each."""
    log = visit(drv, path)
    _, imgs = image_problems(drv)
    return ([f"{what}: {p}" for p in log_problems(log)] +
            [f"{what}: {p}" for p in imgs] +
            [f"{what}: {p}" for p in network_problems(drv)] +
            screenshot_problems(drv, what))


def tree_problems(drv, results, g, scope_id=None):
    """The tree SVGs of group g (in the element scope_id, else the whole
    page): one per fitted tree, drawn, one node box per node."""
    trees = trees_of(results, g)
    svgs = drv.execute_script("""
        const root = arguments[0] ? document.getElementById(arguments[0]) : document;
        if (!root) return null;
        return Array.from(root.querySelectorAll('svg')).filter(s => s.querySelector('.node'))
          .map(s => { const r = s.getBoundingClientRect();
            const nodes = Array.from(s.querySelectorAll('.node'));
            return {w: r.width, h: r.height, nodes: nodes.length,
                    boxes: s.querySelectorAll('.node rect.box').length,
                    empty: nodes.filter(n => { const b = n.getBoundingClientRect();
                                              return !(b.width > 0 && b.height > 0); }).length,
                    title: (s.querySelector('title') || {}).textContent || ''}; });""",
                             scope_id)
    where = f"group {gid(g)}" + (f" (element #{scope_id})" if scope_id else "")
    if svgs is None:
        return [f"{where}: the page has no element with id {scope_id!r}"]
    if len(svgs) != len(trees):
        return [f"{where}: {len(svgs)} tree <svg> elements with node boxes, but results.json "
                f"has {len(trees)} trees (depths {[r['depth'] for r in trees]})"]
    out = []
    for s, r in zip(svgs, trees):
        n = len(r["tree"]["nodes"])
        name = f"{where}, tree of depth {r['depth']} ({s['title']!r})"
        if not (s["w"] > 0 and s["h"] > 0):
            out.append(f"{name}: the <svg> is drawn {s['w']}x{s['h']} px")
        if s["nodes"] != n or s["boxes"] != n:
            out.append(f"{name}: {s['nodes']} node groups with {s['boxes']} boxes in the "
                       f"SVG, {n} nodes in results.json")
        if s["empty"]:
            out.append(f"{name}: {s['empty']} node boxes have an empty bounding box")
    return out


class Tables(HTMLParser):
    """The tables of a page: per table its class, header cells and body
    rows (each the list of its cells' texts and the hrefs inside)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.ids, self.links, self.stack = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for k in ("href", "src"):
            if a.get(k):
                self.links.append((tag, k, a[k]))
        if tag == "table":
            self.stack.append({"class": a.get("class", ""), "head": [], "rows": [],
                               "section": None, "row": None, "cell": None})
        elif not self.stack:
            return
        t = self.stack[-1]
        if tag in ("thead", "tbody", "tfoot"):
            t["section"] = tag
        elif tag == "tr":
            t["row"] = {"cells": [], "hrefs": []}
        elif tag in ("td", "th") and t["row"] is not None:
            t["cell"] = []
        elif tag == "a" and t["row"] is not None and a.get("href"):
            t["row"]["hrefs"].append(a["href"])

    def handle_data(self, data):
        if self.stack and self.stack[-1]["cell"] is not None:
            self.stack[-1]["cell"].append(data)

    def handle_endtag(self, tag):
        if not self.stack:
            return
        t = self.stack[-1]
        if tag in ("td", "th") and t["cell"] is not None and t["row"] is not None:
            t["row"]["cells"].append("".join(t["cell"]).strip())
            t["cell"] = None
        elif tag == "tr" and t["row"] is not None:
            if t["section"] == "thead":
                t["head"] = t["row"]["cells"]
            else:
                t["rows"].append(t["row"])
            t["row"] = None
        elif tag == "table":
            self.tables.append(self.stack.pop())


def parse(path):
    p = Tables()
    p.feed(Path(path).read_text(encoding="utf-8"))
    p.close()
    return p


def group_link(g, single):
    return f"#{gid(g)}" if single else g["page"]


def groups_table(page, results, single, what):
    """The table of page that links to the groups; asserts it has one row
    per group of results.json, each linking to its group once."""
    links = {group_link(g, single): gid(g) for g in results["groups"]}
    tables = [t for t in page.tables if any(h in links for r in t["rows"] for h in r["hrefs"])]
    assert len(tables) == 1, (f"{what}: {len(tables)} tables link to the group pages "
                              f"({sorted(links)[:3]}...), expected 1")
    t = tables[0]
    found = [h for r in t["rows"] for h in r["hrefs"] if h in links]
    problems = []
    if len(t["rows"]) != len(results["groups"]):
        problems.append(f"{len(t['rows'])} body rows for {len(results['groups'])} groups")
    for h, name in links.items():
        if found.count(h) != 1:
            problems.append(f"group {name}: its link {h!r} is in {found.count(h)} rows")
    for i, r in enumerate(t["rows"]):
        if t["head"] and len(r["cells"]) != len(t["head"]):
            problems.append(f"row {i} ({r['cells'][:2]}) has {len(r['cells'])} cells "
                            f"for {len(t['head'])} headers")
    assert not problems, f"{what}, groups table without JavaScript:\n  " + "\n  ".join(problems)
    return t


def column(drv, col):
    """The groups table's column col as numbers (data-sort, else the text),
    None for an empty or non-numeric cell, and each row's identity."""
    rows = drv.execute_script("""
        const t = document.querySelector('table.__barlow_groups');
        return Array.from(t.tBodies[0].rows).map(r => {
          const c = r.cells[arguments[0]];
          const v = c.getAttribute('data-sort');
          return [v === null ? c.textContent.trim() : v, r.id || r.textContent.trim()];});""",
                             col)
    vals = []
    for v, _ in rows:
        try:
            vals.append(float(v.replace("%", "").replace("+", "").replace("\u2212", "-")))
        except ValueError:
            vals.append(None)
    return vals, [ident for _, ident in rows]


def mark_groups_table(drv, results, single):
    """Tags the table that links to the groups with a class to find it by;
    returns its header texts."""
    links = [group_link(g, single) for g in results["groups"]]
    heads = drv.execute_script("""
        const links = new Set(arguments[0]);
        for (const t of document.querySelectorAll('table'))
          if (Array.from(t.querySelectorAll('tbody a'))
                   .some(a => links.has(a.getAttribute('href')))) {
            t.classList.add('__barlow_groups');
            return Array.from(t.tHead.rows[0].cells).map(c => c.textContent.trim());
          }
        return null;""", links)
    assert heads, "no table of index.html links to the group pages"
    return heads


def is_sorted(vals, descending):
    nums = [v for v in vals if v is not None]
    tail_ok = all(v is None for v in vals[len(nums):])  # empty cells last
    pairs = zip(nums, nums[1:])
    return tail_ok and all((a >= b) if descending else (a <= b) for a, b in pairs)


def fail_on(problems, what):
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- tests

def test_overview_loads_offline_without_errors(driver, report):
    fail_on(page_problems(driver, report.multi / "index.html", "index.html"),
            f"{report.multi / 'index.html'} in Chromium")


def test_group_page_trees_and_panels(driver, report):
    g = report.group
    page = report.multi / g["page"]
    overview = parse(report.multi / "index.html")
    assert any(h == g["page"] for _, k, h in overview.links if k == "href"), \
        f"index.html does not link to the group page {g['page']}"
    problems = page_problems(driver, page, g["page"])
    problems += tree_problems(driver, report.results, g)
    srcs = driver.execute_script(
        "return Array.from(document.images).map(i => i.getAttribute('src'));")
    for png in images_of(g):
        if not any(s.endswith(png) for s in srcs if s):
            problems.append(f"{g['page']}: results.json's {png} is not shown "
                            f"(the page's images: {srcs})")
    fail_on(problems, f"{page} in Chromium")


def test_single_file_report(driver, report):
    index = report.single / "index.html"
    g = report.group
    problems = page_problems(driver, index, "index.html (--single-file)")
    srcs = driver.execute_script(
        "return Array.from(document.images).map(i => i.getAttribute('src') || '');")
    problems += [f"--single-file: <img src={short(s)!r}> is not a data: URI"
                 for s in srcs if not s.startswith("data:")]
    page = parse(index)
    external = sorted({v for _, k, v in page.links
                       if k == "src" and not v.startswith(("data:", "#"))}
                      | {v for t, k, v in page.links if t == "link" and k == "href"})
    problems += [f"--single-file: index.html loads the file {v!r}" for v in external]
    if gid(g) not in page.ids:
        problems.append(f"--single-file: index.html has no section with id {gid(g)!r}")
    else:
        problems += tree_problems(driver, report.single_results, g, scope_id=gid(g))
        n = driver.execute_script(
            "return document.getElementById(arguments[0]).querySelectorAll('img').length;",
            gid(g))
        if n < len(images_of(g)):
            problems.append(f"--single-file: the section #{gid(g)} shows {n} images, "
                            f"results.json lists {len(images_of(g))}: {images_of(g)}")
    fail_on(problems, f"{index} in Chromium")


def test_every_group_page_loads(driver, report):
    problems = []
    for g in report.results["groups"]:
        if g is report.group:
            continue
        log = visit(driver, report.multi / g["page"])
        _, imgs = image_problems(driver)
        problems += [f"{g['page']}: {p}"
                     for p in log_problems(log) + imgs + network_problems(driver)]
    fail_on(problems, "the group pages in Chromium")


def test_links_resolve(report):
    """Every local link of the report names a file that exists and an id
    that the target page has."""
    problems = []
    pages = [report.multi / "index.html"] + [report.multi / g["page"]
                                              for g in report.results["groups"]]
    pages.append(report.single / "index.html")
    parsed = {p.resolve(): parse(p) for p in pages}
    for p, page in parsed.items():
        for tag, k, v in page.links:
            if v.startswith("data:") or re.match(r"[a-z]+:", v):
                continue  # remote URLs are the browser tests' business
            u = urlsplit(v)
            target = (p.parent / unquote(u.path)).resolve() if u.path else p
            where = f"{p.relative_to(p.parents[1])}: <{tag} {k}={short(v)!r}>"
            if not target.exists():
                problems.append(f"{where}: {target} does not exist")
            elif u.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if u.fragment not in ids:
                    problems.append(f"{where}: {target.name} has no id {u.fragment!r}")
    fail_on(problems, "links of the report")


@pytest.mark.parametrize("variant", ["multi", "single"])
def test_groups_table_complete_without_javascript(report, variant):
    single = variant == "single"
    d = report.single if single else report.multi
    groups_table(parse(d / "index.html"), report.results, single, f"{d / 'index.html'}")


def test_groups_table_sorts_with_javascript(driver, report):
    log = visit(driver, report.multi / "index.html")
    fail_on(log_problems(log), "index.html")
    heads = mark_groups_table(driver, report.results, single=False)
    want = [i for i, h in enumerate(heads) if h.strip().upper() == "IV"]
    cols = want + [i for i in range(len(heads)) if i not in want]
    col = None
    for i in cols:  # the IV column, else the first numeric one not already sorted
        vals, _ = column(driver, i)
        nums = [v for v in vals if v is not None]
        if len(nums) >= 3 and not is_sorted(vals, False) and not is_sorted(vals, True):
            col = i
            break
    assert col is not None, f"no numeric unsorted column in the groups table: {heads}"
    before, rows_before = column(driver, col)
    headers = driver.find_elements("css selector", "table.__barlow_groups thead th")
    headers[col].click()
    first, rows_first = column(driver, col)
    assert sorted(rows_first) == sorted(rows_before), \
        f"sorting by {heads[col]!r} changed the set of rows: {rows_before} -> {rows_first}"
    assert first != before, f"clicking the header {heads[col]!r} did not reorder {before}"
    desc = not is_sorted(first, False)
    assert is_sorted(first, desc), \
        f"after one click on {heads[col]!r} the column is not sorted: {first}"
    headers[col].click()
    second, _ = column(driver, col)
    assert is_sorted(second, not desc) and second != first, \
        f"a second click on {heads[col]!r} did not reverse the order: {first} -> {second}"


@pytest.mark.parametrize("variant", ["multi", "single"])
def test_overview_without_javascript(nojs_driver, report, variant):
    single = variant == "single"
    index = (report.single if single else report.multi) / "index.html"
    what = f"{index} with JavaScript disabled"
    log = visit(nojs_driver, index, javascript=False)
    problems = log_problems(log)
    imgs, bad = image_problems(nojs_driver)
    problems += bad
    if single and not imgs:
        problems.append("the --single-file overview shows no images")
    heads = mark_groups_table(nojs_driver, report.results, single)
    rows = nojs_driver.find_elements("css selector", "table.__barlow_groups tbody tr")
    if len(rows) != len(report.results["groups"]):
        problems.append(f"{len(rows)} rows in the groups table for "
                        f"{len(report.results['groups'])} groups")
    hidden = nojs_driver.execute_script("""
        return Array.from(document.querySelectorAll('table.__barlow_groups tbody tr'))
          .filter(r => { const b = r.getBoundingClientRect();
                         return !(b.width > 0 && b.height > 0) ||
                                getComputedStyle(r).visibility !== 'visible'; })
          .map(r => r.textContent.trim().slice(0, 40));""")
    if hidden:
        problems.append(f"{len(hidden)} rows of the groups table are not displayed: {hidden}")
    # Without JavaScript a click on a header changes nothing (and JS is really off).
    before = column(nojs_driver, 2)
    nojs_driver.find_elements("css selector", "table.__barlow_groups thead th")[2].click()
    if column(nojs_driver, 2) != before:
        problems.append(f"clicking {heads[2]!r} reordered the table: is JavaScript on?")
    problems += screenshot_problems(nojs_driver, what)
    fail_on(problems, what)
