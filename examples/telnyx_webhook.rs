//! Plays Telnyx against a local gateway: makes a test key pair, and posts an
//! event signed the way Telnyx signs its webhooks.
//!
//! ```text
//! cargo run --example telnyx_webhook -- keygen
//! cargo run --example telnyx_webhook -- post --key <private key> \
//!     '{"event_type": "conference.participant.joined", "payload": {"conference_id": "c1"}}'
//! ```
//!
//! `post` takes the `data` object of the event; `id`, `record_type` and
//! `occurred_at` are filled in when missing, and the object is wrapped in
//! `{"data": ..., "meta": ...}` as Telnyx delivers it. For testing only: a real
//! gateway trusts Telnyx's key, whose private half only Telnyx has.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Sign and post test webhooks to a conference-gateway")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints a new test key pair: the private key for `post`, the public key
    /// for the gateway's TELNYX_PUBLIC_KEY.
    Keygen,
    /// Signs an event's `data` object and posts it.
    Post {
        /// The base64 private key printed by `keygen`.
        #[arg(long, env = "TEST_WEBHOOK_PRIVATE_KEY")]
        key: String,
        /// The gateway's webhook URL.
        #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/telnyx")]
        url: String,
        /// The event's `data` object, as JSON.
        data: String,
    },
}

fn main() -> ExitCode {
    match run(Args::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Keygen => {
            // Two v4 UUIDs: 244 bits from the operating system's generator.
            let mut seed = [0u8; 32];
            seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            let key = SigningKey::from_bytes(&seed);
            println!("private key (for post --key): {}", STANDARD.encode(seed));
            println!(
                "public key (TELNYX_PUBLIC_KEY):  {}",
                STANDARD.encode(key.verifying_key().as_bytes())
            );
            Ok(())
        }
        Command::Post { key, url, data } => {
            let seed: [u8; 32] = STANDARD
                .decode(key.trim())
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or("--key is not a base64 32-byte private key")?;
            let mut data: Value =
                serde_json::from_str(&data).map_err(|e| format!("data is not JSON: {e}"))?;
            let object = data.as_object_mut().ok_or("data is not a JSON object")?;
            object
                .entry("id")
                .or_insert_with(|| json!(uuid::Uuid::new_v4().to_string()));
            object
                .entry("record_type")
                .or_insert_with(|| json!("event"));
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| e.to_string())?;
            object.entry("occurred_at").or_insert_with(|| {
                json!(
                    prost_types::Timestamp {
                        seconds: now.as_secs() as i64,
                        nanos: 0
                    }
                    .to_string()
                )
            });
            let body = serde_json::to_vec(&json!({"data": data, "meta": {"attempt": 1}}))
                .map_err(|e| e.to_string())?;
            let timestamp = now.as_secs().to_string();
            let mut message = format!("{timestamp}|").into_bytes();
            message.extend_from_slice(&body);
            let signature =
                STANDARD.encode(SigningKey::from_bytes(&seed).sign(&message).to_bytes());

            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let (status, text) = runtime.block_on(async {
                let response = reqwest::Client::new()
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("telnyx-timestamp", &timestamp)
                    .header("telnyx-signature-ed25519", &signature)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| format!("cannot post to {url}: {e}"))?;
                let status = response.status();
                Ok::<_, String>((status, response.text().await.unwrap_or_default()))
            })?;
            print!("{} {text}", status.as_u16());
            if status.is_success() {
                Ok(())
            } else {
                Err("the gateway refused the event".into())
            }
        }
    }
}
