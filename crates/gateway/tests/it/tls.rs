//! gRPC over TLS, and mutual TLS when a client CA is configured.

use crate::support::{BearerToken, TEST_CALLER_TOKEN, TestGateway, ok_result, telnyx};
use api::v1::{EndConferenceRequest, conference_service_client::ConferenceServiceClient};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A CA, and a certificate and key it issued for `name`, as PEM.
pub(crate) struct Pki {
    pub(crate) ca: String,
    pub(crate) cert: String,
    pub(crate) key: String,
}

pub(crate) fn issue(ca: &CertifiedIssuer<'static, KeyPair>, name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&key, ca)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

pub(crate) fn authority() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

pub(crate) fn server_pki() -> (CertifiedIssuer<'static, KeyPair>, Pki) {
    let ca = authority();
    let (cert, key) = issue(&ca, "localhost");
    let pki = Pki {
        ca: ca.pem(),
        cert,
        key,
    };
    (ca, pki)
}

pub(crate) async fn connect(
    gateway: &TestGateway,
    tls: ClientTlsConfig,
) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(format!("https://localhost:{}", gateway.grpc_addr.port()))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

async fn end(channel: Channel) -> Result<(), tonic::Status> {
    let authed = InterceptedService::new(channel, BearerToken::new(TEST_CALLER_TOKEN));
    ConferenceServiceClient::new(authed)
        .end_conference(EndConferenceRequest {
            conference_id: "c1".into(),
            command_id: "cmd-1".into(),
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn serves_grpc_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pki) = server_pki();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &pki.cert).unwrap();
    std::fs::write(&key, &pki.key).unwrap();
    let gateway = TestGateway::spawn_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result())
        .mount(&gateway.telnyx)
        .await;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    end(connect(&gateway, tls).await.unwrap()).await.unwrap();
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate_from_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pki) = server_pki();
    let client_ca = authority();
    let (client_cert, client_key) = issue(&client_ca, "billing");
    let stranger_ca = authority();
    let (stranger_cert, stranger_key) = issue(&stranger_ca, "stranger");
    let path = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, ca) = (
        path("cert.pem", &pki.cert),
        path("key.pem", &pki.key),
        path("clients.pem", &client_ca.pem()),
    );
    let gateway = TestGateway::spawn_with(&[
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &ca,
    ])
    .await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result())
        .mount(&gateway.telnyx)
        .await;
    let base = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");

    let trusted = base
        .clone()
        .identity(Identity::from_pem(&client_cert, &client_key));
    end(connect(&gateway, trusted).await.unwrap())
        .await
        .unwrap();

    for refused in [
        base.clone(),
        base.identity(Identity::from_pem(&stranger_cert, &stranger_key)),
    ] {
        let outcome = match connect(&gateway, refused).await {
            Ok(channel) => end(channel).await.is_ok(),
            Err(_) => false,
        };
        assert!(
            !outcome,
            "a client without a trusted certificate got through"
        );
    }
}
