//! What `conference-gateway sandbox` prints on stdout: where everything
//! listens, the caller token, and calls to copy and paste, in the order a
//! conference needs them (a call first, then the conference, then events),
//! and how to play the caller through the simulator.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::run::{Callers, DEVELOPER};
use telnyx_sim::Chaos;

/// Everything the banner shows.
pub struct Facts<'a> {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub telnyx_base_url: String,
    /// Where the simulator's caller side (`/_sim/`) is: its address, no `/v2`.
    pub sim_url: String,
    pub connection_id: String,
    pub callers: &'a Callers,
    pub chaos: &'a Chaos,
}

/// The banner, ending without a newline.
pub fn render(facts: &Facts<'_>) -> String {
    let Facts {
        grpc_addr,
        http_addr,
        telnyx_base_url,
        sim_url,
        connection_id,
        callers,
        chaos,
    } = facts;
    let rule = "=".repeat(72);
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line(&rule);
    line("conference-gateway sandbox: the gateway and a simulated Telnyx, in one process");
    line(&rule);
    line(&format!(
        "gRPC            {grpc_addr}   (server reflection on)"
    ));
    line(&format!(
        "HTTP            http://{http_addr}   (/healthz /readyz /metrics /webhooks/telnyx)"
    ));
    line(&format!("Telnyx (sim)    {telnyx_base_url}"));
    line(&format!(
        "connection_id   {connection_id}   (the simulated Call Control application: dial on it)"
    ));
    let header = match callers {
        Callers::Generated(token) => {
            line(&format!("caller          {DEVELOPER}"));
            line(&format!("token           {token}"));
            Some(token.clone())
        }
        Callers::Configured => {
            line("callers         from GATEWAY_AUTH_TOKENS / GATEWAY_AUTH_TOKENS_FILE");
            Some("<one of your configured tokens>".to_owned())
        }
        Callers::Anyone => {
            line("");
            line("!!! AUTHENTICATION IS OFF (GATEWAY_ALLOW_UNAUTHENTICATED=true):");
            line("!!! any process that reaches the gRPC port may call the gateway.");
            None
        }
    };
    line(&format!("chaos           {}", describe(chaos)));
    line("");
    line("Try it from the repository root (buf: npm install -g @bufbuild/buf); the README's");
    line("walk-through starts from this line:");
    line("");
    match &header {
        Some(token) => line(&format!(
            "  export TOKEN={token} CONNECTION_ID={connection_id} SIM={sim_url}"
        )),
        None => line(&format!(
            "  export CONNECTION_ID={connection_id} SIM={sim_url}"
        )),
    }
    let auth = if header.is_some() {
        "    -H \"Authorization: Bearer $TOKEN\" \\\n"
    } else {
        ""
    };
    let call = |out: &mut String, comment: &str, body: &str, method: &str| {
        let _ = write!(
            out,
            "\n  # {comment}\n  buf curl --schema proto --protocol grpc --http2-prior-knowledge \\\n{auth}    -d '{body}' \\\n    http://{grpc_addr}/conference_gateway.v1.{method}\n"
        );
    };
    call(
        &mut out,
        "1. Dial a call (the simulated callee answers at once); note its call_control_id.",
        &format!(
            r#"{{"connection_id": "{connection_id}", "from": "+15550000001", "to": ["+15550000002"]}}"#
        ),
        "CallService/Dial",
    );
    call(
        &mut out,
        "2. In a second shell (with the same export), watch conference events arrive.",
        r#"{"event_types": ["conference.*"]}"#,
        "EventService/Subscribe",
    );
    call(
        &mut out,
        "3. Start a conference with the call (CALL_CONTROL_ID from step 1).",
        r#"{"call_control_id": "CALL_CONTROL_ID", "name": "standup"}"#,
        "ConferenceService/CreateConference",
    );
    out.push_str(
        "\n  # 4. Someone calls in: the simulator plays the caller under $SIM/_sim/ (no token);\n  #    answer with CallService/Answer, then press keys or hang up as the caller.\n  curl -s $SIM/_sim/calls -d '{\"from\": \"+15550000009\", \"to\": \"+15550000100\"}'\n",
    );
    out.push_str(
        "\n  # Outside the repository, leave out --schema: buf curl then asks the gateway\n  # (server reflection).\n",
    );
    out.push_str("\nCtrl-C stops the sandbox.");
    out
}

/// The misbehaviour switched on, in words.
fn describe(chaos: &Chaos) -> String {
    let percent = |share: f64| format!("{:.0}%", share * 100.0);
    let mut parts = Vec::new();
    if chaos.duplicate_webhooks > 0.0 {
        parts.push(format!(
            "{} webhooks duplicated",
            percent(chaos.duplicate_webhooks)
        ));
    }
    if chaos.reorder_webhooks > 0.0 {
        parts.push(format!(
            "{} webhooks reordered",
            percent(chaos.reorder_webhooks)
        ));
    }
    if !chaos.max_webhook_delay.is_zero() {
        parts.push(format!(
            "webhooks delayed up to {} ms",
            chaos.max_webhook_delay.as_millis()
        ));
    }
    if chaos.rate_limited_requests > 0.0 {
        parts.push(format!(
            "{} REST calls 429",
            percent(chaos.rate_limited_requests)
        ));
    }
    if chaos.failed_requests > 0.0 {
        parts.push(format!("{} REST calls 5xx", percent(chaos.failed_requests)));
    }
    if parts.is_empty() {
        "off".to_owned()
    } else {
        format!("{} (seed {})", parts.join(", "), chaos.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(callers: &'a Callers, chaos: &'a Chaos) -> Facts<'a> {
        Facts {
            grpc_addr: "127.0.0.1:50051".parse().unwrap(),
            http_addr: "127.0.0.1:8080".parse().unwrap(),
            telnyx_base_url: "http://127.0.0.1:40000/v2".into(),
            sim_url: "http://127.0.0.1:40000".into(),
            connection_id: "1234567890".into(),
            callers,
            chaos,
        }
    }

    #[test]
    fn shows_the_token_and_calls_that_carry_it() {
        let callers = Callers::Generated("abc123".into());
        let banner = render(&facts(&callers, &Chaos::default()));
        assert!(banner.contains("token           abc123"));
        assert!(
            banner.contains(
                "export TOKEN=abc123 CONNECTION_ID=1234567890 SIM=http://127.0.0.1:40000\n"
            )
        );
        assert!(banner.contains("curl -s $SIM/_sim/calls -d '{\"from\""));
        assert!(banner.contains("-H \"Authorization: Bearer $TOKEN\""));
        assert!(banner.contains("\"connection_id\": \"1234567890\""));
        assert!(banner.contains("http://127.0.0.1:50051/conference_gateway.v1.CallService/Dial"));
        assert!(banner.contains("chaos           off"));
    }

    #[test]
    fn says_loudly_when_anyone_may_call() {
        let chaos = Chaos {
            failed_requests: 0.2,
            seed: 7,
            ..Chaos::default()
        };
        let banner = render(&facts(&Callers::Anyone, &chaos));
        assert!(banner.contains("AUTHENTICATION IS OFF"));
        assert!(banner.contains("export CONNECTION_ID=1234567890 SIM=http://127.0.0.1:40000\n"));
        assert!(!banner.contains("Bearer"));
        assert!(banner.contains("20% REST calls 5xx (seed 7)"));
    }
}
