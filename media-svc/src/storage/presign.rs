//! Presigned GET URLs, computed in place with `aws-sigv4`: the same SigV4
//! query-string signing the SDK performs, without running its request
//! orchestrator (interceptors, endpoint resolution, config bag) for every
//! URL, which costs tens of microseconds per URL. A list page signs a
//! hundred of them.

use std::time::{Duration, SystemTime};

use aws_sigv4::{
    http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        UriPathNormalizationMode, sign,
    },
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{S3Settings, StorageError};

/// RFC 3986 unreserved characters stay as they are; SigV4 encodes the rest.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// Object keys keep their slashes in the path.
const KEY_PATH: &AsciiSet = &QUERY_VALUE.remove(b'/');

/// Signs GET URLs for one bucket at its public endpoint. Its `Debug` is
/// derived: the identity holds aws `Credentials`, whose `Debug` redacts the
/// secret (a test below pins it).
#[derive(Clone, Debug)]
pub struct UrlSigner {
    /// `scheme://host[:port]/bucket/` (path style) or `scheme://bucket.host[:port]/`.
    object_base: String,
    identity: Identity,
    region: String,
}

impl UrlSigner {
    pub fn new(settings: &S3Settings) -> Result<Self, StorageError> {
        let invalid = |message: String| StorageError { message, retryable: false };
        let endpoint = settings.public_endpoint.as_ref().or(settings.endpoint.as_ref());
        let (scheme, authority) = match endpoint {
            Some(endpoint) => {
                let uri: http::Uri =
                    endpoint.parse().map_err(|error| invalid(format!("S3 endpoint {endpoint:?}: {error}")))?;
                let scheme = uri.scheme_str().unwrap_or("https").to_owned();
                let authority = uri
                    .authority()
                    .ok_or_else(|| invalid(format!("S3 endpoint {endpoint:?} has no host")))?
                    .to_string();
                (scheme, authority)
            }
            None => ("https".to_owned(), format!("s3.{}.amazonaws.com", settings.region)),
        };
        let bucket = &settings.bucket;
        let object_base = if settings.force_path_style {
            format!("{scheme}://{authority}/{}/", utf8_percent_encode(bucket, KEY_PATH))
        } else {
            format!("{scheme}://{bucket}.{authority}/")
        };
        Ok(Self { object_base, identity: settings.credentials().into(), region: settings.region.clone() })
    }

    /// A GET URL for `key`, valid from `start` for `ttl`. Deterministic: the
    /// same inputs give the same URL.
    pub fn presign_get(&self, key: &str, start: SystemTime, ttl: Duration) -> Result<String, StorageError> {
        let failed = |message: String| StorageError { message: format!("presign: {message}"), retryable: false };
        let url = format!("{}{}", self.object_base, utf8_percent_encode(key, KEY_PATH));
        // What the SDK uses for S3: single encoding, no path normalization,
        // unsigned payload, no x-amz-content-sha256 in the query.
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(ttl);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(start)
            .settings(settings)
            .build()
            .map_err(|error| failed(error.to_string()))?
            .into();
        let request = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::UnsignedPayload)
            .map_err(|error| failed(error.to_string()))?;
        let (instructions, _signature) =
            sign(request, &params).map_err(|error| failed(error.to_string()))?.into_parts();
        let mut signed = url;
        for (index, (name, value)) in instructions.params().iter().enumerate() {
            signed.push(if index == 0 { '?' } else { '&' });
            signed.push_str(name);
            signed.push('=');
            signed.extend(utf8_percent_encode(value, QUERY_VALUE));
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn settings(endpoint: Option<&str>, force_path_style: bool) -> S3Settings {
        S3Settings {
            endpoint: endpoint.map(str::to_owned),
            public_endpoint: None,
            region: "us-east-1".into(),
            bucket: "examplebucket".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            force_path_style,
        }
    }

    /// The worked example of AWS's "Authenticating Requests: Using Query
    /// Parameters" (Signature Version 4) documentation.
    #[test]
    fn matches_the_aws_documentation_example() {
        let signer = UrlSigner::new(&settings(Some("https://s3.amazonaws.com"), false)).unwrap();
        let start = UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
        let url = signer.presign_get("test.txt", start, Duration::from_secs(86_400)).unwrap();
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt\
             ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn path_style_puts_the_bucket_in_the_path_and_encodes_keys() {
        let signer = UrlSigner::new(&settings(Some("http://127.0.0.1:9000"), true)).unwrap();
        let url = signer.presign_get("acme/images/a b+c/128.jpg", UNIX_EPOCH, Duration::from_secs(60)).unwrap();
        assert!(url.starts_with("http://127.0.0.1:9000/examplebucket/acme/images/a%20b%2Bc/128.jpg?"), "{url}");
    }

    #[test]
    fn aws_without_endpoint_uses_the_regional_virtual_host() {
        let signer = UrlSigner::new(&settings(None, false)).unwrap();
        let url = signer.presign_get("k", UNIX_EPOCH, Duration::from_secs(60)).unwrap();
        assert!(url.starts_with("https://examplebucket.s3.us-east-1.amazonaws.com/k?"), "{url}");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let settings = settings(None, false);
        let signer = UrlSigner::new(&settings).unwrap();
        for debug in [format!("{signer:?}"), format!("{settings:?}")] {
            assert!(!debug.contains("EXAMPLEKEY"), "{debug}");
        }
    }
}
