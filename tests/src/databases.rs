//! The databases the contacts tests run on.

/// A database for one test: SQLite in the test's folder, or a fresh
/// PostgreSQL database on the server `TEST_POSTGRES_URL` names (set by
/// `tests/run.sh`; required when `CI` is set).
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: &'static str,
    /// `None`: contacts-svc's default, SQLite in its data folder.
    pub url: Option<String>,
}

impl TestDatabase {
    /// contacts-svc's default: SQLite in its data folder.
    pub fn sqlite() -> Self {
        Self { name: "sqlite", url: None }
    }
}

/// Every database the contacts tests must pass on.
pub async fn databases() -> Vec<TestDatabase> {
    let mut databases = vec![TestDatabase::sqlite()];
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            use sea_orm::ConnectionTrait;
            let name = format!("test_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(&admin_url).await.expect("connect to the test PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
            let (base, _) = admin_url.rsplit_once('/').expect("URL ends with a database name");
            databases.push(TestDatabase { name: "postgres", url: Some(format!("{base}/{name}")) });
        }
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_POSTGRES_URL is not set: CI must run the PostgreSQL leg (tests/run.sh starts PostgreSQL)")
        }
        Err(_) => eprintln!("TEST_POSTGRES_URL not set: skipping the PostgreSQL leg (tests/run.sh sets it)"),
    }
    databases
}
