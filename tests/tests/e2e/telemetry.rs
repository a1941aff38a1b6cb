//! Trace export: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, both services send
//! their spans to an OTLP collector, and one CreateContact with a picture is
//! one trace across both, media-svc's RPC span a child of contacts-svc's.
//! The collector is an OTLP trace receiver run by the test on a free port.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use accommador_proto::accommador::contacts::v1::{Contact, CreateContactRequest};
use accommador_tests::{Stack, TestDatabase, tenant_request};
use media_svc::samples::{self, JpegOptions};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
};
use tonic::{Request, Response, Status};

/// One span as received, with what the assertions look at.
#[derive(Debug, Clone)]
struct ReceivedSpan {
    service: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    /// The span's `method` attribute (the RPC path), empty when it has none.
    method: String,
}

/// An OTLP trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let string = |value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match value
            .as_ref()
            .and_then(|value| value.value.as_ref())
        {
            Some(Value::StringValue(text)) => text.clone(),
            _ => String::new(),
        };
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .map(|attribute| string(&attribute.value))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
                let method = span
                    .attributes
                    .iter()
                    .find(|attribute| attribute.key == "method")
                    .map(|attribute| string(&attribute.value))
                    .unwrap_or_default();
                received.push(ReceivedSpan {
                    service: service.clone(),
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    method,
                });
            }
        }
        self.spans.lock().unwrap().extend(received);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts the receiver on a free loopback port; returns its endpoint.
async fn start_receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{address}")
}

/// media-svc's UploadImage span and the contacts-svc span it is a child of,
/// when both have arrived.
fn linked_upload(spans: &[ReceivedSpan]) -> Option<(ReceivedSpan, ReceivedSpan)> {
    spans.iter().filter(|span| span.service == "media-svc" && span.method.ends_with("/UploadImage")).find_map(
        |upload| {
            spans
                .iter()
                .find(|parent| parent.service == "contacts-svc" && parent.span_id == upload.parent_span_id)
                .map(|parent| (upload.clone(), parent.clone()))
        },
    )
}

#[tokio::test]
async fn a_create_contact_with_a_picture_is_one_trace_across_both_services() {
    let receiver = Receiver::default();
    let endpoint = start_receiver(receiver.clone()).await;
    // Short batches so the spans arrive well within the wait below.
    let otel = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint), ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned())];
    let stack = Stack::start(&TestDatabase::sqlite(), &otel, &otel).await.unwrap();

    let picture = samples::jpeg(&samples::photo(300, 300, 7), JpegOptions::default());
    let contact = Contact { first_name: "Ada".into(), email: "ada@example.com".into(), ..Default::default() };
    let request = CreateContactRequest { contact: Some(contact), profile_picture: picture, request_id: String::new() };
    let created = stack.contacts_client().create_contact(tenant_request("acme", request)).await.unwrap().into_inner();
    assert!(created.profile_picture.is_some(), "the contact was created with its picture");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (upload, parent) = loop {
        if let Some(linked) = linked_upload(&receiver.spans.lock().unwrap()) {
            break linked;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no media-svc UploadImage span with a contacts-svc parent arrived within 30 s; received: {:#?}",
            receiver.spans.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(upload.trace_id, parent.trace_id, "media-svc's span joins contacts-svc's trace");
    let spans = receiver.spans.lock().unwrap().clone();
    let create = spans
        .iter()
        .find(|span| span.service == "contacts-svc" && span.method.ends_with("/CreateContact"))
        .expect("contacts-svc exported its CreateContact span");
    assert_eq!(create.trace_id, upload.trace_id, "the whole CreateContact is one trace");
}
