//! ListContacts latency as a tenant grows: the first page, a deep page (the
//! 500th of 50), a selective query (one contact) and an unselective one (an
//! eighth of the tenant), at each size. Imports contacts straight into the
//! database (the store's bulk import), then calls a running contacts-svc
//! over gRPC. With `--explain-dir`, writes the plan of every statement each
//! case runs at each size (PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)`, SQLite
//! `EXPLAIN QUERY PLAN`), after the timed calls.
//!
//!   scale --database-url URL --endpoint http://127.0.0.1:51051 --sizes 10000,1000000 [--explain-dir DIR]

use std::time::{Duration, Instant};

use accommador_proto::accommador::contacts::v1::{ListContactsRequest, contacts_service_client::ContactsServiceClient};
use anyhow::Context;
use clap::Parser;
use contacts_svc::{
    domain::{Contact, ContactFields, ContactId, SearchQuery},
    store::{ListCursor, Store},
};
use sea_orm::ConnectionTrait;
use tonic::transport::Channel;

#[derive(Debug, Parser)]
#[command(about = "Measures ListContacts at growing tenant sizes")]
struct Args {
    /// The database contacts-svc runs on.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// contacts-svc's gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:51051")]
    endpoint: String,
    /// Tenant sizes to measure at, ascending.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// Calls per measurement; the median and 95th percentile are reported.
    #[arg(long, default_value_t = 200)]
    calls: usize,
    #[arg(long, default_value = "scale")]
    tenant: String,
    /// Where to write the plans, one file per database, size and case.
    #[arg(long)]
    explain_dir: Option<std::path::PathBuf>,
}

/// The selective query: the email fragment of contact number 4242, which
/// matches that one contact at any size, as a person searching for someone
/// does.
const SELECTIVE_QUERY: &str = "u4242x";
/// The unselective query: a last name an eighth of the tenant has.
const UNSELECTIVE_QUERY: &str = "lovelace";
/// The deep page: the 500th page of 50, or the last page of a smaller
/// tenant (10,000 contacts have 200 pages).
const DEEP_POSITION: usize = 499 * 50;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.sizes.iter().all(|&size| size > 4242),
        "every size must exceed 4242: the selective query looks for contact number 4242"
    );
    let store = Store::connect(&args.database_url).await?;
    let database = sea_orm::Database::connect(&args.database_url).await?;
    let channel = tonic::transport::Endpoint::from_shared(args.endpoint.clone())?.connect().await?;
    let client = ContactsServiceClient::new(channel);

    let backend = format!("{:?}", store.backend()).to_lowercase();
    let mut imported = 0;
    let tenant = accommador_proto::tenant::TenantId::parse(&args.tenant)?;
    println!(
        "| database | contacts | first page p50 / p95 ms | 500th (or last) page p50 / p95 ms | selective query p50 / p95 ms | unselective query p50 / p95 ms |"
    );
    println!("|---|---|---|---|---|---|");
    for &size in &args.sizes {
        let started = Instant::now();
        while imported < size {
            let batch: Vec<Contact> = (imported..size.min(imported + 50_000)).map(synthetic_contact).collect();
            store.import(&tenant, &batch).await?;
            imported += batch.len();
        }
        database.execute_unprepared("ANALYZE").await?;
        eprintln!("{backend}: {size} contacts imported in {:.1}s", started.elapsed().as_secs_f64());

        let first = measure(args.calls, || list(client.clone(), &args.tenant, "", String::new(), 50)).await?;
        let deep_position = DEEP_POSITION.min(size - 50);
        let deep_token = token_at(&client, &args.tenant, deep_position).await?;
        let deep = measure(args.calls, || list(client.clone(), &args.tenant, "", deep_token.clone(), 50)).await?;
        let selective =
            measure(args.calls, || list(client.clone(), &args.tenant, SELECTIVE_QUERY, String::new(), 50)).await?;
        let unselective =
            measure(args.calls, || list(client.clone(), &args.tenant, UNSELECTIVE_QUERY, String::new(), 50)).await?;
        println!(
            "| {backend} | {size} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
            first.0, first.1, deep.0, deep.1, selective.0, selective.1, unselective.0, unselective.1
        );
        if let Some(dir) = &args.explain_dir {
            std::fs::create_dir_all(dir)?;
            let deep_cursor = cursor_at(&database, &args.tenant, deep_position).await?;
            let phones = contacts_svc::domain::PhoneNormalizer { default_region: phonenumber::country::Id::US };
            let cases = [
                ("first-page", None, None),
                ("500th-page", None, Some(&deep_cursor)),
                ("selective-query", SearchQuery::parse(SELECTIVE_QUERY, &phones), None),
                ("unselective-query", SearchQuery::parse(UNSELECTIVE_QUERY, &phones), None),
            ];
            for (case, query, cursor) in cases {
                let plans = store.explain_list(&tenant, query.as_ref(), cursor, 51).await?;
                std::fs::write(dir.join(format!("{backend}-{size}-{case}.txt")), plans.join("\n"))?;
            }
        }
    }
    Ok(())
}

fn synthetic_contact(index: usize) -> Contact {
    const FIRST: [&str; 8] = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"];
    const LAST: [&str; 8] = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"];
    // Spread over the last ~30 years, one second apart, oldest first.
    let create_time_us = 1_000_000_000_000_000 + index as i64 * 1_000_000;
    Contact {
        id: ContactId::generate(),
        revision: 1,
        fields: ContactFields {
            first_name: FIRST[index % FIRST.len()].into(),
            last_name: LAST[index / FIRST.len() % LAST.len()].into(),
            email: format!("u{index}x@example.com"),
            phone: format!("+1415555{:04}", index % 10_000),
            company_name: format!("Company {}", index % 1_000),
            tags: Vec::new(),
            source: "import".into(),
            additional_emails: Vec::new(),
            additional_phones: Vec::new(),
            image_id: None,
        },
        create_time_us,
        revision_create_time_us: create_time_us,
        merged_contact_ids: Vec::new(),
    }
}

async fn list(
    mut client: ContactsServiceClient<Channel>,
    tenant: &str,
    query: &str,
    page_token: String,
    page_size: i32,
) -> anyhow::Result<(usize, String)> {
    let mut request = tonic::Request::new(ListContactsRequest { page_size, page_token, query: query.into() });
    request.metadata_mut().insert("x-tenant-id", tenant.parse()?);
    let response = client.list_contacts(request).await?.into_inner();
    Ok((response.contacts.len(), response.next_page_token))
}

/// The store's cursor after `position` contacts of the list.
async fn cursor_at(
    database: &sea_orm::DatabaseConnection,
    tenant: &str,
    position: usize,
) -> anyhow::Result<ListCursor> {
    let backend = database.get_database_backend();
    let placeholder = |n: usize| if backend == sea_orm::DbBackend::Postgres { format!("${n}") } else { "?".into() };
    let sql = format!(
        "SELECT create_time_us, contact_id FROM contact_listing WHERE tenant = {} \
         ORDER BY create_time_us DESC, contact_id DESC LIMIT 1 OFFSET {}",
        placeholder(1),
        placeholder(2)
    );
    let statement =
        sea_orm::Statement::from_sql_and_values(backend, sql, [tenant.into(), (position as i64 - 1).into()]);
    let row = database.query_one_raw(statement).await?.context("the list is shorter than the position")?;
    Ok(ListCursor { create_time_us: row.try_get_by_index(0)?, contact_id: row.try_get_by_index(1)? })
}

/// The page token after `position` contacts, by walking pages of 200.
async fn token_at(client: &ContactsServiceClient<Channel>, tenant: &str, position: usize) -> anyhow::Result<String> {
    let mut token = String::new();
    let mut walked = 0;
    while walked < position {
        let page_size = 200.min((position - walked) as i32);
        let (count, next) = list(client.clone(), tenant, "", token, page_size).await?;
        walked += count;
        token = next;
        anyhow::ensure!(!token.is_empty(), "the list ended after {walked} contacts");
    }
    Ok(token)
}

/// Median and 95th percentile latency in milliseconds, after a warm-up call.
async fn measure<F, Fut>(calls: usize, mut call: F) -> anyhow::Result<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<(usize, String)>>,
{
    let (count, _) = call().await?;
    anyhow::ensure!(count > 0, "the page is empty");
    let mut latencies: Vec<Duration> = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let at = |fraction: f64| latencies[((latencies.len() - 1) as f64 * fraction).round() as usize].as_secs_f64() * 1e3;
    Ok((at(0.5), at(0.95)))
}
