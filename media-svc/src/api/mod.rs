//! The tonic face of media-svc: read the request, call the image library,
//! encode the answer. No image or storage logic lives here.

mod convert;

use std::sync::Arc;

use accommador_proto::{
    accommador::media::v1::{
        ClaimImageRequest, Image, ImageInfo, ReleaseImageRequest, ReleaseImageResponse, SignImageUrlsRequest,
        SignImageUrlsResponse, UploadImageRequest, ValidateImageRequest, media_service_server::MediaService,
    },
    tenant::TenantId,
};
use tonic::{Request, Response, Status};

use crate::{error::Error, images::ImageLibrary};

pub struct MediaApi {
    library: Arc<ImageLibrary>,
}

impl MediaApi {
    pub fn new(library: Arc<ImageLibrary>) -> Self {
        Self { library }
    }
}

fn tenant<T>(request: &Request<T>) -> Result<TenantId, Error> {
    Ok(TenantId::from_metadata(request.metadata())?)
}

/// When the caller stops waiting (its `grpc-timeout`, capped by REQUEST_TIMEOUT).
fn deadline<T>(request: &Request<T>) -> Option<std::time::Instant> {
    request.extensions().get::<accommador_server::guard::Deadline>().map(|deadline| deadline.0)
}

#[tonic::async_trait]
impl MediaService for MediaApi {
    async fn validate_image(&self, request: Request<ValidateImageRequest>) -> Result<Response<ImageInfo>, Status> {
        let tenant = tenant(&request)?;
        let deadline = deadline(&request);
        let data = request.into_inner().data;
        let info = self.library.validate(&tenant, data.into(), deadline).await?;
        Ok(Response::new(convert::image_info(&info)))
    }

    async fn upload_image(&self, request: Request<UploadImageRequest>) -> Result<Response<Image>, Status> {
        let tenant = tenant(&request)?;
        let deadline = deadline(&request);
        let request = request.into_inner();
        convert::request_id(&request.request_id)?;
        let stored = self.library.upload_by(&tenant, request.data.into(), deadline).await?;
        tracing::info!(image_id = %stored.id, claimed = stored.claimed, "image stored");
        Ok(Response::new(convert::image(&stored)))
    }

    async fn claim_image(&self, request: Request<ClaimImageRequest>) -> Result<Response<Image>, Status> {
        let tenant = tenant(&request)?;
        let request = request.into_inner();
        let id = convert::image_id("image_id", &request.image_id)?;
        let owner = convert::owner(&request.owner)?;
        let upload_lease = request.lease_expire_time.and_then(|time| std::time::SystemTime::try_from(time).ok());
        let stored = self.library.claim(&tenant, &id, owner, upload_lease).await?;
        Ok(Response::new(convert::image(&stored)))
    }

    async fn release_image(
        &self,
        request: Request<ReleaseImageRequest>,
    ) -> Result<Response<ReleaseImageResponse>, Status> {
        let tenant = tenant(&request)?;
        let request = request.into_inner();
        let id = convert::image_id("image_id", &request.image_id)?;
        let owner = convert::owner(&request.owner)?;
        let released = self.library.release(&tenant, &id, owner).await?;
        let outcome = released.outcome.label();
        metrics::counter!("media_images_released_total", "outcome" => outcome).increment(1);
        // The owner stays out of the log: it may name a person being erased.
        tracing::info!(image_id = %id, owner_claim_removed = released.owner_claim_removed, outcome, "image released");
        Ok(Response::new(convert::release_response(&released)))
    }

    async fn sign_image_urls(
        &self,
        request: Request<SignImageUrlsRequest>,
    ) -> Result<Response<SignImageUrlsResponse>, Status> {
        let tenant = tenant(&request)?;
        let (ids, ttl, missing) = convert::sign_request(request.get_ref())?;
        let batch = self.library.sign(&tenant, &ids, ttl, missing).await?;
        Ok(Response::new(convert::sign_response(batch)))
    }
}
