//! `convene://join?url=…&token=…`: a link that *offers* a room. It never joins by itself:
//! a web page can open such a link, so joining (and turning on a camera or microphone) takes
//! the user's click on Join (the class of Zoom's CVE-2019-13450; docs/SECURITY.md).
//!
//! A link reaches the app three ways, all ending in [`LinkInbox::stage`]: on the command
//! line of the first instance (Linux and Windows hand links over as an argument), forwarded
//! by a second instance through the single-instance plugin (which then exits), or as
//! macOS's open-URL event through the deep-link plugin. The join screen takes the staged
//! offer ([`LinkInbox::take`]) when it loads and on every [`JOIN_LINK_EVENT`], fills its
//! fields with it and starts with the camera and microphone off.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::error::UiError;
use crate::join::{TokenSummary, summarize_token};

/// The scheme and path of a join link.
pub const PREFIX: &str = "convene://join";

/// Told to the window when a link was staged: the join screen then takes it.
pub const JOIN_LINK_EVENT: &str = "join-link";

/// A parsed join link. Its `Debug` hides the token (links are logged as "a link").
#[derive(Clone, PartialEq, Eq)]
pub struct JoinLink {
    /// Server URL.
    pub url: String,
    /// Access token.
    pub token: String,
}

impl fmt::Debug for JoinLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinLink")
            .field("url", &self.url)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// What the join screen shows for a link before anybody presses Join.
#[derive(Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LinkOffer {
    /// The server URL, normalised as the join form would.
    pub url: String,
    /// The access token, for the form's token field (the user sees it as if pasted).
    pub token: String,
    /// The server's host (and port, if any): whom the call would be with.
    pub host: String,
    /// The token would cross the network unencrypted: `ws://` to another computer.
    pub insecure: bool,
    /// Room, identity, name and expiry the token names.
    pub summary: TokenSummary,
}

impl fmt::Debug for LinkOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkOffer")
            .field("url", &self.url)
            .field("token", &"[redacted]")
            .field("insecure", &self.insecure)
            .field("summary", &self.summary)
            .finish()
    }
}

impl LinkOffer {
    /// Reads `link` at `now` (seconds since the Unix epoch). An expired token is still an
    /// offer (the join screen flags it and refuses to join); an unreadable one is an error.
    pub fn from_link(link: &JoinLink, now: u64) -> Result<Self, UiError> {
        let server = convene_room::ServerUrl::parse(&link.url)?;
        let summary = summarize_token(&link.token, now)?;
        Ok(Self {
            url: server.to_string(),
            token: link.token.clone(),
            host: server.host_and_port(),
            insecure: !server.is_secure() && !server.is_on_this_computer(),
            summary,
        })
    }
}

/// The first argument that is a join link, if any (other arguments are ignored).
pub fn find_join_link<S: AsRef<str>>(args: &[S]) -> Option<Result<JoinLink, UiError>> {
    args.iter()
        .map(AsRef::as_ref)
        .find(|arg| arg.starts_with(PREFIX))
        .map(parse_join_link)
}

/// Parses `convene://join?url=<percent-encoded>&token=<token>`.
pub fn parse_join_link(link: &str) -> Result<JoinLink, UiError> {
    let invalid = |what: &str| UiError::InvalidServerUrl {
        message: format!("This join link is not usable: {what}."),
    };
    let parsed = url::Url::parse(link).map_err(|_| invalid("it is not a link"))?;
    if parsed.scheme() != "convene" || parsed.host_str() != Some("join") {
        return Err(invalid("it is not a convene://join link"));
    }
    let value = |name: &str| {
        parsed
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .filter(|value| !value.is_empty())
    };
    Ok(JoinLink {
        url: value("url").ok_or_else(|| invalid("the server URL is missing"))?,
        token: value("token").ok_or_else(|| invalid("the token is missing"))?,
    })
}

/// The newest link opened and not yet shown: at most one (a newer link replaces it, as a
/// newer click means the user wants that meeting).
#[derive(Default)]
pub struct LinkInbox {
    pending: Mutex<Option<Result<LinkOffer, UiError>>>,
}

impl LinkInbox {
    /// Stages the first join link among `args` (a command line), read at `now`; returns
    /// whether there was one. A malformed link is staged as its error, for the join screen
    /// to explain.
    pub fn stage<S: AsRef<str>>(&self, args: &[S], now: u64) -> bool {
        let Some(link) = find_join_link(args) else {
            return false;
        };
        let offer = link.and_then(|link| LinkOffer::from_link(&link, now));
        match &offer {
            Ok(offer) => tracing::info!(host = %offer.host, "a join link was opened"),
            Err(error) => tracing::warn!(%error, "a join link that cannot be used was opened"),
        }
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(offer);
        true
    }

    /// The staged link, once: `Ok(None)` when there is none, `Err` for a malformed one.
    pub fn take(&self) -> Result<Option<LinkOffer>, UiError> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_room::AccessToken;

    fn token(room: &str, identity: &str) -> String {
        AccessToken::new("key", "a-secret-that-is-long-enough-for-hs256")
            .identity(identity)
            .room_join(room)
            .ttl_secs(600)
            .sign(1_000)
            .expect("sign")
            .expose()
            .to_owned()
    }

    fn link(url: &str, token: &str) -> String {
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("url", url)
            .append_pair("token", token)
            .finish();
        format!("convene://join?{encoded}")
    }

    #[test]
    fn a_join_link_gives_url_and_token_and_bad_links_say_why() {
        let link = "convene://join?url=wss%3A%2F%2Fdemo.livekit.cloud&token=eyJ.a.b";
        assert_eq!(
            parse_join_link(link).expect("valid"),
            JoinLink {
                url: "wss://demo.livekit.cloud".into(),
                token: "eyJ.a.b".into()
            }
        );
        let args = vec![
            "convene".to_owned(),
            "--fake-media".to_owned(),
            link.to_owned(),
        ];
        assert!(find_join_link(&args).is_some_and(|found| found.is_ok()));
        assert!(find_join_link(&args[..2]).is_none());
        assert!(parse_join_link("convene://join?url=ws%3A%2F%2Fx").is_err());
        assert!(parse_join_link("convene://other?url=a&token=b").is_err());
    }

    #[test]
    fn an_offer_names_host_room_and_identity_and_warns_of_cleartext_to_another_computer() {
        let token = token("standup", "alice");
        let remote = LinkOffer::from_link(
            &parse_join_link(&link("ws://meet.example.org:7880", &token)).expect("link"),
            1_030,
        )
        .expect("an offer");
        assert_eq!(remote.host, "meet.example.org:7880");
        assert_eq!(
            (
                remote.summary.room.as_str(),
                remote.summary.identity.as_str()
            ),
            ("standup", "alice")
        );
        assert!(remote.insecure, "ws:// to another computer");
        for safe in [
            "wss://meet.example.org",
            "ws://127.0.0.1:7880",
            "ws://localhost:7880",
            "ws://[::1]:7880",
        ] {
            let offer =
                LinkOffer::from_link(&parse_join_link(&link(safe, &token)).expect("link"), 1_030)
                    .expect("an offer");
            assert!(!offer.insecure, "{safe}");
        }
        let expired = LinkOffer::from_link(
            &parse_join_link(&link("wss://meet.example.org", &token)).expect("link"),
            5_000,
        )
        .expect("an expired token is still shown");
        assert!(expired.summary.expired);
    }

    #[test]
    fn the_inbox_keeps_the_newest_link_once_and_never_prints_its_token() {
        let inbox = LinkInbox::default();
        assert!(!inbox.stage(&["convene", "--fake-media"], 1_030));
        assert_eq!(inbox.take(), Ok(None));

        let first = token("first", "alice");
        let second = token("second", "alice");
        assert!(inbox.stage(&["convene", &link("wss://a.example", &first)], 1_030));
        assert!(inbox.stage(&["convene", &link("wss://b.example", &second)], 1_030));
        let offer = inbox.take().expect("readable").expect("staged");
        assert_eq!(offer.summary.room, "second");
        assert!(!format!("{offer:?}").contains(&second), "{offer:?}");
        assert_eq!(inbox.take(), Ok(None), "taken once");

        assert!(inbox.stage(&["convene", "convene://join?url=wss%3A%2F%2Fa"], 1_030));
        assert!(matches!(
            inbox.take(),
            Err(UiError::InvalidServerUrl { .. })
        ));
        let parsed = parse_join_link(&link("wss://a.example", &first)).expect("link");
        assert!(!format!("{parsed:?}").contains(&first));
    }
}
