//! The codec of our generated clients and servers: tonic-prost's, except for
//! what a request that does not decode gets.
//!
//! tonic-prost answers every decoding failure with INTERNAL "failed to
//! decode Protobuf message", as if the server were broken, with no
//! `ErrorInfo`. A request whose string field holds invalid UTF-8 (or whose
//! bytes are no protobuf at all) is the caller's mistake: here it is
//! INVALID_ARGUMENT with reason [`MALFORMED_MESSAGE`] in the serving
//! service's domain, and a message that names the field and the problem
//! (prost's description, which never contains the bytes received).
//!
//! The same codec decodes responses in our clients, where a message that
//! does not decode is the server's fault, not the caller's: that stays
//! INTERNAL. Which side is decoding is told by the message's name: every
//! RPC input ends in `Request` (buf's RPC_REQUEST_STANDARD_NAME, checked in
//! CI by proto/check.sh) and no output does.
//!
//! proto/build.rs generates each service with its own codec
//! ([`ContactsCodec`], [`MediaCodec`]) so that each knows its domain.

use std::marker::PhantomData;

use prost::{Message, Name};
use tonic::{
    Code, Status,
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
};
use tonic_prost::{ProstCodec, ProstEncoder};

use crate::{
    reasons::MALFORMED_MESSAGE,
    status::{ErrorInfo, with_details},
};

/// The `ErrorInfo.domain` a codec reports in.
pub trait Domain: Send + 'static {
    const DOMAIN: &'static str;
}

/// contacts-svc's domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct Contacts;

impl Domain for Contacts {
    const DOMAIN: &'static str = "contacts.accommador";
}

/// media-svc's domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct Media;

impl Domain for Media {
    const DOMAIN: &'static str = "media.accommador";
}

/// The codec of `accommador.contacts.v1` (named in proto/build.rs).
pub type ContactsCodec<T, U> = AccommadorCodec<T, U, Contacts>;
/// The codec of `accommador.media.v1` (named in proto/build.rs).
pub type MediaCodec<T, U> = AccommadorCodec<T, U, Media>;

/// [`ProstCodec`] whose decoder reports a malformed request as the
/// caller's mistake, in domain `D`.
#[derive(Debug)]
pub struct AccommadorCodec<T, U, D> {
    _types: PhantomData<(T, U, D)>,
}

impl<T, U, D> Default for AccommadorCodec<T, U, D> {
    fn default() -> Self {
        Self { _types: PhantomData }
    }
}

impl<T, U, D> Codec for AccommadorCodec<T, U, D>
where
    T: Message + Send + 'static,
    U: Message + Name + Default + Send + 'static,
    D: Domain,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = AccommadorDecoder<U, D>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        AccommadorDecoder { _types: PhantomData }
    }
}

/// Decodes `U` as prost does; see the module's documentation for errors.
#[derive(Debug)]
pub struct AccommadorDecoder<U, D> {
    _types: PhantomData<(U, D)>,
}

impl<U, D> Decoder for AccommadorDecoder<U, D>
where
    U: Message + Name + Default,
    D: Domain,
{
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(malformed::<U, D>)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

fn malformed<U: Name, D: Domain>(error: prost::DecodeError) -> Status {
    let is_request = U::NAME.ends_with("Request");
    let (code, whose) = if is_request { (Code::InvalidArgument, "request") } else { (Code::Internal, "response") };
    // prost's text reads "failed to decode Protobuf message: Inner.field:
    // Outer.field: problem", innermost field first.
    let text = error.to_string();
    let detail = text.strip_prefix("failed to decode Protobuf message: ").unwrap_or(&text);
    let message = format!("the {whose} is not a valid {} message: {detail}", U::full_name());
    let info = ErrorInfo::new(MALFORMED_MESSAGE, D::DOMAIN, std::collections::HashMap::new());
    with_details(code, message, info, [])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        accommador::{contacts::v1 as contacts, media::v1 as media},
        status::error_info,
    };

    /// A CreateContactRequest whose contact's first name is not UTF-8.
    fn invalid_utf8_request() -> Vec<u8> {
        let contact = contacts::Contact { first_name: "Ada".into(), ..Default::default() };
        let mut bytes = contacts::CreateContactRequest { contact: Some(contact), ..Default::default() }.encode_to_vec();
        let at = bytes.windows(3).position(|window| window == b"Ada").expect("the name is in the bytes");
        bytes[at + 1] = 0xFF;
        bytes
    }

    fn decode<U: Message + Name + Default + std::fmt::Debug, D: Domain>(bytes: &[u8]) -> Status {
        malformed::<U, D>(U::decode(bytes).expect_err("malformed"))
    }

    #[test]
    fn a_request_that_does_not_decode_is_the_callers_mistake() {
        let status = decode::<contacts::CreateContactRequest, Contacts>(&invalid_utf8_request());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "the request is not a valid accommador.contacts.v1.CreateContactRequest message: \
             Contact.first_name: CreateContactRequest.contact: invalid string value: data is not UTF-8 encoded"
        );
        let info = error_info(&status).expect("ErrorInfo");
        assert_eq!((info.reason.as_str(), info.domain.as_str()), (MALFORMED_MESSAGE, "contacts.accommador"));
        let status = decode::<media::UploadImageRequest, Media>(&[0xFF, 0xFF]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(error_info(&status).unwrap().domain, "media.accommador");
    }

    #[test]
    fn a_response_that_does_not_decode_is_the_servers_fault() {
        let status = decode::<contacts::Contact, Contacts>(&[0xFF, 0xFF]);
        assert_eq!(status.code(), Code::Internal);
        assert!(status.message().starts_with("the response is not a valid accommador.contacts.v1.Contact"));
    }
}
