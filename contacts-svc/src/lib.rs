//! contacts-svc: write-once CRM contacts, their pictures (through media-svc),
//! the Smart List, batch reads for the inbox, merges and duplicate search.
//!
//! - [`config`]: command line and environment.
//! - [`server`]: binds the port, connects the database, assembles the services.
//! - [`api`]: the tonic `ContactsService` implementation: decode, call, encode.
//! - [`book`]: the use cases (create, read, list, merge, duplicates, erasure,
//!   events, the claim outbox).
//! - [`domain`]: what a valid contact is and how contacts merge.
//! - [`store`]: sea-orm entities, migrations and queries.
//! - [`context`]: the tenant, request id and deadline of the call being served.
//! - [`media`]: the client of media-svc.
//! - [`nats`]: the NATS JetStream publisher of the event relay.
//! - [`relay`]: the relay of the event log to NATS JetStream.
//! - [`web`]: plain HTTP beside gRPC: stable picture URLs and the web console.
//! - [`error`]: the service's one error type and its mapping to `tonic::Status`.

pub mod api;
pub(crate) mod balance;
pub mod book;
pub mod config;
pub(crate) mod context;
pub mod domain;
pub mod error;
pub mod media;
pub mod nats;
pub mod relay;
pub mod server;
pub mod store;
pub mod web;
