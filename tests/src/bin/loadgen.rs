//! Load generator: drives CreateContact (with pictures), ListContacts and
//! MergeContacts against a running contacts-svc at a chosen concurrency, and
//! prints throughput, p50/p99 latency and errors by code per operation.
//!
//!   cargo run --release -p accommador-tests --bin loadgen -- --operation create --concurrency 4 --requests 200

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use accommador_proto::accommador::contacts::v1::{
    Contact, CreateContactRequest, ListContactsRequest, MergeContactsRequest,
    contacts_service_client::ContactsServiceClient,
};
use clap::{Parser, ValueEnum};
use media_svc::samples::{self, JpegOptions};
use tokio::sync::Mutex;
use tonic::transport::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Operation {
    /// CreateContact with a picture.
    Create,
    /// ListContacts, first page of 50.
    List,
    /// Create two contacts without pictures, then merge them.
    Merge,
}

#[derive(Debug, Parser)]
#[command(about = "Drives contacts-svc and reports throughput, latency and errors")]
struct Args {
    /// contacts-svc's gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// Tenant to act for.
    #[arg(long, default_value = "loadgen")]
    tenant: String,
    /// Bearer token, when contacts-svc requires one.
    #[arg(long, env = "LOADGEN_TOKEN")]
    token: Option<String>,
    /// Operations to run (repeat the flag or separate with commas).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "create")]
    operation: Vec<Operation>,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Calls per operation.
    #[arg(long, default_value_t = 100)]
    requests: usize,
    /// Distinct pictures to cycle through (the same bytes dedupe in media-svc).
    #[arg(long, default_value_t = 16)]
    distinct_pictures: u32,
    /// Picture size, WIDTHxHEIGHT pixels.
    #[arg(long, default_value = "1600x1200")]
    picture_size: String,
    /// Upload the files of this directory (e.g. the benchmark corpus)
    /// instead of generated pictures.
    #[arg(long)]
    pictures: Option<std::path::PathBuf>,
    /// Create contacts without a picture.
    #[arg(long, conflicts_with = "pictures")]
    without_pictures: bool,
    /// Create in tenant `TENANT-PASS` for each pass over the pictures, so that
    /// every upload is new to media-svc (it stores identical bytes of a
    /// tenant once and skips the pipeline for them).
    #[arg(long)]
    tenant_per_pass: bool,
    /// Deadline of each call, sent as `grpc-timeout` (e.g. `60s`); unset: none.
    #[arg(long, value_parser = humantime::parse_duration)]
    deadline: Option<Duration>,
    /// Print one JSON object per operation instead of a table.
    #[arg(long)]
    json: bool,
}

/// What one call did: its latency and its gRPC code (0 = OK), and for a
/// create the image id media-svc stored its picture under.
struct Outcome {
    latency: Duration,
    code: i32,
    image_id: Option<String>,
}

fn request<T>(args: &Args, tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("x-tenant-id", tenant.parse().expect("tenant is valid metadata"));
    if let Some(token) = &args.token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("token is ASCII"));
    }
    if let Some(deadline) = args.deadline {
        request.set_timeout(deadline);
    }
    request
}

async fn call(
    args: &Args,
    client: &mut ContactsServiceClient<Channel>,
    operation: Operation,
    n: usize,
    pictures: &[Vec<u8>],
) -> Outcome {
    let code = |result: Result<(), tonic::Status>| result.map_or_else(|status| status.code() as i32, |()| 0);
    let person = |name: String| Contact { first_name: name, ..Default::default() };
    let started = Instant::now();
    let (code, image_id) = match operation {
        Operation::Create => {
            let profile_picture = if args.without_pictures { Vec::new() } else { pictures[n % pictures.len()].clone() };
            let message = CreateContactRequest {
                contact: Some(person(format!("load-{n}"))),
                profile_picture,
                request_id: String::new(),
            };
            let tenant = if args.tenant_per_pass {
                format!("{}-{}", args.tenant, n / pictures.len())
            } else {
                args.tenant.clone()
            };
            match client.create_contact(request(args, &tenant, message)).await {
                Ok(response) => (0, response.into_inner().profile_picture.map(|picture| picture.image_id)),
                Err(status) => (status.code() as i32, None),
            }
        }
        Operation::List => {
            let message = ListContactsRequest { page_size: 50, ..Default::default() };
            (code(client.list_contacts(request(args, &args.tenant, message)).await.map(drop)), None)
        }
        Operation::Merge => {
            let mut ids = Vec::new();
            for side in ["a", "b"] {
                let message =
                    CreateContactRequest { contact: Some(person(format!("merge-{n}-{side}"))), ..Default::default() };
                match client.create_contact(request(args, &args.tenant, message)).await {
                    Ok(response) => ids.push(response.into_inner().id),
                    Err(status) => {
                        return Outcome { latency: started.elapsed(), code: status.code() as i32, image_id: None };
                    }
                }
            }
            let started = Instant::now();
            let message =
                MergeContactsRequest { primary_id: ids[0].clone(), duplicate_id: ids[1].clone(), ..Default::default() };
            let result = code(client.merge_contacts(request(args, &args.tenant, message)).await.map(drop));
            return Outcome { latency: started.elapsed(), code: result, image_id: None };
        }
    };
    Outcome { latency: started.elapsed(), code, image_id }
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let (width, height) =
        args.picture_size.split_once('x').ok_or_else(|| anyhow::anyhow!("--picture-size is WIDTHxHEIGHT"))?;
    let (width, height): (u32, u32) = (width.parse()?, height.parse()?);
    let pictures: Arc<Vec<Vec<u8>>> = Arc::new(match &args.pictures {
        Some(directory) => {
            let mut paths: Vec<_> =
                std::fs::read_dir(directory)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
            paths.retain(|path| {
                path.is_file() && !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'))
            });
            paths.sort();
            anyhow::ensure!(!paths.is_empty(), "no files in {}", directory.display());
            paths.iter().map(std::fs::read).collect::<Result<_, _>>()?
        }
        None => (0..args.distinct_pictures.max(1))
            .map(|seed| {
                samples::jpeg(&samples::photo(width, height, seed), JpegOptions { quality: 85, ..Default::default() })
            })
            .collect(),
    });
    let channel = tonic::transport::Endpoint::from_shared(args.endpoint.clone())?.connect().await?;
    for &operation in &args.operation {
        let next = Arc::new(Mutex::new(0usize));
        let outcomes = Arc::new(Mutex::new(Vec::with_capacity(args.requests)));
        let started = Instant::now();
        let workers: Vec<_> = (0..args.concurrency.max(1))
            .map(|_| {
                let (args, pictures, next, outcomes) = (args.clone(), pictures.clone(), next.clone(), outcomes.clone());
                let mut client = ContactsServiceClient::new(channel.clone()).max_encoding_message_size(8 << 20);
                tokio::spawn(async move {
                    loop {
                        let n = {
                            let mut next = next.lock().await;
                            if *next >= args.requests {
                                return;
                            }
                            *next += 1;
                            *next - 1
                        };
                        let outcome = call(&args, &mut client, operation, n, &pictures).await;
                        outcomes.lock().await.push(outcome);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let outcomes = outcomes.lock().await;
        let mut latencies: Vec<Duration> = outcomes.iter().filter(|o| o.code == 0).map(|o| o.latency).collect();
        latencies.sort();
        let mut codes: BTreeMap<String, usize> = BTreeMap::new();
        for outcome in outcomes.iter().filter(|o| o.code != 0) {
            *codes.entry(format!("{:?}", tonic::Code::from_i32(outcome.code))).or_default() += 1;
        }
        let distinct_images: std::collections::BTreeSet<&String> =
            outcomes.iter().filter_map(|o| o.image_id.as_ref()).collect();
        let ok = latencies.len();
        let report = serde_json::json!({
            "operation": format!("{operation:?}").to_lowercase(),
            "concurrency": args.concurrency,
            "requests": outcomes.len(),
            "ok": ok,
            "seconds": elapsed,
            "throughput_per_second": ok as f64 / elapsed,
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
            "errors": codes,
            "distinct_images": distinct_images.len(),
        });
        if args.json {
            println!("{report}");
        } else {
            println!(
                "{:<7} concurrency {:>3}: {ok}/{} ok in {elapsed:.2}s = {:.1}/s, p50 {:.1} ms, p99 {:.1} ms, errors {:?}",
                report["operation"].as_str().unwrap_or(""),
                args.concurrency,
                outcomes.len(),
                ok as f64 / elapsed,
                report["p50_ms"].as_f64().unwrap_or(0.0),
                report["p99_ms"].as_f64().unwrap_or(0.0),
                codes
            );
        }
    }
    Ok(())
}
