//! RTP sequence numbers wrap at 65 536; the playout buffer orders packets by an extended
//! (64-bit) number so a wrap during a call is invisible to it.

/// Extends 16-bit RTP sequence numbers to a monotonic 64-bit space, tolerating reordering.
#[derive(Debug, Clone, Default)]
pub struct SequenceUnwrapper {
    last: Option<u64>,
}

impl SequenceUnwrapper {
    /// The extended number of `sequence`: the candidate (same, previous or next cycle)
    /// closest to the last number seen, so a late packet from before a wrap stays behind it.
    pub fn extend(&mut self, sequence: u16) -> u64 {
        let Some(last) = self.last else {
            // Start one cycle up so packets from just before the first one still fit.
            let first = (1 << 16) + u64::from(sequence);
            self.last = Some(first);
            return first;
        };
        let cycle = last >> 16;
        let extended = [cycle.saturating_sub(1), cycle, cycle + 1]
            .into_iter()
            .map(|c| (c << 16) | u64::from(sequence))
            .min_by_key(|candidate| candidate.abs_diff(last))
            .unwrap_or(last);
        if extended > last {
            self.last = Some(extended);
        }
        extended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_increasing_across_a_wrap_and_late_packets_stay_behind() {
        let mut unwrapper = SequenceUnwrapper::default();
        let a = unwrapper.extend(65_534);
        let b = unwrapper.extend(65_535);
        let c = unwrapper.extend(0);
        let late = unwrapper.extend(65_533);
        let d = unwrapper.extend(1);
        assert_eq!([b - a, c - b, d - c], [1, 1, 1]);
        assert_eq!(a - late, 1);
    }
}
