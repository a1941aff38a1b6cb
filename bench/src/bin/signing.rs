//! Microseconds per signed URL: media-svc's SigV4 signer against the SDK's
//! presigning (the whole request orchestrator per URL), on the same keys.
//!
//!   cargo run --release -p accommador-bench --bin signing

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::{
    config::{BehaviorVersion, Credentials, Region},
    presigning::PresigningConfig,
};
use clap::Parser;
use media_svc::storage::{S3Settings, UrlSigner};

#[derive(Debug, Parser)]
#[command(about = "Measures microseconds per presigned GET URL")]
struct Args {
    /// URLs signed per measurement.
    #[arg(long, default_value_t = 100_000)]
    urls: usize,
    /// Measurements; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = S3Settings {
        endpoint: Some("http://127.0.0.1:9000".into()),
        public_endpoint: None,
        region: "us-east-1".into(),
        bucket: "accommador-media".into(),
        access_key_id: "GKbenchmarkaccesskey".into(),
        secret_access_key: "benchmark-secret-benchmark-secret-0123456789".into(),
        force_path_style: true,
    };
    let keys: Vec<String> = (0..args.urls).map(|i| format!("acme/images/{i:064x}/128.jpg")).collect();
    let start = SystemTime::now();
    let ttl = Duration::from_secs(3600);

    let signer = UrlSigner::new(&settings)?;
    let ours = median_us_per_url(&args, || {
        for key in &keys {
            std::hint::black_box(signer.presign_get(key, start, ttl).expect("signs"));
        }
    });

    let sdk = sdk_client(&settings);
    let config = PresigningConfig::builder().start_time(start).expires_in(ttl).build()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let sdk_urls = args.urls.min(20_000);
    let sdk_us = median_us_per_url(&Args { urls: sdk_urls, rounds: args.rounds }, || {
        runtime.block_on(async {
            for key in &keys[..sdk_urls] {
                let request =
                    sdk.get_object().bucket(&settings.bucket).key(key).presigned(config.clone()).await.expect("signs");
                std::hint::black_box(request.uri().to_owned());
            }
        });
    });
    println!("| signer | µs per URL (median of {} rounds) |", args.rounds);
    println!("|---|---|");
    println!("| media-svc UrlSigner (aws-sigv4) | {ours:.2} |");
    println!("| aws-sdk-s3 presigned() | {sdk_us:.2} |");
    Ok(())
}

fn median_us_per_url(args: &Args, mut sign_all: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..args.rounds)
        .map(|_| {
            let started = Instant::now();
            sign_all();
            started.elapsed().as_secs_f64() * 1e6 / args.urls as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn sdk_client(settings: &S3Settings) -> aws_sdk_s3::Client {
    let secret = secrecy::ExposeSecret::expose_secret(&settings.secret_access_key);
    let credentials = Credentials::new(&settings.access_key_id, secret, None, None, "benchmark");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .endpoint_url(settings.endpoint.clone().expect("endpoint"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
