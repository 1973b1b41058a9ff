//! The dashboard in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, from Debian's `chromium-driver`, installed by
//! `scripts/test`). A rotator signs in, sees a credential overdue, rotates
//! it and sees the new version current; a viewer sees no button and a
//! forged form is refused; an auditor reads the audit log and the plugins.
//! Each page is saved as a screenshot under `target/screenshots/`.

use crate::support;

use fantoccini::{Client, ClientBuilder, Locator};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::daemon::{Daemon, daemon_table};
use support::{Project, text};

/// `chromedriver` on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = support::free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is installed; scripts/test installs it");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// A headless Chromium session.
    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        let arguments =
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,1100"];
        capabilities.insert("goog:chromeOptions".into(), serde_json::json!({ "args": arguments }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector).capabilities(capabilities).connect(&self.url).await.expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go.
fn screenshots() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves what the browser shows as `name.png`.
async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshots().join(format!("dashboard-{name}.png")), png).unwrap();
}

/// The page as it is, at a laptop's width (1366 px, `name.png`) and a
/// phone's (390 px, `name-390.png`): at 390 px the page does not scroll
/// sideways (wide tables scroll in their own box) and any chart still shows.
async fn screenshots_at_both_widths(browser: &Client, name: &str) {
    screenshot(browser, name).await;
    browser.set_window_size(390, 844).await.unwrap();
    let overflow = browser.execute("return document.documentElement.scrollWidth - window.innerWidth", vec![]).await;
    assert!(overflow.unwrap().as_i64().unwrap() <= 0, "{name} scrolls sideways at 390 px");
    if let Ok(chart) = browser.find(Locator::Css("figure.chart svg")).await {
        let (_, _, width, height) = chart.rectangle().await.unwrap();
        assert!(width > 300.0 && height > 50.0, "{name}: the chart shows at 390 px ({width} × {height})");
    }
    screenshot(browser, &format!("{name}-390")).await;
    browser.set_window_size(1366, 1100).await.unwrap();
}

/// Signs in at `base` with `token`, as a person would: the form, typed, submitted.
async fn sign_in(browser: &Client, base: &str, token: &str) {
    browser.goto(&format!("{base}/signin")).await.unwrap();
    browser.find(Locator::Id("token")).await.unwrap().send_keys(token).await.unwrap();
    browser.find(Locator::Css("form[action='/signin'] button")).await.unwrap().click().await.unwrap();
    shown(browser, "h1.overview").await;
}

async fn sign_out(browser: &Client) {
    browser.find(Locator::Css("form[action='/signout'] button")).await.unwrap().click().await.unwrap();
    shown(browser, "section.signin").await;
}

/// The text of the element `css`.
async fn text_of(browser: &Client, css: &str) -> String {
    browser.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// The text of the element `css` once the page shows it (a click may
/// return before the page it leads to has loaded).
async fn shown(browser: &Client, css: &str) -> String {
    let found = browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
    found.unwrap_or_else(|e| panic!("no {css} shown: {e}")).text().await.unwrap()
}

/// A form posted to `path` outside the dashboard's pages, with the session
/// cookie a browser would send and `body`: its status.
fn forged(addr: SocketAddr, path: &str, session: &str, body: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let request = agent.post(format!("http://{addr}{path}")).header("Cookie", format!("rekey_session={session}"));
    let answer = if body.is_empty() {
        request.send_empty()
    } else {
        request.content_type("application/x-www-form-urlencoded").send(body)
    };
    answer.unwrap().status().as_u16()
}

/// `rekey token create NAME --role ROLE [--credentials GLOB]`: the token.
fn token(project: &Project, name: &str, role: &str, scope: Option<&str>) -> String {
    let mut args = vec!["token", "create", name, "--role", role];
    args.extend(scope.map(|glob| ["--credentials", glob]).into_iter().flatten());
    let made = project.run(&args, "");
    assert!(made.status.success(), "{:?}", text(&made));
    text(&made).0.trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn people_rotate_watch_and_audit_through_the_dashboard_each_as_their_token_allows() {
    // Frozen, so only what people ask for rotates; payments-db falls due in 1 s.
    let (table, addr) = daemon_table("freeze = [{ from = \"2000-01-01T00:00:00Z\", to = \"2100-01-01T00:00:00Z\" }]");
    let credentials = [("payments-db", "1s"), ("search-api", "90d")].map(|(name, max_age)| {
        support::random_credential(name, &format!("{name}.env"), "KEY")
            .replace("max_age = \"0s\"", &format!("max_age = \"{max_age}\""))
    });
    let project = Project::new(&format!("{table}{}", credentials.concat()), &[]);
    let rotated = project.run(&["rotate", "payments-db", "search-api"], "");
    assert!(rotated.status.success(), "{:?}", text(&rotated));
    let rotator = token(&project, "payments-oncall", "rotator", Some("payments-*"));
    let viewer = token(&project, "wallboard", "viewer", None);
    let auditor = token(&project, "security", "auditor", None);
    std::thread::sleep(Duration::from_millis(1100));
    let daemon = Daemon::start(&project, addr);
    let base = format!("http://{addr}");
    let driver = Driver::start();
    let browser = driver.browser().await;
    let mut pages = String::new();

    // Not signed in: every page leads to the sign-in form.
    browser.goto(&format!("{base}/credentials/payments-db")).await.unwrap();
    shown(&browser, "section.signin").await;
    screenshot(&browser, "signin").await;
    browser.find(Locator::Id("token")).await.unwrap().send_keys(&format!("rkt_{}", "A".repeat(43))).await.unwrap();
    browser.find(Locator::Css("form[action='/signin'] button")).await.unwrap().click().await.unwrap();
    assert!(shown(&browser, ".problem").await.contains("not valid"), "a wrong token is refused");

    // The rotator sees payments-db overdue, and only what its scope covers.
    sign_in(&browser, &base, &rotator).await;
    let overdue: Vec<String> = futures_util::future::join_all(
        browser.find_all(Locator::Css("tr.overdue td:first-child a")).await.unwrap().iter().map(|a| a.text()),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert_eq!(overdue, ["payments-db"]);
    assert!(browser.find(Locator::Css("figure.chart svg rect")).await.is_ok(), "the chart is drawn");
    pages.push_str(&browser.source().await.unwrap());
    assert!(!pages.contains("search-api"), "outside the rotator's scope");
    screenshots_at_both_widths(&browser, "overview").await;

    // It rotates payments-db, and sees the new version current and the history grown.
    browser.find(Locator::LinkText("payments-db")).await.unwrap().click().await.unwrap();
    assert_eq!(shown(&browser, "#current-version").await, "1");
    browser.find(Locator::Css("button[value='rotate']")).await.unwrap().click().await.unwrap();
    assert!(shown(&browser, ".notice").await.contains("Asked: rotate payments-db"));
    assert!(browser.find(Locator::Css(".notice code")).await.is_ok(), "names as code, not in backticks");
    let reloads = browser.find(Locator::Css("meta[http-equiv='refresh']")).await;
    assert!(reloads.is_ok(), "the page reloads itself while the rotation is asked for or runs");
    // With no help: the page reloads itself until the rotation shows.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let version = match browser.find(Locator::Css("#current-version")).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(), // between two loads
        };
        if version == "2" {
            break;
        }
        assert!(Instant::now() < deadline, "the rotation did not show; daemon log:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Once the rotation has ended, the page stays still.
    while browser.find(Locator::Css("meta[http-equiv='refresh']")).await.is_ok() {
        assert!(Instant::now() < deadline, "the page kept reloading after the rotation; log:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(text_of(&browser, "#current-version").await, "2");
    assert_eq!(browser.find_all(Locator::Css("details.rotation")).await.unwrap().len(), 2);
    assert!(text_of(&browser, "details.rotation[open] summary").await.contains("v1 → v2"));
    assert_eq!(text_of(&browser, "#plugin").await, "random", "what it is declared as");
    let journal = text_of(&browser, "details.rotation[open] ol.journal").await;
    assert!(journal.contains("generate done in") && !journal.contains("begun\n"), "one line per step: {journal}");
    pages.push_str(&browser.source().await.unwrap());
    screenshots_at_both_widths(&browser, "credential").await;

    // A form from anywhere else, with the rotator's cookie but not its CSRF token, is refused.
    let session = browser.get_named_cookie("rekey_session").await.unwrap().value().to_string();
    for body in ["", "csrf=", "csrf=forged"] {
        assert_eq!(forged(addr, "/credentials/payments-db/rotate", &session, body), 403, "{body:?}");
    }
    sign_out(&browser).await;
    assert_eq!(forged(addr, "/credentials/payments-db/rotate", &session, "csrf=forged"), 303, "signed out: to sign in");

    // The viewer sees everything, and no button; its forged form is refused too.
    sign_in(&browser, &base, &viewer).await;
    assert!(browser.find(Locator::Css("a[href='/audit']")).await.is_err(), "no audit log for a viewer");
    browser.goto(&format!("{base}/credentials/payments-db")).await.unwrap();
    assert!(browser.find_all(Locator::Css("section.actions button")).await.unwrap().is_empty());
    let session = browser.get_named_cookie("rekey_session").await.unwrap().value().to_string();
    assert_eq!(forged(addr, "/credentials/payments-db/rotate", &session, "csrf=forged"), 403);
    browser.goto(&format!("{base}/audit")).await.unwrap();
    assert!(
        shown(&browser, ".problem").await.contains("may not read the audit log"),
        "the audit page refuses a viewer"
    );
    browser.goto(&format!("{base}/")).await.unwrap();
    sign_out(&browser).await;

    // The auditor reads who did what, filters it, and sees the plugins.
    sign_in(&browser, &base, &auditor).await;
    browser.find(Locator::LinkText("Audit log")).await.unwrap().click().await.unwrap();
    assert!(shown(&browser, "h1.audit + .summary").await.contains("intact"));
    let log = text_of(&browser, "table.audit").await;
    assert!(log.contains("api.rotate") && log.contains("payments-oncall"), "{log}");
    assert!(!log.contains("{\""), "details read as fields, not JSON: {log}");
    assert!(browser.find(Locator::Css("td.detail .field .name")).await.is_ok(), "each field named");
    assert!(log.contains("dashboard.signed_in"), "{log}");
    pages.push_str(&browser.source().await.unwrap());
    screenshots_at_both_widths(&browser, "audit").await;
    browser.find(Locator::Css("input[name='event']")).await.unwrap().send_keys("api.").await.unwrap();
    browser.find(Locator::Css("form.filters button")).await.unwrap().click().await.unwrap();
    shown(&browser, "input[name='event'][value='api.']").await;
    let filtered = text_of(&browser, "table.audit tbody").await;
    assert!(filtered.lines().count() == 1 && filtered.contains("api.rotate"), "{filtered}");
    browser.find(Locator::LinkText("Plugins")).await.unwrap().click().await.unwrap();
    let plugins = shown(&browser, "table.plugins").await;
    assert!(plugins.contains("random") && plugins.contains("approved"), "{plugins}");
    pages.push_str(&browser.source().await.unwrap());
    screenshots_at_both_widths(&browser, "plugins").await;
    browser.close().await.unwrap();

    // No page showed a key or a token.
    for name in ["payments-db", "search-api"] {
        let key = project.env_value(&format!("{name}.env"), "KEY");
        assert!(!pages.contains(&key) && !daemon.log().contains(&key), "the key of {name} leaked");
    }
    for token in [&rotator, &viewer, &auditor] {
        assert!(!pages.contains(token.as_str()) && !daemon.log().contains(token.as_str()), "a token leaked");
    }
}
