//! `convene://join?url=…&token=…`: a link that joins a room. The OS hands it to the app as a
//! command-line argument (the scheme is registered by the installer), so the same parsing
//! serves a click in a browser or chat and a test that starts the app with it.

use crate::error::UiError;

/// The scheme and path of a join link.
const PREFIX: &str = "convene://join";

/// A parsed join link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    /// Server URL.
    pub url: String,
    /// Access token.
    pub token: String,
}

/// The first argument that is a join link, if any (other arguments are ignored).
pub fn find_join_link(args: &[String]) -> Option<Result<JoinLink, UiError>> {
    args.iter()
        .find(|arg| arg.starts_with(PREFIX))
        .map(|arg| parse_join_link(arg))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
