//! LiveKit-style identifiers. Clients check the prefixes (`RM_`, `PA_`, `TR_`): the Rust SDK
//! unwraps on them and the JS client recognises server track ids by `TR`.

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

fn random_suffix(len: usize) -> String {
    (0..len)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// A new room sid, `RM_` + 12 random characters.
pub fn room_sid() -> String {
    format!("RM_{}", random_suffix(12))
}

/// A new participant sid, `PA_` + 12 random characters.
pub fn participant_sid() -> String {
    format!("PA_{}", random_suffix(12))
}

/// A new track sid: `TR_` + `A`/`V` (kind) + 12 random characters.
pub fn track_sid(is_video: bool) -> String {
    format!(
        "TR_{}{}",
        if is_video { 'V' } else { 'A' },
        random_suffix(12)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_livekit_prefixes_and_differ() {
        assert!(room_sid().starts_with("RM_"));
        assert!(participant_sid().starts_with("PA_"));
        assert!(track_sid(true).starts_with("TR_V"));
        assert!(track_sid(false).starts_with("TR_A"));
        assert_ne!(participant_sid(), participant_sid());
    }
}
