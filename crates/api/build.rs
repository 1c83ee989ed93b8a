//! Compiles `proto/` with protox (pure Rust, so no system `protoc` is needed) and
//! generates the tonic services and prost messages from the result.
//!
//! The encoded descriptor set is also written to `OUT_DIR/descriptor_set.bin`:
//! the gateway loads it at run time, because the custom options in
//! `options.proto` (which Telnyx operation an RPC stands for, which fields are
//! required, what enum values are called on the wire) drive the translation
//! between gRPC and Telnyx's REST API, and server reflection serves it as is.

use std::{env, fs, io, path::PathBuf};

use prost::Message;

fn main() -> io::Result<()> {
    // The protos live at the repository root, beside `buf.yaml`, where buf
    // and the generator find them.
    let proto_root = PathBuf::from("../../proto");
    let package_dir = proto_root.join("conference_gateway/v1");
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut files: Vec<PathBuf> = fs::read_dir(&package_dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "proto"));
    files.sort();

    let mut compiler = protox::Compiler::new([&proto_root]).map_err(io::Error::other)?;
    compiler.include_imports(true).include_source_info(true);
    for file in &files {
        let relative = file.strip_prefix(&proto_root).expect("under proto/");
        compiler.open_file(relative).map_err(io::Error::other)?;
    }

    let encoded = compiler.encode_file_descriptor_set();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("descriptor_set.bin"), &encoded)?;

    let fds =
        prost_types::FileDescriptorSet::decode(encoded.as_slice()).map_err(io::Error::other)?;
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)
}
