//! Fills a tenant with demo contacts (`accommador_tests::demo`) for the
//! local stack's console; does nothing when the tenant has contacts already.
//!
//!     cargo run -p accommador-tests --bin seed -- --tenant demo

use accommador_proto::accommador::contacts::v1::{
    CreateContactRequest, ListContactsRequest, contacts_service_client::ContactsServiceClient,
};
use accommador_tests::{demo::demo_contacts, tenant_request};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// contacts-svc's gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// The tenant to fill.
    #[arg(long, default_value = "demo")]
    tenant: String,
    /// A tenant API key, when contacts-svc requires credentials.
    #[arg(long, env = "SEED_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// How many contacts.
    #[arg(long, default_value_t = 60)]
    count: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let channel = tonic::transport::Endpoint::from_shared(args.endpoint.clone())?.connect().await?;
    let mut client = ContactsServiceClient::new(channel).max_encoding_message_size(4 * 1024 * 1024);
    let request = |message| authorized(&args, message);
    let existing = client.list_contacts(request(ListContactsRequest { page_size: 1, ..Default::default() })).await?;
    if !existing.into_inner().contacts.is_empty() {
        eprintln!("tenant {} has contacts already; nothing seeded", args.tenant);
        return Ok(());
    }
    let demo = demo_contacts(args.count);
    for (n, person) in demo.into_iter().enumerate() {
        let message = CreateContactRequest {
            contact: Some(person.contact),
            profile_picture: person.picture.unwrap_or_default(),
            request_id: format!("demo-seed-{n}"),
        };
        client.create_contact(authorized(&args, message)).await?;
    }
    eprintln!("seeded {} demo contacts in tenant {}", args.count, args.tenant);
    Ok(())
}

fn authorized<T>(args: &Args, message: T) -> tonic::Request<T> {
    let mut request = tenant_request(&args.tenant, message);
    if let Some(key) = args.key.as_deref().filter(|key| !key.is_empty()) {
        request.metadata_mut().insert("authorization", format!("Bearer {key}").parse().expect("an ASCII key"));
    }
    request
}
