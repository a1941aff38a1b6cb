//! The gRPC contract of Accommador's contact-picture services, and the wire
//! conventions that both services (and their clients) must agree on.
//!
//! - [`accommador`]: code generated from `proto/accommador/**.proto`, nested
//!   like the protobuf packages (`accommador::contacts::v1`, ...).
//! - [`tenant`]: the `x-tenant-id` and `x-request-id` metadata every call carries.
//! - [`status`]: building a `tonic::Status` with `google.rpc` error details (AIP-193).
//! - [`reasons`]: the stable `ErrorInfo.reason` strings of both services.
//! - [`codec`]: tonic-prost's codec, with malformed requests reported as
//!   INVALID_ARGUMENT rather than INTERNAL.
//!
//! Nothing else: what servers of this contract do alike (authentication,
//! TLS, telemetry, limits, health, `serve`) is `accommador-server`
//! (`proto/server/`), so a client of the contract pays for neither clap nor
//! rustls nor a Prometheus exporter.

pub mod codec;
pub mod reasons;
pub mod status;
pub mod tenant;

/// Generated code, one module per protobuf package.
pub mod accommador {
    pub mod contacts {
        #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
        pub mod v1 {
            tonic::include_proto!("accommador.contacts.v1");
        }
    }
    pub mod media {
        #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
        pub mod v1 {
            tonic::include_proto!("accommador.media.v1");
        }
    }
}

/// Encoded `FileDescriptorSet` of both services, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/accommador_descriptor.bin"));

/// Encoded `FileDescriptorSet` of the contacts service alone (with its
/// imports): what contacts-svc's reflection serves.
pub const CONTACTS_FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/contacts_descriptor.bin"));

/// Encoded `FileDescriptorSet` of the media service alone (with its imports).
pub const MEDIA_FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/media_descriptor.bin"));

/// Encoded `FileDescriptorSet` of `google.rpc.Status` and the error detail
/// messages, registered in reflection so grpcurl can print error details.
pub const ERROR_DETAILS_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/google_rpc_descriptor.bin"));
