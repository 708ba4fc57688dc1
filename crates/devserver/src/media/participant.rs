//! [`ParticipantMedia`]: one participant's two peer connections behind one handle.

use tokio::sync::mpsc;

use super::config::MediaConfig;
use super::error::MediaError;
use super::events::{MediaEvent, PcTarget};
use super::forward::PublishedTrack;
use super::publisher::Publisher;
use super::subscriber::Subscriber;

/// One participant's server-side WebRTC in LiveKit's dual-PC mode: the publisher PC (the
/// client offers, we answer; its tracks and data arrive here) and the subscriber PC (we
/// offer; other participants' tracks and our data go out here).
///
/// All methods take `&self` and may be called from any task. Nothing here blocks on the
/// event channel, so the session may call these methods from the task that reads the events.
pub struct ParticipantMedia {
    publisher: Publisher,
    subscriber: Subscriber,
}

impl ParticipantMedia {
    /// Builds both PCs (binding their ICE sockets on `config.bind_ip`) and starts forwarding
    /// events to `events`. Call right after the participant joins.
    ///
    /// Must run inside a Tokio runtime (it spawns tasks). The event forwarding ends by itself
    /// once the session drops its receiver, or once both PCs and their tasks are gone (so the
    /// last events, e.g. `TrackEnded` after [`ParticipantMedia::close`], still arrive).
    pub async fn new(
        config: &MediaConfig,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<Self, MediaError> {
        let (outbox, inbox) = mpsc::unbounded_channel();
        tokio::spawn(pump(inbox, events.clone()));
        let publisher = Publisher::new(config, outbox.clone(), events.clone()).await?;
        let subscriber = Subscriber::new(config, outbox, events).await?;
        Ok(Self {
            publisher,
            subscriber,
        })
    }

    /// Publisher PC: applies the client's offer and returns the answer SDP. The caller sends
    /// it as `SignalResponse.answer`, echoing the offer's `id`. Offers are handled in call
    /// order.
    pub async fn answer_publisher_offer(&self, offer_sdp: String) -> Result<String, MediaError> {
        self.publisher.answer(offer_sdp).await
    }

    /// Subscriber PC: applies the client's answer to our latest offer (the caller may check
    /// its `id` against the last [`MediaEvent::SubscriberOffer`]). If subscriptions changed
    /// meanwhile, the next offer is emitted right away.
    ///
    /// Fails with [`MediaError::NoOfferPending`] if no offer is outstanding. The answer's
    /// offer id is not checked; see [`ParticipantMedia::apply_subscriber_answer_to`].
    pub async fn apply_subscriber_answer(&self, answer_sdp: String) -> Result<(), MediaError> {
        self.subscriber.apply_answer(answer_sdp, 0).await
    }

    /// Like [`ParticipantMedia::apply_subscriber_answer`], for an answer that echoes
    /// `offer_id` (`SessionDescription.id`): an answer to an offer that a newer one replaced
    /// (see [`ParticipantMedia::restart_subscriber_ice`]) fails with
    /// [`MediaError::StaleAnswer`] and changes nothing. Id 0 (unset) is not checked.
    pub async fn apply_subscriber_answer_to(
        &self,
        offer_id: u32,
        answer_sdp: String,
    ) -> Result<(), MediaError> {
        self.subscriber.apply_answer(answer_sdp, offer_id).await
    }

    /// Subscriber PC: restarts ICE (after a signaling resume, livekit-protocol.md 6.2). Emits
    /// a [`MediaEvent::SubscriberOffer`] with fresh ICE credentials at once, even while an
    /// earlier offer awaits its answer (the client may never have received it): the new offer
    /// carries every current subscription and supersedes the old one. Candidates of the new
    /// ICE generation follow the offer event. Before
    /// [`ParticipantMedia::start_subscriber`] this starts the subscriber instead.
    pub async fn restart_subscriber_ice(&self) -> Result<(), MediaError> {
        self.subscriber.restart_ice().await
    }

    /// Adds a candidate the client trickled (`TrickleRequest.candidateInit`, for `target`).
    /// Queued internally while that PC has no remote description yet; an empty candidate
    /// string (end of candidates) is ignored.
    pub async fn add_remote_candidate(
        &self,
        target: PcTarget,
        candidate_init_json: &str,
    ) -> Result<(), MediaError> {
        match target {
            PcTarget::Publisher => self.publisher.add_candidate(candidate_init_json).await,
            PcTarget::Subscriber => self.subscriber.add_candidate(candidate_init_json).await,
        }
    }

    /// Starts the subscriber side: creates the `_reliable` (ordered) and `_lossy`
    /// (unordered, `maxRetransmits = 0`) data channels and emits the first
    /// [`MediaEvent::SubscriberOffer`] (id 1), carrying any track subscribed before.
    ///
    /// Call once right after the JoinResponse, even with nothing to subscribe to; further
    /// calls do nothing.
    pub async fn start_subscriber(&self) -> Result<(), MediaError> {
        self.subscriber.start().await
    }

    /// Forwards `track` to this participant: adds a send track with MediaStream id
    /// `stream_id` (LiveKit wants `"PA_xxx|TR_yyy"`) and track id `track_sid` (`"TR_yyy"`),
    /// then renegotiates (a new [`MediaEvent::SubscriberOffer`] now, or once the pending
    /// answer arrives, or at `start_subscriber` if not started yet).
    ///
    /// Send the ParticipantUpdate carrying the TrackInfo before this, so the client knows the
    /// track when the offer arrives. A keyframe is requested from the publisher as soon as
    /// packets flow. Subscribing twice to the same `track_sid` is a no-op.
    pub async fn subscribe(
        &self,
        track: &PublishedTrack,
        track_sid: &str,
        stream_id: &str,
    ) -> Result<(), MediaError> {
        self.subscriber.subscribe(track, track_sid, stream_id).await
    }

    /// Stops forwarding `track_sid` and renegotiates. Unknown sids are ignored.
    pub async fn unsubscribe(&self, track_sid: &str) -> Result<(), MediaError> {
        self.subscriber.unsubscribe(track_sid).await
    }

    /// Sends one data packet (a serialized `DataPacket`) to the client on the subscriber
    /// PC's `_reliable` (`reliable = true`) or `_lossy` channel.
    ///
    /// Queued in order while the client opens the channel (up to a few seconds after it
    /// joined), without holding up the caller; fails with [`MediaError::DataChannelNotOpen`]
    /// before `start_subscriber` or when the client never opened it (the queue is full).
    pub async fn send_data(&self, reliable: bool, payload: bytes::Bytes) -> Result<(), MediaError> {
        self.subscriber.send_data(reliable, &payload).await
    }

    /// Closes both PCs. Tracks this participant published end (their subscribers stop
    /// receiving and [`MediaEvent::TrackEnded`] is emitted); forwarding to this participant
    /// stops. Idempotent.
    pub async fn close(&self) {
        self.subscriber.close().await;
        self.publisher.close().await;
    }
}

/// Moves events from the internal unbounded queue to the session's bounded channel, in
/// order, until either side is gone.
async fn pump(mut inbox: mpsc::UnboundedReceiver<MediaEvent>, events: mpsc::Sender<MediaEvent>) {
    while let Some(event) = inbox.recv().await {
        if events.send(event).await.is_err() {
            break;
        }
    }
}
