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

/// Every row of every table of the database at `url`, as text, one row a
/// line: what a scan for values that must be gone reads.
pub async fn every_row_as_text(url: &str) -> anyhow::Result<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = sea_orm::Database::connect(url).await?;
    let backend = db.get_database_backend();
    let tables_sql = match backend {
        DbBackend::Postgres => "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let mut text = String::new();
    for table in db.query_all_raw(Statement::from_string(backend, tables_sql)).await? {
        let table: String = table.try_get_by_index(0)?;
        let row_sql = match backend {
            // A row value cast to text: every column, whatever its type.
            DbBackend::Postgres => format!(r#"SELECT t::text FROM "{table}" t"#),
            _ => {
                let columns = db
                    .query_all_raw(Statement::from_string(backend, format!("PRAGMA table_info(\"{table}\")")))
                    .await?;
                let mut quoted = Vec::new();
                for column in columns {
                    let name: String = column.try_get("", "name")?;
                    quoted.push(format!("quote(\"{name}\")"));
                }
                format!("SELECT {} FROM \"{table}\"", quoted.join(" || ',' || "))
            }
        };
        for row in db.query_all_raw(Statement::from_string(backend, row_sql)).await? {
            let row: Option<String> = row.try_get_by_index(0)?;
            text.push_str(&table);
            text.push_str(": ");
            text.push_str(&row.unwrap_or_default());
            text.push('\n');
        }
    }
    db.close().await?;
    Ok(text)
}

/// The bytes of the SQLite database at `path` after a checkpoint moved the
/// write-ahead log into it and VACUUM rewrote it without free pages: what
/// stays on disk for good. The database must not be in use.
pub async fn compacted_sqlite_bytes(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=rw", path.display())).await?;
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    db.execute_unprepared("VACUUM").await?;
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    db.close().await?;
    let mut bytes = std::fs::read(path)?;
    for suffix in ["-wal", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        if let Ok(more) = std::fs::read(std::path::Path::new(&side)) {
            bytes.extend(more);
        }
    }
    Ok(bytes)
}
