//! `/docs` in a real browser: headless Chromium (Debian's `chromium`),
//! driven over WebDriver by Debian's `chromedriver`, opens Swagger UI as the
//! gateway serves it, finds the contract operations, tries one out and sees
//! the gateway's real answer. The screenshot it takes is the README's
//! `docs/swagger-ui.png`.
//!
//! Without Chromium or ChromeDriver the test is skipped with a warning,
//! unless `CONTRACTGATE_REQUIRE_SERVICES` is set (CI), where it fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::{example_contracts, TestGateway};

/// How long the page may take to show what is waited for.
const PATIENCE: Duration = Duration::from_secs(30);

/// A program on the `PATH`.
fn program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|folder| folder.join(name))
            .find(|path| path.is_file())
    })
}

/// Chromium and ChromeDriver, or `None` (skipped) when either is missing
/// and CI does not require them.
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = program("chromium").or_else(|| program("chromium-browser"));
    let driver = program("chromedriver");
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        _ if std::env::var_os("CONTRACTGATE_REQUIRE_SERVICES").is_some() => panic!(
            "Chromium and ChromeDriver are required (CONTRACTGATE_REQUIRE_SERVICES): \
             apt-get install chromium chromium-driver"
        ),
        _ => {
            eprintln!(
                "SKIPPED: the browser test needs `chromium` and `chromedriver` on the PATH \
                 (apt-get install chromium chromium-driver); /docs was not opened in a browser"
            );
            None
        }
    }
}

/// ChromeDriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start(program: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        // Owned at once, so that it is stopped however this ends.
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on {}", driver.url);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn open_browser(driver: &Driver, chromium: &Path) -> Client {
    let options = json!({
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,2200", "--hide-scrollbars"],
    });
    let capabilities = serde_json::Map::from_iter([("goog:chromeOptions".to_owned(), options)]);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("Chromium opens")
}

async fn wait_for(client: &Client, selector: &str) -> Element {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector} did not appear: {e}"))
}

/// The operation block of `method` on `path`.
async fn operation(client: &Client, method: &str, path: &str) -> Element {
    // A deprecated operation's block is `opblock-deprecated`; its summary
    // still names the method.
    let xpath = format!(
        "//div[contains(concat(' ', @class, ' '), ' opblock ')]\
         [.//div[contains(@class, 'opblock-summary-{method}')]][.//*[@data-path='{path}']]"
    );
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("{method} {path} is not listed: {e}"))
}

/// The text (or, for a form field, the value) of `selector` inside `block`
/// once it shows some.
async fn text_of(block: &Element, selector: &str) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(found) = block.find(Locator::Css(selector)).await {
            let mut text = found.text().await.unwrap_or_default();
            if text.is_empty() {
                text = found.prop("value").await.ok().flatten().unwrap_or_default();
            }
            if !text.trim().is_empty() {
                return text;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{selector} stayed empty"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Presses "Try it out" in an operation's block until its "Execute"
/// button shows (the block may still be opening on the first press).
async fn try_it_out(block: &Element) -> Element {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(execute) = block.find(Locator::Css(".execute")).await {
            return execute;
        }
        if let Ok(button) = block.find(Locator::Css(".try-out__btn")).await {
            let _ = button.click().await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Try it out did not open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn swagger_ui_lists_the_contracts_and_tries_one_out_against_the_gateway() {
    let Some((chromium, driver_program)) = browser_programs() else {
        return;
    };
    let gateway = TestGateway::spawn(&example_contracts()).await;
    let driver = Driver::start(&driver_program).await;
    let client = open_browser(&driver, &chromium).await;
    client
        .goto(&gateway.url("/docs/"))
        .await
        .expect("the page opens");

    // Every record operation of every published version is listed.
    wait_for(&client, ".opblock-summary-path").await;
    for version in ["customer/v1", "customer/v2", "order/v1"] {
        let records = format!("/contracts/{version}/records");
        operation(&client, "post", &records).await;
        for method in ["get", "put", "patch", "delete"] {
            operation(&client, method, &format!("{records}/{{key}}")).await;
        }
    }
    let deprecated = operation(&client, "post", "/contracts/customer/v1/records").await;
    let classes = deprecated.attr("class").await.unwrap().unwrap_or_default();
    assert!(classes.contains("opblock-deprecated"), "{classes}");

    // Try out the create of customer v2 with its example body.
    let create = operation(&client, "post", "/contracts/customer/v2/records").await;
    create
        .find(Locator::Css(".opblock-summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let execute = try_it_out(&create).await;
    let body = text_of(&create, "textarea.body-param__text").await;
    assert!(
        body.contains("Grace Hopper"),
        "the example is the body: {body}"
    );
    execute.click().await.unwrap();
    let status = text_of(&create, ".live-responses-table tbody .response-col_status").await;
    assert_eq!(status.trim(), "201", "the gateway's answer");
    // The body and headers the gateway sent.
    let answer = text_of(
        &create,
        ".live-responses-table tbody .response-col_description",
    )
    .await;
    assert!(answer.contains("\"tier\": \"gold\""), "{answer}");
    assert!(answer.contains("contract-version: 2"), "{answer}");

    // The record is really there.
    let stored = gateway.get("/contracts/customer/v2/records/c-3").await;
    assert_eq!(stored.status(), 200);

    // The screenshot of the README: the operation tried, with its answer.
    client
        .execute(
            "arguments[0].scrollIntoView(true);",
            vec![serde_json::to_value(&create).unwrap()],
        )
        .await
        .unwrap();
    let png = client.screenshot().await.expect("a screenshot");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("swagger-ui.png"), png).unwrap();
    client.close().await.unwrap();
}
