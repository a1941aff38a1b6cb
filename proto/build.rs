//! Generates the Rust code of the contract with protox, a pure-Rust protobuf
//! compiler, so a machine with only cargo can build (no system `protoc`).

use std::{env, fs, path::PathBuf};

use prost::Message;

/// Our own contract: Rust code is generated for these, each service with
/// its own codec (src/codec.rs), which knows the service's error domain.
const SERVICE_PROTOS: &[&str] =
    &["accommador/contacts/v1/contacts_service.proto", "accommador/media/v1/media_service.proto"];
const CODECS: &[&str] = &["crate::codec::ContactsCodec", "crate::codec::MediaCodec"];

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
    // Each server's reflection describes its own contract only.
    for ((proto, name), codec) in
        SERVICE_PROTOS.iter().zip(["contacts_descriptor.bin", "media_descriptor.bin"]).zip(CODECS)
    {
        let service = protox::compile([proto], ["."])?;
        fs::write(out_dir.join(name), service.encode_to_vec())?;
        // Type names (prost::Name) tell the codec a request from a response.
        let mut config = tonic_prost_build::Config::new();
        config.enable_type_names();
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .codec_path(*codec)
            .compile_fds_with_config(service, config)?;
    }

    let error_details = protox::compile(ERROR_DETAIL_PROTOS, ["."])?;
    fs::write(out_dir.join("google_rpc_descriptor.bin"), error_details.encode_to_vec())?;
    Ok(())
}
