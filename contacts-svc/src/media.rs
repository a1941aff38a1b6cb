//! The client side of media-svc: uploads, claims and URL signing, carrying
//! the tenant and the request id of the call being served. media-svc's
//! message types stay in here: callers get domain types.

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, SystemTime},
};

use accommador_proto::{
    accommador::media::v1::{
        ClaimImageRequest, ReleaseImageRequest, SignImageUrlsRequest, SignImageUrlsResponse, SignedImage,
        UploadImageRequest, media_service_client::MediaServiceClient,
    },
    tenant::{REQUEST_ID_HEADER, TENANT_ID_HEADER},
};
use accommador_server::auth::AUTHORIZATION_HEADER;
use tonic::{Code, Status, transport::Channel};

use crate::{
    balance,
    context::RequestContext,
    domain::{Picture, PictureLimit, Rendition},
    error::Error,
};

/// Room around the picture in an UploadImage request (its tag and length,
/// the request id); other requests are far smaller.
const MESSAGE_OVERHEAD_BYTES: usize = 64 * 1024;
/// Largest answer from media-svc: no answer carries image bytes; the largest,
/// URLs for a page of 200 pictures, is a few hundred KiB.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// An uploaded, still pending image.
#[derive(Debug, Clone)]
pub(crate) struct UploadedImage {
    pub(crate) image_id: String,
    /// When the upload's lease ends (microseconds since the epoch): media-svc
    /// may delete the image after it unless claimed, and the claim that
    /// follows names it (see [`MediaClient::claim`]).
    pub(crate) claim_deadline_us: i64,
}

#[derive(Clone)]
pub struct MediaClient {
    client: MediaServiceClient<Channel>,
    /// Longest any one call may take (MEDIA_TIMEOUT); a caller's earlier deadline wins.
    timeout: Duration,
    url_ttl: Duration,
    /// `Bearer <token>`, presented on every call.
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    /// How many media-svc addresses calls are spread over; `None` until
    /// MEDIA_ENDPOINT is first resolved.
    addresses: tokio::sync::watch::Receiver<Option<usize>>,
}

/// How the calls are spread over media-svc's replicas (see [`crate::balance`]).
#[derive(Debug, Clone, Copy)]
pub struct Balancing {
    /// MEDIA_RESOLVE_INTERVAL
    pub resolve_interval: Duration,
    /// MEDIA_MAX_ADDRESSES
    pub max_addresses: usize,
}

impl MediaClient {
    /// A client that connects on first use (media-svc may start later),
    /// balancing its calls over every address `endpoints` (one endpoint or
    /// a comma-separated list) resolves to, resolved again periodically.
    /// Needs a tokio runtime: the resolver runs as a task, until the client
    /// and its clones are gone.
    pub fn connect_lazy(
        endpoints: &str,
        timeout: Duration,
        url_ttl: Duration,
        token: Option<String>,
        tls: Option<tonic::transport::ClientTlsConfig>,
        pictures: PictureLimit,
        balancing: Balancing,
    ) -> anyhow::Result<Self> {
        let targets = balance::parse_targets(endpoints)?;
        // Each address's endpoint: the call's :authority and the TLS server
        // name stay the configured host's, whatever address it resolved to.
        let endpoint = move |target: &balance::Target, address: SocketAddr| {
            let scheme = target.uri.scheme_str().unwrap_or("http");
            let mut endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{address}"))?
                .origin(target.uri.clone())
                .connect_timeout(Duration::from_secs(2))
                .http2_adaptive_window(true);
            if let Some(tls) = &tls {
                endpoint = endpoint.tls_config(tls.clone().domain_name(target.host.clone()))?;
            }
            anyhow::Ok(endpoint)
        };
        // The same settings fail on any address: found here, at startup.
        for target in &targets {
            endpoint(target, SocketAddr::from(([127, 0, 0, 1], target.port)))?;
        }
        let endpoint = move |target: &balance::Target, address| {
            endpoint(target, address).expect("endpoint settings were checked at startup")
        };
        let (channel, changes) = Channel::balance_channel(1024);
        let (count, addresses) = tokio::sync::watch::channel(None);
        tokio::spawn(balance::run(
            targets,
            endpoint,
            balance::system_resolve(),
            balancing.resolve_interval,
            balancing.max_addresses,
            changes,
            count,
        ));
        let mut authorization = None;
        if let Some(token) = token {
            let mut value: tonic::metadata::MetadataValue<tonic::metadata::Ascii> = format!("Bearer {}", token.trim())
                .parse()
                .map_err(|_| anyhow::anyhow!("MEDIA_TOKEN must be printable ASCII"))?;
            value.set_sensitive(true);
            authorization = Some(value);
        }
        // The book sends no picture over its limit, and this one follows it, so
        // the hop never trips a transport limit (media-svc's is far higher).
        let client = MediaServiceClient::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(pictures.max_bytes + MESSAGE_OVERHEAD_BYTES);
        Ok(Self { client, timeout, url_ttl, authorization, addresses })
    }

    pub(crate) async fn upload(&self, context: &RequestContext, data: Vec<u8>) -> Result<UploadedImage, Error> {
        let message = UploadImageRequest { data, request_id: context.request_id.clone() };
        let image = self
            .call(context, message, |mut client, request| async move { client.upload_image(request).await })
            .await?;
        // The upload's own lease: the claim that follows names it, so it ends
        // that lease alone (media-svc before leases per upload answered
        // only `pending_expire_time`, and none for a claimed image).
        let lease = image.lease_expire_time.or(image.pending_expire_time);
        let deadline = lease.map_or(i64::MAX, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000);
        Ok(UploadedImage { image_id: image.image_id, claim_deadline_us: deadline })
    }

    /// Claims `image_id` for `owner`; `true` when this call wrote the claim
    /// (it was missing), `false` when the owner held it already.
    /// `upload_lease_us` is the lease of the upload the claim follows, when
    /// there was one: media-svc ends that lease, and no other upload's.
    pub(crate) async fn claim(
        &self,
        context: &RequestContext,
        image_id: &str,
        owner: &str,
        upload_lease_us: Option<i64>,
    ) -> Result<bool, Error> {
        let lease_expire_time = upload_lease_us.map(|micros| prost_types::Timestamp {
            seconds: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
        });
        let message = ClaimImageRequest { image_id: image_id.to_owned(), owner: owner.to_owned(), lease_expire_time };
        let image =
            self.call(context, message, |mut client, request| async move { client.claim_image(request).await }).await?;
        Ok(image.owner_claim_created)
    }

    /// Gives up `owner`'s claim of `image_id`; media-svc deletes the image
    /// once no claim is left. Idempotent: a claim already gone is a success.
    pub(crate) async fn release(&self, context: &RequestContext, image_id: &str, owner: &str) -> Result<(), Error> {
        let message = ReleaseImageRequest { image_id: image_id.to_owned(), owner: owner.to_owned() };
        self.call(context, message, |mut client, request| async move { client.release_image(request).await }).await?;
        Ok(())
    }

    /// Signed URLs for `image_ids` in one call. Ids media-svc does not know
    /// are left out (each logged once) rather than failing the response: a
    /// page loses only the pictures that are gone.
    pub(crate) async fn sign(
        &self,
        context: &RequestContext,
        mut image_ids: Vec<String>,
    ) -> Result<HashMap<String, Picture>, Error> {
        image_ids.sort();
        image_ids.dedup();
        if image_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let response = self.sign_present(context, image_ids).await?;
        for missing in &response.missing_image_ids {
            tracing::error!(image_id = %missing, "a contact's picture is missing from media-svc");
        }
        Ok(response.images.into_iter().map(|image| (image.image_id.clone(), picture(image))).collect())
    }

    /// One picture's signed URLs, or `None` when media-svc no longer has
    /// it: for a stable URL, which may well outlive its picture.
    pub(crate) async fn sign_if_stored(
        &self,
        context: &RequestContext,
        image_id: &str,
    ) -> Result<Option<Picture>, Error> {
        let response = self.sign_present(context, vec![image_id.to_owned()]).await?;
        Ok(response.images.into_iter().next().map(picture))
    }

    async fn sign_present(
        &self,
        context: &RequestContext,
        image_ids: Vec<String>,
    ) -> Result<SignImageUrlsResponse, Error> {
        let ttl = prost_types::Duration { seconds: self.url_ttl.as_secs() as i64, nanos: 0 };
        let message = SignImageUrlsRequest { image_ids, ttl: Some(ttl), skip_missing: true };
        self.call(context, message, |mut client, request| async move { client.sign_image_urls(request).await }).await
    }
}

impl MediaClient {
    /// Runs one RPC within what is left of the caller's deadline, capped by
    /// MEDIA_TIMEOUT. media-svc is told the same budget (`grpc-timeout`), so
    /// it stops working for a caller that has given up; our own timer turns
    /// the expiry into DEADLINE_EXCEEDED.
    async fn call<T, R, F>(
        &self,
        context: &RequestContext,
        message: T,
        rpc: impl FnOnce(MediaServiceClient<Channel>, tonic::Request<T>) -> F,
    ) -> Result<R, Error>
    where
        F: std::future::Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let budget = context.deadline.map_or(self.timeout, |deadline| {
            deadline.saturating_duration_since(std::time::Instant::now()).min(self.timeout)
        });
        self.await_addresses(budget).await?;
        let mut request = self.request(context, message);
        request.set_timeout(budget);
        match tokio::time::timeout(budget, rpc(self.client.clone(), request)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) if status.code() == Code::DeadlineExceeded || is_local_timeout(&status) => {
                Err(Error::MediaDeadlineExceeded(budget))
            }
            Ok(Err(status)) => Err(media_error(status)),
            Err(_) => Err(Error::MediaDeadlineExceeded(budget)),
        }
    }

    /// Fails at once when MEDIA_ENDPOINT resolved to no address (the call
    /// would wait for one until its deadline); before the first resolution
    /// ends, waits for it within `budget`.
    async fn await_addresses(&self, budget: Duration) -> Result<(), Error> {
        let resolved = *self.addresses.borrow();
        let resolved = match resolved {
            Some(count) => count,
            None => {
                let mut addresses = self.addresses.clone();
                match tokio::time::timeout(budget, addresses.wait_for(Option::is_some)).await {
                    Ok(Ok(count)) => count.unwrap_or(0),
                    Ok(Err(_)) => 0,
                    Err(_) => return Err(Error::MediaDeadlineExceeded(budget)),
                }
            }
        };
        if resolved == 0 {
            return Err(Error::MediaUnavailable("MEDIA_ENDPOINT resolved to no address".to_owned()));
        }
        Ok(())
    }

    /// Every request to media-svc is built here: the one place its metadata is set.
    fn request<T>(&self, context: &RequestContext, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        if let Ok(tenant) = context.tenant.as_str().parse() {
            metadata.insert(TENANT_ID_HEADER, tenant);
        }
        if let Ok(request_id) = context.request_id.parse() {
            metadata.insert(REQUEST_ID_HEADER, request_id);
        }
        if let Some(authorization) = &self.authorization {
            metadata.insert(AUTHORIZATION_HEADER, authorization.clone());
        }
        accommador_server::otlp::inject_context(metadata);
        request
    }
}

/// The one conversion from media-svc's signed image to the domain's picture.
fn picture(signed: SignedImage) -> Picture {
    let renditions = signed
        .renditions
        .into_iter()
        .map(|r| Rendition {
            size: r.size,
            width: r.width,
            height: r.height,
            content_type: r.content_type,
            url: r.url,
            // The book adds it: it depends on the tenant, not on media-svc.
            stable_url: String::new(),
        })
        .collect();
    // A timestamp outside what SystemTime holds cannot come from media-svc's clock: read as none.
    let url_expire_time = signed.expire_time.and_then(|time| SystemTime::try_from(time).ok());
    Picture {
        image_id: signed.image_id,
        renditions,
        url_expire_time,
        thumbhash: signed.thumbhash,
        dominant_color: signed.dominant_color,
    }
}

/// Whether tonic's own client timer (set from `grpc-timeout`) ended the call:
/// it reports that as CANCELLED "Timeout expired", which for our caller is
/// a deadline that passed.
fn is_local_timeout(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Media errors keep their code; transport failures mean media-svc is unavailable.
fn media_error(status: Status) -> Error {
    match status.code() {
        Code::Unavailable | Code::Cancelled | Code::Unknown => Error::MediaUnavailable(status.message().to_owned()),
        _ => Error::Media(status),
    }
}
