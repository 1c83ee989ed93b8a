//! The caller's bearer token on every call.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A channel whose calls carry the caller's token.
pub type AuthedChannel = InterceptedService<Channel, BearerToken>;

/// Adds `authorization: Bearer <token>` to every call. The token is kept as a
/// sensitive header value, so it is not printed with the request.
#[derive(Clone)]
pub struct BearerToken(MetadataValue<Ascii>);

/// A token that is empty or holds more than visible ASCII.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the caller token is empty or holds more than visible ASCII characters")]
pub struct InvalidToken;

impl BearerToken {
    /// The token, trimmed (a file or Secret often ends it with a newline);
    /// it must be visible ASCII, as the gateway's tokens are.
    pub fn new(token: &str) -> Result<Self, InvalidToken> {
        let token = token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidToken);
        }
        let mut value: MetadataValue<Ascii> = format!("Bearer {token}")
            .parse()
            .map_err(|_| InvalidToken)?;
        value.set_sensitive(true);
        Ok(BearerToken(value))
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    #[test]
    fn every_call_carries_the_token_which_never_prints() {
        let mut token = BearerToken::new("secret-token-0123456789\n").unwrap();
        let request = token.call(tonic::Request::new(())).unwrap();
        let header = request.metadata().get("authorization").unwrap();
        assert_eq!(header, "Bearer secret-token-0123456789");
        assert!(header.is_sensitive());
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(BearerToken::new("a\u{7f}b").unwrap_err(), InvalidToken);
        assert_eq!(BearerToken::new("naïve").unwrap_err(), InvalidToken);
        assert_eq!(BearerToken::new(" \n").unwrap_err(), InvalidToken);
    }
}
