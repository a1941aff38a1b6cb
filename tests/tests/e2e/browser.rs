//! The console in Chromium against the real binaries (`web/tests/console.test.mjs`
//! does the clicking and checking): every avatar of the first two pages
//! loads from its stable URL, contacts without pictures show their
//! initials, an upload through the form shows up, a refused file shows the
//! server's message, the duplicate pair (`demo_contacts`' last and first)
//! is found and merged, a contact gets a new picture in the panel, and a
//! stable URL outlives its TTL bucket. Needs the
//! built console and Chromium (`TEST_CHROMIUM`, set by `tests/run.sh` through
//! `tests/browser.sh`; required when `CI` is set). Screenshots go to
//! `$TEST_SCREENSHOTS` (default: `target/screenshots` of the workspace).

use std::path::PathBuf;

use accommador_proto::accommador::contacts::v1::{Contact, CreateContactRequest};
use accommador_tests::{Stack, TestDatabase, demo::demo_contacts, tenant_request};

/// A TTL bucket short enough to end during the test.
const URL_TTL_SECONDS: u64 = 4;

#[tokio::test]
async fn the_console_shows_the_smart_list_with_pictures_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
    let console = repo.join("web/dist");
    assert!(console.join("index.html").exists(), "build the console first: cd web && npm ci && npm run build");
    let settings =
        [("WEB_CONSOLE_DIR", console.display().to_string()), ("PICTURE_URL_TTL", format!("{URL_TTL_SECONDS}s"))];
    let stack = Stack::start(&TestDatabase::sqlite(), &[], &settings).await.unwrap();
    let mut client = stack.contacts_client();
    // Without pictures first, so that the newest 50 (the first page) all have one.
    let (pictured, plain): (Vec<_>, Vec<_>) = demo_contacts(70).into_iter().partition(|demo| demo.picture.is_some());
    for (n, demo) in plain.into_iter().chain(pictured.into_iter().take(50)).enumerate() {
        let request = CreateContactRequest {
            contact: Some(demo.contact),
            profile_picture: demo.picture.unwrap_or_default(),
            request_id: format!("browser-{n}"),
        };
        client.create_contact(tenant_request("demo", request)).await.unwrap();
    }

    let screenshots =
        std::env::var("TEST_SCREENSHOTS").map(PathBuf::from).unwrap_or_else(|_| repo.join("target/screenshots"));
    let output = tokio::process::Command::new("node")
        .arg("tests/console.test.mjs")
        .current_dir(repo.join("web"))
        .env("CONSOLE_URL", format!("http://{}/", stack.contacts.addr()))
        .env("TENANT", "demo")
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", chromium)
        .env("URL_TTL_SECONDS", URL_TTL_SECONDS.to_string())
        .output()
        .await
        .expect("node runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}screenshots in {}", screenshots.display());
    assert!(
        output.status.success(),
        "the browser checks failed:\n{report}\ncontacts-svc log:\n{}",
        stack.contacts.log()
    );
    assert!(report.contains("LOADTIME") && report.contains("ok the page raised no error"), "{report}");
}

/// Debian's Chromium, or `None` (the test is skipped) outside CI.
fn chromium() -> Option<String> {
    match std::env::var("TEST_CHROMIUM") {
        Ok(path) => Some(path),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_CHROMIUM is not set: CI must run the browser tests (tests/run.sh sets it)")
        }
        Err(_) => {
            eprintln!("TEST_CHROMIUM not set: skipping the browser tests (tests/run.sh sets it)");
            None
        }
    }
}

// The demo contacts (the seed's and this test's) checked here, where the
// suite runs them: the harness crate's own tests are not built.

#[test]
fn demo_contacts_have_distinct_valid_pictures_and_some_none() {
    let demo = demo_contacts(60);
    let pictures: Vec<_> = demo.iter().filter_map(|d| d.picture.as_ref()).collect();
    assert!(pictures.len() >= 50 && pictures.len() < 60, "{}", pictures.len());
    let distinct: std::collections::HashSet<_> = pictures.iter().collect();
    assert!(distinct.len() >= pictures.len() - 2, "pictures differ");
    for picture in pictures {
        let decoded = image::load_from_memory(picture).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (512, 512));
        assert!(picture.len() <= 2_621_440);
    }
    assert!(demo.iter().any(|d| d.picture.as_ref().is_some_and(|p| p.starts_with(b"\x89PNG"))));
}

#[test]
fn the_last_demo_contact_duplicates_the_first_without_its_picture() {
    let demo = demo_contacts(60);
    assert_eq!(demo.len(), 60);
    let (first, last) = (&demo[0], &demo[59]);
    assert!(first.picture.is_some() && last.picture.is_none());
    let key = |c: &Contact| (c.first_name.clone(), c.last_name.clone(), c.email.clone());
    assert_eq!(key(&first.contact), key(&last.contact));
    let names: std::collections::HashSet<_> =
        demo[..59].iter().map(|d| (&d.contact.first_name, &d.contact.last_name)).collect();
    assert_eq!(names.len(), 59, "no other namesakes: the duplicate search finds this pair alone");
    assert_eq!(demo_contacts(1).len(), 1);
}
