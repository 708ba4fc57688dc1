//! Last line of defence for secrets in logs: every line written (to stderr and to the log
//! file) passes through [`redact`]. Tokens travel as `convene_room::Token`, which never
//! prints itself, so this should find nothing; it catches what slips through anyway (a URL
//! with `?access_token=`, a server error echoing a JWT).

use std::borrow::Cow;

/// What a hidden secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Query or form keys whose values are secrets.
const SECRET_KEYS: [&str; 4] = ["access_token=", "token=", "secret=", "password="];

/// `text` with JWTs (`eyJ…`.`…`.`…`) and the values of secret-looking keys replaced by
/// [`REDACTED`]; borrowed when there is nothing to hide.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains("eyJ") && !SECRET_KEYS.iter().any(|key| contains_key(text, key)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(length) = jwt_length(rest) {
            out.push_str(REDACTED);
            rest = &rest[length..];
        } else if let Some(key) = secret_key_at(rest, &out) {
            out.push_str(key);
            out.push_str(REDACTED);
            let value = rest[key.len()..]
                .find(|c: char| c.is_whitespace() || "&\"',;)]}".contains(c))
                .unwrap_or(rest.len() - key.len());
            rest = &rest[key.len() + value..];
        } else {
            let next = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    Cow::Owned(out)
}

fn contains_key(text: &str, key: &str) -> bool {
    text.to_ascii_lowercase().contains(key)
}

/// The secret key `rest` starts with, if it starts a word (`token=` but not `mytoken=`).
fn secret_key_at<'k>(rest: &str, written: &str) -> Option<&'k str> {
    let starts_word = written
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_ascii_alphanumeric());
    if !starts_word {
        return None;
    }
    SECRET_KEYS.into_iter().find(|key| {
        rest.get(..key.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(key))
    })
}

/// The length of the JWT `text` starts with: three base64url parts, the first `eyJ…`.
fn jwt_length(text: &str) -> Option<usize> {
    if !text.starts_with("eyJ") {
        return None;
    }
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut length = 0;
    for part in 0..3 {
        let run = text[length..]
            .find(|c: char| !is_part(c))
            .unwrap_or(text.len() - length);
        if run < 2 && part < 2 {
            return None;
        }
        length += run;
        if part < 2 {
            if !text[length..].starts_with('.') {
                return None;
            }
            length += 1;
        }
    }
    Some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

    #[test]
    fn jwts_and_secret_values_are_hidden_and_the_rest_kept() {
        let line = format!("join failed: server said \"bad token {JWT}\" (401)");
        assert_eq!(
            redact(&line),
            "join failed: server said \"bad token [redacted]\" (401)"
        );
        assert_eq!(
            redact("GET wss://x.livekit.cloud/rtc?access_token=abc.def&auto_subscribe=1"),
            "GET wss://x.livekit.cloud/rtc?access_token=[redacted]&auto_subscribe=1"
        );
        assert_eq!(
            redact("turn user=u password=hunter2 secret=s3 ok"),
            "turn user=u password=[redacted] secret=[redacted] ok"
        );
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        for line in [
            "convene ready version=0.1.0",
            "participant joined identity=alice room=standup",
            "mytoken=visible because it is not a secret key's whole word",
            "eyJ alone is no token",
        ] {
            assert_eq!(redact(line), line);
        }
    }
}
