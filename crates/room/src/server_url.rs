//! Server addresses as a user types them, and the signaling URLs derived from them.
//!
//! LiveKit clients accept `ws(s)://` and `http(s)://` URLs (LiveKit Cloud hands out
//! `wss://<project>.livekit.cloud`), keep any path prefix, and append `/rtc` for the
//! WebSocket and `/rtc/validate` for the HTTP probe run after a failed connect. This module
//! is the one place that rule lives.

use std::fmt;

use url::Url;

/// Why a typed server address was refused. Each variant carries what the join screen needs
/// to tell the user how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerUrlError {
    /// Nothing was typed.
    #[error("enter the server URL, for example wss://my-project.livekit.cloud")]
    Empty,
    /// The address has no `scheme://` prefix (e.g. `localhost:7880`).
    #[error("add ws://, wss://, http:// or https:// in front of the address")]
    MissingScheme,
    /// The scheme is not one a LiveKit server speaks.
    #[error("unsupported scheme `{0}`: use ws://, wss://, http:// or https://")]
    UnsupportedScheme(String),
    /// The address has no host name.
    #[error("the URL has no host name")]
    MissingHost,
    /// Query strings and fragments would be lost or confuse the signaling URL.
    #[error("remove the `?...` or `#...` part from the URL")]
    HasQueryOrFragment,
    /// The text is not a URL at all.
    #[error("not a valid URL: {0}")]
    Invalid(String),
}

/// A LiveKit server address, normalised to `ws://` or `wss://` with no trailing slash.
///
/// Construct it with [`ServerUrl::parse`] whenever an address comes from a person or a file;
/// everything downstream can then rely on it being well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(Url);

impl ServerUrl {
    /// Parses what a user typed: surrounding spaces are ignored, `http(s)` becomes `ws(s)`.
    pub fn parse(input: &str) -> Result<Self, ServerUrlError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(ServerUrlError::Empty);
        }
        if !text.contains("://") {
            return Err(ServerUrlError::MissingScheme);
        }
        let mut url = Url::parse(text).map_err(|e| ServerUrlError::Invalid(e.to_string()))?;
        let websocket_scheme = match url.scheme() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            other => return Err(ServerUrlError::UnsupportedScheme(other.to_owned())),
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ServerUrlError::MissingHost);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ServerUrlError::HasQueryOrFragment);
        }
        url.set_scheme(websocket_scheme)
            .map_err(|()| ServerUrlError::UnsupportedScheme(url.scheme().to_owned()))?;
        let trimmed_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&trimmed_path);
        Ok(Self(url))
    }

    /// The WebSocket URL of v0 signaling: `<server>/rtc` (query added by the signal client).
    pub fn rtc_url(&self) -> Url {
        self.with_suffix("/rtc")
    }

    /// The HTTP URL probed after a failed connect to learn why: `<server>/rtc/validate`.
    pub fn validate_url(&self) -> Url {
        let mut url = self.with_suffix("/rtc/validate");
        let http_scheme = if url.scheme() == "wss" {
            "https"
        } else {
            "http"
        };
        // ws/wss -> http/https is always a valid scheme change for a URL with a host.
        let _ = url.set_scheme(http_scheme);
        url
    }

    /// True for `wss://`: tokens travel encrypted.
    pub fn is_secure(&self) -> bool {
        self.0.scheme() == "wss"
    }

    /// True for a server on this computer (`localhost`, 127.0.0.0/8, `[::1]`): reached over
    /// loopback, where even `ws://` crosses no network.
    pub fn is_on_this_computer(&self) -> bool {
        match self.0.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(address)) => address.is_loopback(),
            Some(url::Host::Ipv6(address)) => address.is_loopback(),
            None => false,
        }
    }

    /// The host and, if given, the port: whom the call is with (`meet.example.org:7880`).
    pub fn host_and_port(&self) -> String {
        match (self.0.host_str(), self.0.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => String::new(),
        }
    }

    fn with_suffix(&self, suffix: &str) -> Url {
        let mut url = self.0.clone();
        let path = format!("{}{suffix}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_url_is_kept_and_gets_rtc_paths() {
        let url = ServerUrl::parse("  wss://demo.livekit.cloud/ ").unwrap();
        assert_eq!(url.to_string(), "wss://demo.livekit.cloud");
        assert_eq!(url.rtc_url().as_str(), "wss://demo.livekit.cloud/rtc");
        assert_eq!(
            url.validate_url().as_str(),
            "https://demo.livekit.cloud/rtc/validate"
        );
        assert!(url.is_secure());
    }

    #[test]
    fn http_becomes_ws_and_path_prefix_is_kept() {
        let url = ServerUrl::parse("http://127.0.0.1:7880/livekit/").unwrap();
        assert_eq!(url.to_string(), "ws://127.0.0.1:7880/livekit");
        assert_eq!(url.rtc_url().as_str(), "ws://127.0.0.1:7880/livekit/rtc");
        assert_eq!(
            url.validate_url().as_str(),
            "http://127.0.0.1:7880/livekit/rtc/validate"
        );
        assert!(!url.is_secure());
    }

    #[test]
    fn malformed_addresses_get_the_matching_error() {
        assert_eq!(ServerUrl::parse("   "), Err(ServerUrlError::Empty));
        assert_eq!(
            ServerUrl::parse("localhost:7880"),
            Err(ServerUrlError::MissingScheme)
        );
        assert_eq!(
            ServerUrl::parse("ftp://example.com"),
            Err(ServerUrlError::UnsupportedScheme("ftp".into()))
        );
        assert_eq!(
            ServerUrl::parse("wss://x.io/?a=1"),
            Err(ServerUrlError::HasQueryOrFragment)
        );
        assert!(matches!(
            ServerUrl::parse("wss://exa mple.com"),
            Err(ServerUrlError::Invalid(_))
        ));
    }
}
