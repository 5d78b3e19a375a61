"""End to end in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), on loopback."""
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture()
def page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        yield browser.new_page()
        browser.close()


def test_search_filter_open_article_and_related(page, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(live_server + "/")
    assert page.evaluate("document.activeElement.id") == "q"  # autofocus
    page.keyboard.type("phòng chống thiên tai")
    with page.expect_navigation():  # the old page's hits must not answer the wait
        page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    assert "q=ph%C3%B2ng" in page.url  # the query lives in the URL
    first = page.locator("li.hit h2 a").first.inner_text()
    assert "thiên tai" in first.lower()
    assert page.locator("li.hit mark").count() > 0
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)

    with page.expect_navigation():
        page.locator("nav.years a", has_text="2021").click()  # the year chart filters
    page.wait_for_selector("li.hit")
    assert "from=2021-01-01" in page.url
    dates = page.locator("li.hit p.meta").all_inner_texts()
    assert dates and all("/2021" in d for d in dates)

    page.locator("li.hit h2 a").first.click()
    page.wait_for_selector("article.full h1")
    assert page.locator("p.match").count() >= 1 and page.locator("article.full mark").count() > 0
    assert page.locator("aside.related li").count() >= 3
    page.screenshot(path=str(ARTIFACTS / "article.png"), full_page=True)
    page.go_back()
    page.wait_for_selector("li.hit")
    assert "from=2021-01-01" in page.url  # the back button returns to the filtered results


def test_phone_width_layout(page, live_server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/?q=bầu+cử")
    page.wait_for_selector("li.hit")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)


def test_filters_wait_for_apply_and_the_page_has_its_heading(page, live_server):
    """Arrow keys on a select once reloaded the page at each step (WCAG 3.2.2): now nothing changes
    until "Áp dụng". The page has its <h1>, the counts are a polite status, and with a query shown the
    box does not take the focus from the skip link."""
    page.goto(live_server + "/?q=thiên+tai")
    page.wait_for_selector("li.hit")
    assert page.locator("h1").count() == 1 and page.locator("#summary[role=status]").count() == 1
    assert page.evaluate("document.activeElement.id") != "q"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    before = page.url
    page.locator("details.filter-box > summary").click()  # "Bộ lọc": closed while no filter is set
    page.locator("select[name=sort]").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    assert page.url == before
    with page.expect_navigation():
        page.locator("button.apply").click()
    page.wait_for_selector("li.hit")
    assert "sort=date" in page.url and "from=" not in page.url  # applied, and no empty fields in the URL


def test_a_phone_sees_the_first_result_without_scrolling_and_can_tap_it(page, live_server):
    """At 390×844 the filters sit behind "Bộ lọc" (closed while none is set), the first result starts
    inside the screen, an open explanation scrolls inside its box, and tap targets are 24 px."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/?q=phòng+chống+thiên+tai+2021&explain=true")
    page.wait_for_selector("li.hit")
    assert page.locator("details.filter-box").get_attribute("open") is None
    assert page.locator("li.hit").first.bounding_box()["y"] < 844
    page.locator("details.why summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for selector in ("li.hit p.meta a", "details.filter-box > summary"):
        assert page.locator(selector).first.bounding_box()["height"] >= 24, selector
    page.locator("details.filter-box > summary").click()
    assert page.locator("input[name=collapse]").bounding_box()["height"] >= 24
    page.goto(live_server + "/?q=bão&sort=date")
    assert page.locator("details.filter-box").get_attribute("open") is not None  # a filter is set: shown


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SCREENS = {"desktop": (1280, 900), "phone": (390, 844)}


def axe_violations(page) -> list[str]:
    """What axe-core (WCAG 2.1 AA and best practices) finds on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}}).response["violations"]
    return [f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})" for v in found]


@pytest.mark.parametrize("screen", SCREENS)
def test_axe_finds_nothing_on_any_page_at_either_width(page, live_server, screen):
    """The search page (start, suggestions open, results, an explanation open, the empty state), an
    article, and the error page, at desktop and phone widths; each screenshot kept for docs/."""
    width, height = SCREENS[screen]
    page.set_viewport_size({"width": width, "height": height})
    article = page.request.get(live_server + "/api/search?q=bão+số+5").json()["results"][0]["id"]
    views = {
        "start": "/",
        "results": "/?q=phòng+chống+thiên+tai+2021",
        "explain": "/?q=phòng+chống+thiên+tai+2021&explain=true",
        "empty": "/?q=xyzzy&source=phulam.example.gov.vn",
        "article": f"/articles/{article}?q=bão+số+5",
        "error": "/?q=bão&per_page=99",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    found = {}
    for name, path in views.items():
        page.goto(live_server + path)
        if name == "explain":
            page.locator("details.why summary").first.click()
        found[name] = axe_violations(page)
        if name == "start":  # and with the suggestions open
            page.locator("#q").type("phong c", delay=20)
            page.wait_for_selector("#q-list [role=option]")
            page.keyboard.press("ArrowDown")
            found["suggestions"] = axe_violations(page)
            page.screenshot(path=str(ARTIFACTS / f"suggestions-{screen}.png"))
        page.screenshot(path=str(ARTIFACTS / f"{name}-{screen}.png"))  # what the screen shows
    assert not any(found.values()), found


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focus is on `selector`; fails when it never gets there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_keyboard_alone_searches_filters_reads_and_returns(page, live_server):
    """No mouse: type a query, skip to the content, open the filters, sort by date, apply, open a
    result and come back to the same search. Every Tab moves forward in the page's own order."""
    page.goto(live_server + "/")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")  # autofocus, not a click
    page.keyboard.type("phòng chống thiên tai")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    assert "q=ph%C3%B2ng" in page.url  # every keystroke reached the box
    follows = []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.wait_for_url("**#main")  # the same-document jump reaches page.url a moment later
    page.evaluate("window.previous = document.activeElement")
    for _ in range(25):  # each Tab lands after the element before it
        page.keyboard.press("Tab")
        follows.append(page.evaluate("""() => { const now = document.activeElement;
            const after = !!(window.previous.compareDocumentPosition(now) & Node.DOCUMENT_POSITION_FOLLOWING);
            window.previous = now; return after; }"""))
    assert all(follows), follows
    page.goto(page.url.split("#")[0])
    tab_to(page, "details.filter-box > summary")
    page.keyboard.press("Enter")
    tab_to(page, "select[name=sort]")
    page.keyboard.press("ArrowDown")
    tab_to(page, "button.apply")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    assert "sort=date" in page.url
    tab_to(page, "li.hit h2 a")
    page.keyboard.press("Enter")
    page.wait_for_selector("article.full h1")
    tab_to(page, "p.back a")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    assert "sort=date" in page.url and "q=ph%C3%B2ng" in page.url


def test_suggestions_as_you_type_are_a_combobox_the_keyboard_drives(page, live_server):
    """Typing without diacritics lists completions from the archive; the focus stays in the box,
    ArrowDown marks one (aria-activedescendant), Escape closes the list, Enter searches the one
    marked; a portal is chosen as its filter. axe finds nothing with the list open."""
    page.goto(live_server + "/")
    box = page.locator("#q")
    box.type("thien t", delay=30)
    page.wait_for_selector("#q-list [role=option]")
    assert box.get_attribute("role") == "combobox" and box.get_attribute("aria-expanded") == "true"
    options = page.locator("#q-list [role=option]").all_inner_texts()
    assert options[0] == "thiên tai", options
    assert "gợi ý" in page.locator("#q-status").inner_text()
    page.keyboard.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "q-option-0"
    assert page.locator("#q-option-0").get_attribute("aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Escape")
    assert page.locator("#q-list").is_hidden() and box.get_attribute("aria-expanded") == "false"
    assert box.input_value() == "thien t"
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    assert "q=thi%C3%AAn+tai" in page.url
    box = page.locator("#q")
    box.fill("")
    box.type("bão phú l", delay=20)
    page.wait_for_selector("#q-list [role=option]")
    assert page.locator("#q-option-0").inner_text().startswith("Cổng thông tin điện tử huyện Phú Lâm")
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    assert "source=phulam.example.gov.vn" in page.url and "q=b%C3%A3o" in page.url
