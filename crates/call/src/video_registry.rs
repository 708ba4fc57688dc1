//! Where the frame server finds pictures: every subscribed video track's newest decoded
//! picture by track sid, and a signal when a track is added (a tile may subscribe as soon as
//! a track is announced, a moment before it is subscribed and decoded; it waits for the
//! signal instead of polling).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::DecodedVideo;

/// A track's newest decoded picture (`None` until the first one).
pub type PictureFeed = watch::Receiver<Option<Arc<DecodedVideo>>>;

/// What the frame server serves pictures from.
pub trait VideoSources: Send + Sync + 'static {
    /// The pictures of `sid`, if that track is known now.
    fn find(&self, sid: &str) -> Option<PictureFeed>;
    /// Changes whenever a track may have been added: look again with
    /// [`VideoSources::find`]. A `watch`, so no addition between two looks is missed.
    fn additions(&self) -> watch::Receiver<u64>;
}

/// The decoded video tracks of one call, shared by the session (adds and removes them as
/// they are subscribed) and the frame server (reads them). Cloning shares.
#[derive(Clone)]
pub struct VideoRegistry {
    inner: Arc<Registry>,
}

struct Registry {
    tracks: Mutex<HashMap<String, PictureFeed>>,
    added: watch::Sender<u64>,
}

impl Default for VideoRegistry {
    fn default() -> Self {
        Self {
            inner: Arc::new(Registry {
                tracks: Mutex::default(),
                added: watch::channel(0).0,
            }),
        }
    }
}

impl VideoRegistry {
    /// Adds (or replaces) `sid`'s pictures and signals the addition.
    pub fn insert(&self, sid: &str, pictures: PictureFeed) {
        self.tracks().insert(sid.to_owned(), pictures);
        self.inner
            .added
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Forgets `sid` (unsubscribed).
    pub fn remove(&self, sid: &str) {
        self.tracks().remove(sid);
    }

    /// The sids of the tracks present now.
    pub fn sids(&self) -> Vec<String> {
        self.tracks().keys().cloned().collect()
    }

    fn tracks(&self) -> std::sync::MutexGuard<'_, HashMap<String, PictureFeed>> {
        self.inner
            .tracks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl VideoSources for VideoRegistry {
    fn find(&self, sid: &str) -> Option<PictureFeed> {
        self.tracks().get(sid).cloned()
    }

    fn additions(&self) -> watch::Receiver<u64> {
        self.inner.added.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_addition_is_signalled_even_between_two_looks() {
        let registry = VideoRegistry::default();
        let mut additions = registry.additions();
        additions.borrow_and_update();
        assert!(registry.find("TR_a").is_none());
        // Added after the look, before anyone waits: the wait still ends.
        let (_pictures, feed) = watch::channel(None);
        registry.insert("TR_a", feed);
        additions.changed().await.expect("signalled");
        assert!(registry.find("TR_a").is_some());
        assert_eq!(registry.sids(), ["TR_a"]);
        registry.remove("TR_a");
        assert!(registry.find("TR_a").is_none());
    }
}
