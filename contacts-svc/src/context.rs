//! What every use case knows about the call it serves: the tenant it acts
//! for, the request id that ties the logs of both services together, and
//! when the caller stops waiting. The API layer builds it from the gRPC
//! metadata; background jobs build their own; the media client forwards it.

use std::time::Instant;

use accommador_proto::tenant::TenantId;

#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Whose data the call may read and write.
    pub tenant: TenantId,
    /// Ties media-svc's logs to the call that caused them.
    pub request_id: String,
    /// When the caller stops waiting: media-svc gets only what is left of it.
    pub deadline: Option<Instant>,
}

impl RequestContext {
    /// A call no client is waiting for: a background job's, bounded only by
    /// MEDIA_TIMEOUT.
    pub fn background(tenant: TenantId, request_id: String) -> Self {
        Self { tenant, request_id, deadline: None }
    }

    /// A background call for a tenant read back from our own database,
    /// where only valid tenant ids were ever written.
    pub fn background_for_stored(tenant: &str, request_id: String) -> Result<Self, crate::error::Error> {
        let tenant = TenantId::parse(tenant)
            .map_err(|error| crate::error::Error::Internal(format!("stored tenant id {tenant:?}: {error}")))?;
        Ok(Self::background(tenant, request_id))
    }
}
