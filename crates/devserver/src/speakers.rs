//! Active-speaker hysteresis: when a participant's audio level is worth a `speakers_changed`.
//!
//! Pure: the room registry feeds each level it hears of (from the RTP audio-level extension of
//! a participant's audio track) into that participant's [`SpeakerState`] and broadcasts what
//! comes back. Deltas only, as livekit-server sends them: clients keep speakers not mentioned.

/// Audio level (0..=1) from which a participant counts as speaking: -35 dBov, the default
/// `active_level` of livekit-server.
pub const SPEAKING_LEVEL: f32 = 0.0178;

/// Change of level that is worth a new `speakers_changed` while somebody keeps speaking.
pub const LEVEL_CHANGE_TO_ANNOUNCE: f32 = 0.1;

/// What to tell the room about one speaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerChange {
    /// The level to announce (0..=1; 0 when no longer speaking).
    pub level: f32,
    /// Whether the participant is speaking now.
    pub active: bool,
}

/// What the room was last told about one participant's speaking.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeakerState {
    /// Whether the last announcement said "speaking".
    speaking: bool,
    /// The level last announced (0 when not speaking).
    announced_level: f32,
}

impl SpeakerState {
    /// Whether the room was last told this participant speaks.
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// The level last announced, clamped to 0..=1 (0 when not speaking).
    pub fn level(&self) -> f32 {
        if self.speaking {
            self.announced_level.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Notes the participant's current level; returns the change to announce when it starts
    /// or stops speaking, or its level moved by [`LEVEL_CHANGE_TO_ANNOUNCE`] or more while it
    /// keeps speaking. Level 0 (a muted or ended track) stops it speaking at once.
    pub fn observe(&mut self, level: f32) -> Option<SpeakerChange> {
        let speaking = level >= SPEAKING_LEVEL;
        let moved = (level - self.announced_level).abs() >= LEVEL_CHANGE_TO_ANNOUNCE;
        if speaking == self.speaking && !(speaking && moved) {
            return None;
        }
        self.speaking = speaking;
        self.announced_level = if speaking { level } else { 0.0 };
        Some(SpeakerChange {
            level: self.level(),
            active: speaking,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaking_starts_above_the_threshold_and_is_reannounced_only_on_big_moves() {
        // (level heard, expected announcement as (level, active))
        let table: &[(f32, Option<(f32, bool)>)] = &[
            (0.0, None),                                    // silent and never announced: nothing
            (0.01, None),                                   // below -35 dBov: still silent
            (0.2, Some((0.2, true))),                       // starts speaking
            (0.25, None),                                   // small move while speaking: quiet
            (0.35, Some((0.35, true))),                     // moved by 0.15 from 0.2: re-announced
            (0.3, None),                                    // back by 0.05: quiet
            (1.5, Some((1.0, true))), // out of range: clamped in the announcement
            (0.01, Some((0.0, false))), // drops below: stops speaking
            (0.005, None),            // still silent
            (SPEAKING_LEVEL, Some((SPEAKING_LEVEL, true))), // the threshold itself counts
            (0.0, Some((0.0, false))), // muted: stops at once
        ];
        let mut state = SpeakerState::default();
        for (step, &(level, expected)) in table.iter().enumerate() {
            let got = state.observe(level).map(|c| (c.level, c.active));
            assert_eq!(got, expected, "step {step}: level {level}");
            assert_eq!(
                state.is_speaking(),
                expected.map_or(state.is_speaking(), |(_, active)| active)
            );
        }
    }
}
