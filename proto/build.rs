//! Generates the Rust code of the contract with protox, a pure-Rust protobuf
//! compiler, so a machine with only cargo can build (no system `protoc`).

use std::{env, fs, path::PathBuf};

use prost::Message;

/// Our own contract: Rust code is generated for these.
const SERVICE_PROTOS: &[&str] =
    &["accommador/contacts/v1/contacts_service.proto", "accommador/media/v1/media_service.proto"];

/// Error detail messages (`google.rpc.*`). Their Rust types come from
/// tonic-types; we only need their descriptors so that reflection clients
/// such as grpcurl can decode the error details we send.
const ERROR_DETAIL_PROTOS: &[&str] = &["google/rpc/error_details.proto", "google/rpc/status.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=accommador");
    println!("cargo:rerun-if-changed=google");

    let services = protox::compile(SERVICE_PROTOS, ["."])?;
    // compile_fds ignores file_descriptor_set_path, so reflection's copy is written by hand.
    fs::write(out_dir.join("accommador_descriptor.bin"), services.encode_to_vec())?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(services)?;
    // Each server's reflection describes its own contract only.
    for (proto, name) in SERVICE_PROTOS.iter().zip(["contacts_descriptor.bin", "media_descriptor.bin"]) {
        fs::write(out_dir.join(name), protox::compile([proto], ["."])?.encode_to_vec())?;
    }

    let error_details = protox::compile(ERROR_DETAIL_PROTOS, ["."])?;
    fs::write(out_dir.join("google_rpc_descriptor.bin"), error_details.encode_to_vec())?;
    Ok(())
}
