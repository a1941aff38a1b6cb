//! The tonic face of media-svc: read the request, call the domain, encode the
//! answer. No image or storage logic lives here.

use accommador_proto::{
    accommador::media::v1::{
        ClaimImageRequest, Image, ImageInfo, SignImageUrlsRequest, SignImageUrlsResponse, UploadImageRequest,
        ValidateImageRequest, media_service_server::MediaService,
    },
    tenant::TenantId,
};
use tonic::{Request, Response, Status};

use crate::error::Error;

#[derive(Debug, Default)]
pub struct MediaApi {}

impl MediaApi {
    pub fn new() -> Self {
        Self {}
    }
}

#[tonic::async_trait]
impl MediaService for MediaApi {
    async fn validate_image(&self, request: Request<ValidateImageRequest>) -> Result<Response<ImageInfo>, Status> {
        TenantId::from_metadata(request.metadata()).map_err(Error::from)?;
        Err(Error::Unimplemented("ValidateImage").into())
    }

    async fn upload_image(&self, request: Request<UploadImageRequest>) -> Result<Response<Image>, Status> {
        TenantId::from_metadata(request.metadata()).map_err(Error::from)?;
        Err(Error::Unimplemented("UploadImage").into())
    }

    async fn claim_image(&self, request: Request<ClaimImageRequest>) -> Result<Response<Image>, Status> {
        TenantId::from_metadata(request.metadata()).map_err(Error::from)?;
        Err(Error::Unimplemented("ClaimImage").into())
    }

    async fn sign_image_urls(
        &self,
        request: Request<SignImageUrlsRequest>,
    ) -> Result<Response<SignImageUrlsResponse>, Status> {
        TenantId::from_metadata(request.metadata()).map_err(Error::from)?;
        Err(Error::Unimplemented("SignImageUrls").into())
    }
}
