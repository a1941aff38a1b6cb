//! The end-to-end tests: each module starts the real binaries (see the
//! `accommador_tests` harness) and checks one concern through real gRPC.
//!
//! They are modules of one test binary, not one binary each, because every
//! test binary links the whole dependency tree (about 600 MB): one link
//! instead of seventeen is most of the suite's build time on a 2-core CI.
//! So tests share a process under `cargo test` (nextest still gives each
//! its own): none may set environment variables, keep global state, or
//! measure the test process itself; the servers they start are children.

mod balance;
mod bounds;
mod browser;
mod contacts;
mod crash_erase;
mod crash_media;
mod crash_merge;
mod crash_replace;
mod database_outage;
mod erase;
mod events;
mod faults;
mod hostile;
mod integrity;
mod introspection;
mod load;
mod local_stack;
mod malformed;
mod media;
mod operations;
mod outbox;
mod pictures;
mod relay;
mod remove_picture;
mod replace_picture;
mod security;
mod shutdown;
mod storage_outage;
mod telemetry;
mod text;
mod unmerge;
mod web;
