//! The HTML report in a real browser: headless Chromium (Debian's `chromium`; `cargo xtask deps`
//! installs it) opens the page from a file with every request routed through a recording
//! loopback proxy. A missing Chromium fails these tests, with how to install it.

use crate::common;
use crate::html_support;

use common::*;
use html_support::*;

/// Also the picture in docs: `cargo xtask screenshot` runs this test and copies
/// `report-week-3.png` to docs/report-html.png (so the page claims the real sfconn version).
#[test]
fn the_report_loads_with_no_console_message_no_request_and_the_numbers_in_its_dom() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_weeks(dir.path());
    let (html, json) = render_as(&store, 3, env!("CARGO_PKG_VERSION"));
    let page = target_dir().join("report-week-3.html");
    std::fs::write(&page, &html).unwrap();
    let proxy = Recorder::start();

    let loaded = load(&page, &proxy);
    assert_eq!(loaded.console, Vec::<String>::new(), "console messages");
    assert_eq!(proxy.requests(), Vec::<String>::new(), "network requests");
    // The DOM, after the script ran, holds the report's numbers.
    for sub in json["subscriptions"].as_array().unwrap() {
        let id = sub["id"].as_str().unwrap();
        let used = field(&loaded.dom, "<section id=\"seats\">", id, "used").unwrap();
        assert_eq!(used, sub["used"].to_string().replace("null", "-"), "{id}");
    }
    let candidates = json["reclaim_candidates"].as_array().unwrap().len();
    assert!(loaded.dom.contains(&format!("<h2>Reclaim candidates ({candidates})</h2>")));
    // The script ran: the sortable tables' headers are buttons now.
    assert!(
        loaded.dom.contains("<th scope=\"col\"><button type=\"button\">Username</button></th>"),
        "{}",
        loaded.dom
    );

    let png = target_dir().join("report-week-3.png");
    screenshot(&page, &png, 4200, &proxy);
    screenshot_in(&page, &target_dir().join("report-week-3-dark.png"), 4200, &proxy, "dark");
    assert_eq!(proxy.requests(), Vec::<String>::new(), "network requests while taking the screenshot");
}

#[test]
fn hostile_text_runs_nothing_fetches_nothing_and_shows_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = Recorder::start();
    let store = hostile_store(dir.path(), &proxy.url());
    let (html, _) = render(&store, 1);
    let page = target_dir().join("report-hostile.html");
    std::fs::write(&page, &html).unwrap();

    let loaded = load(&page, &proxy);
    assert!(!loaded.dom.contains("data-pwned=\""), "a payload ran: {}", loaded.dom);
    assert_eq!(loaded.console, Vec::<String>::new(), "console messages (a payload or a blocked fetch)");
    assert_eq!(proxy.requests(), Vec::<String>::new(), "network requests");
    // The payloads are on the page as text.
    assert!(loaded.dom.contains("&lt;script&gt;document.body.setAttribute('data-pwned','2')"));
    assert!(loaded.dom.contains("\"&gt;&lt;img src=\"http://127.0.0.1:"));
    assert!(loaded.dom.contains("evil.example\"&gt;&lt;svg onload="));
    assert!(!loaded.dom.contains('\u{202E}'));
    screenshot(&page, &target_dir().join("report-hostile.png"), 1600, &proxy);
}

/// The check above is only as good as its detector: the same payload, unescaped, must trip it.
#[test]
fn the_detector_sees_a_payload_that_runs() {
    let proxy = Recorder::start();
    let page = target_dir().join("detector.html");
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><html><body><img src=\"{}/probe\"><script>document.body.setAttribute('data-pwned','1');console.error('PWNED')</script></body></html>",
            proxy.url()
        ),
    )
    .unwrap();
    let loaded = load(&page, &proxy);
    assert!(loaded.dom.contains("data-pwned=\"1\""), "{}", loaded.dom);
    assert!(loaded.console.iter().any(|line| line.contains("PWNED")), "{:?}", loaded.console);
    // The browser may still be finishing the image request when the DOM is dumped.
    let waited = std::time::Instant::now();
    while proxy.requests().is_empty() && waited.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(proxy.requests().iter().any(|r| r.contains("/probe")), "{:?}", proxy.requests());
}

/// The classes of issue 18, the login distribution and the feature licences, as Chromium shows
/// them: a snapshot with frozen users and login activity (`fixtures/acme-labs-2024-06-20.json`).
#[test]
fn the_reclaim_classes_and_the_login_distribution_show_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = sfconn_store::Store::open(&dir.path().join("h.db")).unwrap();
    store.insert_snapshot_json(crate::report_classes::LABS.as_bytes()).unwrap();
    let (html, json) = render(&store, 1);
    let page = target_dir().join("report-labs.html");
    std::fs::write(&page, &html).unwrap();
    let proxy = Recorder::start();

    let loaded = load(&page, &proxy);
    assert_eq!(loaded.console, Vec::<String>::new(), "console messages");
    assert_eq!(proxy.requests(), Vec::<String>::new(), "network requests");
    assert_classes_shown(&loaded.dom, &json);
    for bucket in json["login_activity"]["distribution"].as_array().unwrap() {
        let label = bucket["label"].as_str().unwrap();
        let users = field(&loaded.dom, "<section id=\"activity\">", label, "users").unwrap();
        assert_eq!(users, bucket["users"].to_string(), "{label}");
    }
    for sub in json["subscriptions"].as_array().unwrap() {
        let id = sub["id"].as_str().unwrap();
        for name in ["frozen_seats", "low_activity_seats"] {
            let shown = field(&loaded.dom, "<section id=\"seats\">", id, name).unwrap();
            assert_eq!(shown, sub[name].to_string(), "{id} {name}");
        }
    }
    // The candidates table sorts by the new columns too.
    assert!(
        loaded.dom.contains("<th scope=\"col\"><button type=\"button\">Class</button></th>"),
        "{}",
        loaded.dom
    );
    screenshot(&page, &target_dir().join("report-labs.png"), 4600, &proxy);
    assert_eq!(proxy.requests(), Vec::<String>::new(), "network requests while taking the screenshot");
}

/// The report of `doc`, stored alone, with `options`: its page written to `target/html-report/NAME`
/// and loaded in Chromium, with no console message and no request.
fn load_alone(
    doc: &str,
    options: &sfconn_store::ReportOptions,
    name: &str,
) -> (sfconn_store::Report, std::path::PathBuf, Recorder, Loaded) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = sfconn_store::Store::open(&dir.path().join("h.db")).unwrap();
    store.insert_snapshot_json(doc.as_bytes()).unwrap();
    let snapshot = store.resolve(&sfconn_store::Selector::Id(1), None).unwrap();
    let report = store.report(&snapshot, options).unwrap();
    let context = store.report_context(&report).unwrap();
    let options = sfconn_store::HtmlOptions { sfconn_version: TEST_VERSION };
    let html = text(|o| report.write_html(&context, options, o).unwrap());
    let page = target_dir().join(name);
    std::fs::write(&page, &html).unwrap();
    let proxy = Recorder::start();
    let loaded = load(&page, &proxy);
    assert_eq!(loaded.console, Vec::<String>::new(), "console messages");
    assert_eq!(proxy.requests(), Vec::<String>::new(), "network requests");
    (report, page, proxy, loaded)
}

/// Each reclaim class of `json` in the DOM: its count, or that it was not computed.
fn assert_classes_shown(dom: &str, json: &serde_json::Value) {
    for class in json["classes"].as_array().unwrap() {
        let name = class["class"].as_str().unwrap();
        let shown = format!("<li data-class=\"{name}\">");
        let at = dom.find(&shown).unwrap_or_else(|| panic!("{name}: {dom}"));
        assert!(dom[at..].starts_with(&format!("{shown}<strong>")), "{name}");
        let text = if class["computed"] == true {
            format!("<span data-field=\"candidates\">{}</span>", class["candidates"])
        } else {
            "not computed: ".to_owned()
        };
        assert!(dom[at..at + 200].contains(&text), "{name}: {text}");
    }
}

/// The unused permission set licence assignments of issue 19 as Chromium shows them
/// (`fixtures/acme-psl-2024-06-21.json` with prices): the class's count, each assignment to
/// remove with what it saves, and each subscription's unused seats.
#[test]
fn the_unused_assignments_show_in_the_browser() {
    let (report, page, proxy, loaded) =
        load_alone(crate::unused_assignments::PSL, &crate::unused_assignments::priced(), "report-psl.html");
    let json: serde_json::Value = serde_json::from_str(&text(|o| report.write_json(o).unwrap())).unwrap();
    assert_classes_shown(&loaded.dom, &json);
    assert!(loaded.dom.contains("About 860 EUR/month reclaimable (about 10,316 EUR/year)"), "{}", loaded.dom);
    for unused in &report.unused_assignments {
        let id = format!("{}/{}", unused.user_id, unused.licence_id);
        let shown = field(&loaded.dom, "<h3 id=\"unused-assignments\">", &id, "monthly").unwrap();
        assert_eq!(shown, unused.monthly.map_or_else(|| "-".to_owned(), |m| m.to_string()), "{id}");
    }
    for sub in &report.subscriptions {
        let shown = field(&loaded.dom, "<section id=\"seats\">", &sub.id, "unused_assignment_seats").unwrap();
        assert_eq!(shown, sub.unused_assignment_seats.unwrap().to_string(), "{}", sub.id);
    }
    // The assignments table sorts like the others.
    assert!(loaded.dom.contains("<button type=\"button\">Licence</button>"), "{}", loaded.dom);
    screenshot(&page, &target_dir().join("report-psl.png"), 4600, &proxy);
    assert_eq!(proxy.requests(), Vec::<String>::new(), "network requests while taking the screenshot");
}

/// The money view of issue 19 as Chromium shows it (`fixtures/acme-money-2024-06-20.json` with
/// the prices of docs/report.md's worked example): every priced subscription's amounts, and the
/// headline.
#[test]
fn the_money_view_shows_in_the_browser() {
    let options = sfconn_store::ReportOptions { prices: Some(crate::money::prices()), ..Default::default() };
    let (report, _, _, loaded) = load_alone(crate::money::MONEY, &options, "report-money.html");
    assert!(loaded.dom.contains("About 735 EUR/month reclaimable (about 8,816 EUR/year)"), "{}", loaded.dom);
    for sub in report.subscriptions.iter().filter(|s| s.price_per_seat.is_some()) {
        for (name, value) in [
            ("price_per_seat", sub.price_per_seat),
            ("bought_monthly", sub.bought_monthly),
            ("reclaimable_monthly", sub.reclaimable_monthly),
            ("reclaimable_yearly", sub.reclaimable_yearly),
        ] {
            let shown = field(&loaded.dom, "<section id=\"money\">", &sub.id, name).unwrap();
            assert_eq!(shown, value.unwrap().to_string(), "{} {name}", sub.id);
        }
    }
    // The money table sorts like the others.
    assert!(loaded.dom.contains("<button type=\"button\">Reclaimable per month</button>"), "{}", loaded.dom);
}
