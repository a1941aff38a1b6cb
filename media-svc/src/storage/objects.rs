//! The S3 operations media-svc needs, over `aws-sdk-s3`.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::{
    Client,
    config::{
        BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
        http::HttpResponse, retry::RetryConfig, timeout::TimeoutConfig,
    },
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    primitives::ByteStream,
};

use secrecy::{ExposeSecret, SecretString};

use super::{StorageError, UrlSigner};

/// `Cache-Control` of the image objects signed URLs fetch.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Endpoint the service talks to, e.g. `http://minio:9000`; `None` is AWS S3.
    pub endpoint: Option<String>,
    /// Endpoint that goes into signed URLs, e.g. `http://localhost:9000`: the
    /// host is part of a SigV4 signature, so URLs must be signed for the
    /// address browsers use. Defaults to `endpoint`.
    pub public_endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// `http://host/bucket/key` instead of `http://bucket.host/key`; MinIO and Garage need it.
    pub force_path_style: bool,
}

impl S3Settings {
    /// The key pair as the SDK and the URL signer take it: the one place the secret is exposed.
    pub(crate) fn credentials(&self) -> Credentials {
        Credentials::new(&self.access_key_id, self.secret_access_key.expose_secret(), None, None, "media-svc-config")
    }
}

/// One object found by a listing.
#[derive(Debug, Clone)]
pub struct ListedObject {
    pub key: String,
    pub last_modified: Option<SystemTime>,
}

/// The bucket: an SDK client for the service's own requests, and a
/// [`UrlSigner`] for URLs at the public endpoint.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    client: Client,
    signer: UrlSigner,
    bucket: String,
}

impl ObjectStore {
    /// Fails only when an endpoint is not a URL.
    pub fn new(settings: &S3Settings) -> Result<Self, StorageError> {
        Ok(Self {
            client: Client::from_conf(client_config(settings)),
            signer: UrlSigner::new(settings)?,
            bucket: settings.bucket.clone(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket unless it exists (used for the embedded server).
    pub async fn create_bucket_if_missing(&self) -> Result<(), StorageError> {
        if self.check_bucket().await.is_ok() {
            return Ok(());
        }
        match self.client.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(error) if matches!(error.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => Ok(()),
            Err(error) => Err(storage_error("create bucket", error)),
        }
    }

    /// Succeeds when the bucket answers: the readiness check.
    pub async fn check_bucket(&self) -> Result<(), StorageError> {
        self.client.head_bucket().bucket(&self.bucket).send().await.map_err(|e| storage_error("head bucket", e))?;
        Ok(())
    }

    pub async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        // Image objects are named by their content's hash: what a key holds
        // never changes, so browsers and CDNs may keep it for good.
        let cache_control = content_type.starts_with("image/").then_some(IMMUTABLE);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .set_cache_control(cache_control.map(str::to_owned))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|error| storage_error("put object", error))?;
        Ok(())
    }

    /// The object's bytes, or `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => {
                let body = output
                    .body
                    .collect()
                    .await
                    .map_err(|error| StorageError { message: format!("read object body: {error}"), retryable: true })?;
                Ok(Some(body.to_vec()))
            }
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(storage_error("get object", error)),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(error) if is_not_found(&error) => Ok(false),
            Err(error) => Err(storage_error("head object", error)),
        }
    }

    /// Deletes an object; deleting a missing object succeeds (as in S3).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.client.delete_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => {
                // Two releases deleting one image at once both delete its
                // objects, and a server that checks for the file before
                // removing it (the embedded one) fails the loser with a 500.
                // The object being gone is what a delete is for.
                let failed = storage_error("delete object", error);
                match self.exists(key).await {
                    Ok(false) => Ok(()),
                    _ => Err(failed),
                }
            }
        }
    }

    /// Every object under `prefix`, following continuation tokens.
    ///
    /// A listing that fails on the server side is read again a few times
    /// (after the SDK's own retries): one over a prefix whose objects other
    /// calls are deleting can fail where a file vanishes mid-walk (the
    /// embedded server does, when many owners release one image at once),
    /// and a listing is a read, safe to repeat.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StorageError> {
        const ATTEMPTS: u32 = 5;
        let mut attempt = 1;
        loop {
            match self.list_once(prefix).await {
                Err(error) if error.retryable && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                    attempt += 1;
                }
                listed => return listed,
            }
        }
    }

    async fn list_once(&self, prefix: &str) -> Result<Vec<ListedObject>, StorageError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| storage_error("list objects", error))?;
            objects.extend(page.contents().iter().filter_map(|object| {
                Some(ListedObject {
                    key: object.key()?.to_owned(),
                    last_modified: object.last_modified().and_then(|time| SystemTime::try_from(*time).ok()),
                })
            }));
        }
        Ok(objects)
    }

    /// The "directories" one level below `prefix` (common prefixes for `/`).
    pub async fn list_prefixes(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).delimiter("/").into_paginator().send();
        let mut prefixes = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| storage_error("list prefixes", error))?;
            prefixes.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        }
        Ok(prefixes)
    }

    /// A GET URL for `key`, valid from `start` for `ttl`, signed for the
    /// public endpoint. The same inputs give the same URL.
    pub fn presign_get(&self, key: &str, start: SystemTime, ttl: Duration) -> Result<String, StorageError> {
        self.signer.presign_get(key, start, ttl)
    }
}

fn client_config(settings: &S3Settings) -> aws_sdk_s3::Config {
    let credentials = settings.credentials();
    let mut builder = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(settings.force_path_style)
        // Many S3-compatible servers reject the checksums the SDK sends by default.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

fn status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|response| response.status().as_u16())
}

fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    // HEAD responses have no body, so only the status tells.
    status(error) == Some(404) || matches!(error.code(), Some("NoSuchKey" | "NotFound"))
}

fn storage_error<E>(operation: &str, error: SdkError<E, HttpResponse>) -> StorageError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => status(&error).is_some_and(|code| code >= 500),
        _ => false,
    };
    StorageError { message: format!("{operation}: {}", DisplayErrorContext(&error)), retryable }
}
