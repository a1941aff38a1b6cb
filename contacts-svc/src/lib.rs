//! contacts-svc: write-once CRM contacts, their pictures (through media-svc),
//! the Smart List, batch reads for the inbox, merges and duplicate search.
//!
//! - [`config`]: command line and environment.
//! - [`server`]: binds the port and assembles the gRPC services.
//! - [`api`]: the tonic `ContactsService` implementation.
//! - [`error`]: the service's one error type and its mapping to `tonic::Status`.

pub mod api;
pub mod config;
pub mod error;
pub mod server;
