//! A caller's identity from its client certificate, under mutual TLS.
//!
//! The certificate was verified by the TLS handshake against
//! `GATEWAY_TLS_CLIENT_CA`, so the names in it are as trustworthy as a token:
//! its subject's common name and its subject alternative names (DNS names,
//! URIs such as SPIFFE ids, e-mail addresses) are each a name the policy can
//! give rules to.

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The names a certificate (DER) identifies its holder by: the subject's
/// common name first, then each subject alternative name. Empty when the
/// certificate cannot be read.
pub fn certificate_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            let name = match name {
                GeneralName::DNSName(n) | GeneralName::URI(n) | GeneralName::RFC822Name(n) => *n,
                _ => continue,
            };
            if !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    #[test]
    fn reads_the_common_name_then_the_alternative_names() {
        let mut params = CertificateParams::new(vec!["billing.internal".to_owned()]).unwrap();
        let mut subject = DistinguishedName::new();
        subject.push(DnType::CommonName, "billing");
        params.distinguished_name = subject;
        params
            .subject_alt_names
            .push(SanType::URI("spiffe://corp/billing".try_into().unwrap()));
        let cert = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
        assert_eq!(
            certificate_names(cert.der()),
            ["billing", "billing.internal", "spiffe://corp/billing"]
        );
        assert!(certificate_names(b"not a certificate").is_empty());
    }
}
