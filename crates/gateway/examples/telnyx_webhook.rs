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
use serde_json::{Value, json};
use telnyx_sim::{SIGNATURE_HEADER, Signer, TIMESTAMP_HEADER};

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
            let key = Signer::generate().map_err(|e| e.to_string())?;
            println!("private key (for post --key): {}", key.seed_base64());
            println!(
                "public key (TELNYX_PUBLIC_KEY):  {}",
                key.public_key_base64()
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
            let signature = Signer::from_seed(seed).sign(&timestamp, &body);

            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let (status, text) = runtime.block_on(async {
                let response = reqwest::Client::new()
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(TIMESTAMP_HEADER, &timestamp)
                    .header(SIGNATURE_HEADER, &signature)
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
