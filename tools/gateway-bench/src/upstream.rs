//! A fast stand-in for Telnyx's REST API: every request is answered 200
//! `{"data":{"result":"ok"}}` at once, so what the unary scenario measures is
//! the gateway, not the upstream.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;

async fn ok() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"data":{"result":"ok"}}"#,
    )
}

/// Serves on a free loopback port in this process; returns its address.
pub async fn start() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(ok);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// `TELNYX_BASE_URL` for a gateway calling this upstream.
pub fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}/v2")
}
