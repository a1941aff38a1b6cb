//! The load generator and checker of `bench/cluster.sh` (a multi-node
//! deployment on one machine, with replicas killed and restarted under load).
//!
//! `load` drives contacts-svc, its calls spread over every endpoint given:
//! creates of contacts with pictures, and every `--merge-every`th operation
//! two such creates and a merge of the second into the first (taking the
//! second's picture). Calls answered UNAVAILABLE or RESOURCE_EXHAUSTED are
//! retried with the same request id (creates and merges are idempotent by
//! it), and so are calls whose connection broke (UNAVAILABLE in gRPC, which
//! tonic reports as UNKNOWN: see [`client_code`]), counted apart; any other
//! error is counted as unexpected and its operation dropped.
//! Every acknowledged contact goes into the ledger (JSON lines), and one
//! JSON report goes to stdout.
//!
//! `verify` reads the ledger and checks that every acknowledged contact is
//! there (a merged-away one resolving to its survivor) with a picture whose
//! signed URL answers 200 with bytes.
//!
//!   cluster load --endpoints http://127.0.0.1:1,http://127.0.0.1:2 --pictures DIR --seconds 60 --ledger L
//!   cluster verify --endpoints http://127.0.0.1:1 --ledger L

use std::{
    collections::BTreeMap,
    io::Write,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use accommador_proto::accommador::contacts::v1::{
    Contact, CreateContactRequest, GetContactRequest, MergeContactsRequest,
    contacts_service_client::ContactsServiceClient,
};
use clap::{Parser, Subcommand};
use tonic::{Code, transport::Channel};

#[derive(Debug, Parser)]
#[command(about = "Load and checks for the multi-node deployment benchmark (bench/cluster.sh)")]
struct Args {
    /// contacts-svc's gRPC endpoints, comma-separated: calls are spread over them.
    #[arg(long, value_delimiter = ',', required = true)]
    endpoints: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates and merges contacts with pictures for a while.
    Load {
        /// Prefix of the tenants: one per pass over the pictures, so every
        /// upload is new to media-svc (it stores a tenant's identical bytes once).
        #[arg(long, default_value = "cluster")]
        tenant: String,
        /// Pictures to upload: the files of this folder (the benchmark corpus).
        #[arg(long)]
        pictures: PathBuf,
        /// Operations in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// How long to run.
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// Every Nth operation is two creates and a merge (0: no merges).
        #[arg(long, default_value_t = 4)]
        merge_every: usize,
        /// Where acknowledged contacts are appended (JSON lines).
        #[arg(long)]
        ledger: PathBuf,
    },
    /// Checks every contact of the ledger.
    Verify {
        #[arg(long)]
        ledger: PathBuf,
        /// Checks in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
}

/// Codes the clients may see while replicas come and go, and retry.
const RETRIED: [Code; 2] = [Code::Unavailable, Code::ResourceExhausted];
/// How long one call is retried before it counts as failed.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// A status's code as gRPC defines it for the client. A connection that
/// breaks under a call (its server killed) is UNAVAILABLE in gRPC's HTTP/2
/// mapping, but tonic's client reports it as UNKNOWN "transport error" (a
/// hyper error it does not map); that case is told apart by its source, a
/// `tonic::transport::Error`, and counted as `Unavailable(connection lost)`.
fn client_code(status: &tonic::Status) -> (Code, &'static str) {
    let transport = std::error::Error::source(status).is_some_and(|source| source.is::<tonic::transport::Error>());
    match status.code() {
        Code::Unknown if transport => (Code::Unavailable, "Unavailable(connection lost)"),
        Code::Unavailable => (Code::Unavailable, "Unavailable"),
        Code::ResourceExhausted => (Code::ResourceExhausted, "ResourceExhausted"),
        _ => (status.code(), ""),
    }
}

/// What the workers share: error counts by code, and the ledger.
#[derive(Default)]
struct Tally {
    retried: BTreeMap<String, u64>,
    unexpected: BTreeMap<String, u64>,
    /// The first few unexpected errors, for the report.
    unexpected_samples: Vec<String>,
    creates: u64,
    merges: u64,
    gave_up: u64,
}

fn request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("x-tenant-id", tenant.parse().expect("tenant is valid metadata"));
    request
}

/// Runs `call` until it succeeds, retrying the retried codes with backoff;
/// `None` when it fails otherwise (counted) or for too long.
async fn retrying<T, F, Fut>(tally: &Mutex<Tally>, what: &str, mut call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let started = Instant::now();
    let mut backoff = Duration::from_millis(20);
    loop {
        match call().await {
            Ok(response) => return Some(response.into_inner()),
            Err(status) if RETRIED.contains(&client_code(&status).0) && started.elapsed() < RETRY_FOR => {
                *tally.lock().unwrap().retried.entry(client_code(&status).1.to_owned()).or_default() += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            Err(status) => {
                let mut tally = tally.lock().unwrap();
                if RETRIED.contains(&client_code(&status).0) {
                    tally.gave_up += 1;
                } else {
                    *tally.unexpected.entry(format!("{:?}", status.code())).or_default() += 1;
                }
                if tally.unexpected_samples.len() < 10 {
                    tally.unexpected_samples.push(format!("{what}: {:?}: {}", status.code(), status.message()));
                }
                return None;
            }
        }
    }
}

fn channel(endpoints: &[String]) -> anyhow::Result<Channel> {
    let endpoints: Vec<_> = endpoints
        .iter()
        .map(|endpoint| {
            Ok(tonic::transport::Endpoint::from_shared(endpoint.clone())?.connect_timeout(Duration::from_secs(1)))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Channel::balance_list(endpoints.into_iter()))
}

fn client(channel: &Channel) -> ContactsServiceClient<Channel> {
    ContactsServiceClient::new(channel.clone()).max_encoding_message_size(16 << 20)
}

/// One acknowledged contact: a survivor, or one merged into `merged_into`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Acknowledged {
    tenant: String,
    id: String,
    merged_into: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn load(
    channel: Channel,
    tenant: String,
    pictures: PathBuf,
    concurrency: usize,
    seconds: f64,
    merge_every: usize,
    ledger: PathBuf,
) -> anyhow::Result<()> {
    let mut paths: Vec<_> =
        std::fs::read_dir(&pictures)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.retain(|path| path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')));
    paths.sort();
    anyhow::ensure!(!paths.is_empty(), "no pictures in {}", pictures.display());
    let pictures: Arc<Vec<Vec<u8>>> = Arc::new(paths.iter().map(std::fs::read).collect::<Result<_, _>>()?);
    // Request ids unique to this run: a retry repeats its call's id.
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let ledger = Arc::new(Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(&ledger)?));
    let next = Arc::new(AtomicUsize::new(0));
    let pictures_used = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, tenant, pictures, tally, ledger, next, used) = (
                client(&channel),
                tenant.clone(),
                pictures.clone(),
                tally.clone(),
                ledger.clone(),
                next.clone(),
                pictures_used.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let merge = merge_every > 0 && n % merge_every == merge_every - 1;
                    let mut created = Vec::new();
                    let mut tenant_of_op = None;
                    for side in if merge { &["a", "b"][..] } else { &["a"][..] } {
                        let picture = used.fetch_add(1, Ordering::Relaxed);
                        // One tenant per pass over the pictures: every upload is new.
                        let tenant = tenant_of_op
                            .get_or_insert_with(|| format!("{tenant}-{run:x}-{}", picture / pictures.len()))
                            .clone();
                        let message = CreateContactRequest {
                            contact: Some(Contact { first_name: format!("cluster-{n}-{side}"), ..Default::default() }),
                            profile_picture: pictures[picture % pictures.len()].clone(),
                            request_id: format!("c{run:x}-{n}-{side}"),
                        };
                        let result = retrying(&tally, "CreateContact", || {
                            let (mut client, request) = (client.clone(), request(&tenant, message.clone()));
                            async move { client.create_contact(request).await }
                        })
                        .await;
                        let Some(contact) = result else { break };
                        tally.lock().unwrap().creates += 1;
                        created.push(contact.id);
                    }
                    let tenant = tenant_of_op.unwrap_or_default();
                    let mut acknowledged: Vec<Acknowledged> = created
                        .iter()
                        .map(|id| Acknowledged { tenant: tenant.clone(), id: id.clone(), merged_into: None })
                        .collect();
                    if merge && created.len() == 2 {
                        let message = MergeContactsRequest {
                            primary_id: created[0].clone(),
                            duplicate_id: created[1].clone(),
                            take_from_duplicate: vec!["profile_picture".to_owned()],
                            request_id: format!("m{run:x}-{n}"),
                        };
                        let merged = retrying(&tally, "MergeContacts", || {
                            let (mut client, request) = (client.clone(), request(&tenant, message.clone()));
                            async move { client.merge_contacts(request).await }
                        })
                        .await;
                        if merged.is_some() {
                            tally.lock().unwrap().merges += 1;
                            acknowledged[1].merged_into = Some(created[0].clone());
                        }
                    }
                    let mut ledger = ledger.lock().unwrap();
                    for entry in acknowledged {
                        let _ = writeln!(ledger, "{}", serde_json::to_string(&entry).expect("serializable"));
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let tally = tally.lock().unwrap();
    let report = serde_json::json!({
        "operation": "load",
        "concurrency": concurrency,
        "seconds": elapsed,
        "creates": tally.creates,
        "merges": tally.merges,
        "creates_per_second": tally.creates as f64 / elapsed,
        "retried": tally.retried,
        "unexpected_errors": tally.unexpected,
        "gave_up": tally.gave_up,
        "error_samples": tally.unexpected_samples,
    });
    println!("{report}");
    Ok(())
}

async fn verify(channel: Channel, ledger: PathBuf, concurrency: usize) -> anyhow::Result<bool> {
    let entries: Vec<Acknowledged> = std::fs::read_to_string(&ledger)?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let entries = Arc::new(entries);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let fetched = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, entries, tally, problems, next, fetched, http) = (
                client(&channel),
                entries.clone(),
                tally.clone(),
                problems.clone(),
                next.clone(),
                fetched.clone(),
                http.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let Some(entry) = entries.get(next.fetch_add(1, Ordering::Relaxed)) else { return };
                    let message = GetContactRequest { id: entry.id.clone(), revision: 0 };
                    let got = retrying(&tally, "GetContact", || {
                        let (mut client, request) = (client.clone(), request(&entry.tenant, message.clone()));
                        async move { client.get_contact(request).await }
                    })
                    .await;
                    let problem = match got {
                        None => Some("not readable".to_owned()),
                        Some(contact) if contact.id != *entry.merged_into.as_ref().unwrap_or(&entry.id) => {
                            Some(format!("resolves to {}", contact.id))
                        }
                        Some(contact) => match contact.profile_picture.and_then(|p| p.renditions.into_iter().next()) {
                            None => Some("no picture".to_owned()),
                            Some(rendition) => match http.get(&rendition.url).send().await {
                                Ok(response) if response.status().is_success() => match response.bytes().await {
                                    Ok(bytes) if !bytes.is_empty() => {
                                        fetched.fetch_add(1, Ordering::Relaxed);
                                        None
                                    }
                                    Ok(_) => Some("empty picture".to_owned()),
                                    Err(error) => Some(format!("picture body: {error}")),
                                },
                                Ok(response) => Some(format!("picture GET answered {}", response.status())),
                                Err(error) => Some(format!("picture GET failed: {error}")),
                            },
                        },
                    };
                    if let Some(problem) = problem {
                        problems.lock().unwrap().push(format!("{}/{}: {problem}", entry.tenant, entry.id));
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let problems = problems.lock().unwrap();
    let tally = tally.lock().unwrap();
    let merged = entries.iter().filter(|entry| entry.merged_into.is_some()).count();
    let report = serde_json::json!({
        "operation": "verify",
        "acknowledged": entries.len(),
        "merged_away": merged,
        "pictures_fetched": fetched.load(Ordering::Relaxed),
        "problems": problems.len(),
        "problem_samples": problems.iter().take(10).collect::<Vec<_>>(),
        "retried": tally.retried,
        "unexpected_errors": tally.unexpected,
    });
    println!("{report}");
    Ok(problems.is_empty() && tally.unexpected.is_empty())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let channel = channel(&args.endpoints)?;
    match args.command {
        Command::Load { tenant, pictures, concurrency, seconds, merge_every, ledger } => {
            load(channel, tenant, pictures, concurrency, seconds, merge_every, ledger).await
        }
        Command::Verify { ledger, concurrency } => {
            if !verify(channel, ledger, concurrency).await? {
                std::process::exit(2);
            }
            Ok(())
        }
    }
}
