//! The subscriber PC: we offer (data channels plus one send track per subscription), the
//! client answers.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rtc::peer_connection::configuration::RTCOfferOptions;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::RTCSessionDescription;
use webrtc::rtp_transceiver::RtpSender;

use super::codecs::codec_for_mime;
use super::config::MediaConfig;
use super::datachannel::{LOSSY_LABEL, OwnChannel, RELIABLE_LABEL};
use super::error::MediaError;
use super::events::{MediaEvent, PcTarget};
use super::forward::{Forward, PublishedTrack, run_forward};
use super::pc::{Outbox, PcSide};
use convene_rtc::webrtc_kit::codecs::{negotiated_payload_type, single_encoding_track};

/// Offer/answer state of the subscriber PC (we are the only offerer).
#[derive(Debug)]
struct Negotiation {
    /// `start` has run: the data channels exist and offers may be sent.
    started: bool,
    /// Id of the next offer (LiveKit's `SessionDescription.id`, from 1).
    next_id: u32,
    /// Id of the offer sent last (0 before the first), which a client's answer echoes.
    last_id: u32,
    /// An offer was sent and its answer has not been applied yet.
    awaiting_answer: bool,
    /// Something changed while awaiting an answer: offer again once it arrives.
    renegotiate: bool,
}

/// One forwarded track.
struct Subscription {
    sender: Arc<dyn RtpSender>,
    task: JoinHandle<()>,
}

/// The `_reliable` and `_lossy` channels we create.
struct Channels {
    reliable: OwnChannel,
    lossy: OwnChannel,
}

/// The client's subscriber PC.
///
/// Locks: `subscriptions` before `negotiation`, never the other way round; both are async
/// mutexes held across PC calls to keep each change and its offer atomic. The PC's event
/// handler takes neither.
pub(crate) struct Subscriber {
    side: PcSide,
    outbox: Outbox,
    events: mpsc::Sender<MediaEvent>,
    negotiation: Mutex<Negotiation>,
    subscriptions: Mutex<HashMap<String, Subscription>>,
    channels: OnceLock<Channels>,
}

impl Subscriber {
    /// Builds the PC (no offer yet; see [`Subscriber::start`]).
    pub(crate) async fn new(
        config: &MediaConfig,
        outbox: Outbox,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<Self, MediaError> {
        let side = PcSide::build(
            config,
            PcTarget::Subscriber,
            outbox.clone(),
            events.clone(),
            None,
        )
        .await?;
        Ok(Self {
            side,
            outbox,
            events,
            negotiation: Mutex::new(Negotiation {
                started: false,
                next_id: 1,
                last_id: 0,
                awaiting_answer: false,
                renegotiate: false,
            }),
            subscriptions: Mutex::new(HashMap::new()),
            channels: OnceLock::new(),
        })
    }

    /// Creates `_reliable` and `_lossy` and sends the first offer (with every track
    /// subscribed so far). Idempotent.
    pub(crate) async fn start(&self) -> Result<(), MediaError> {
        let mut negotiation = self.negotiation.lock().await;
        if negotiation.started {
            return Ok(());
        }
        if self.channels.get().is_none() {
            let reliable =
                OwnChannel::create(&self.side.pc, RELIABLE_LABEL, self.events.clone()).await?;
            let lossy = OwnChannel::create(&self.side.pc, LOSSY_LABEL, self.events.clone()).await?;
            let _ = self.channels.set(Channels { reliable, lossy });
        }
        negotiation.started = true;
        self.offer(&mut negotiation).await
    }

    /// Sends a new offer, or marks one as due if an answer is pending. Must be called with
    /// the negotiation lock held (`negotiation` is its guard's contents).
    ///
    /// The offer event is queued before `set_local_description`, which starts ICE gathering,
    /// so the client always sees the first offer before our first candidate.
    async fn offer(&self, negotiation: &mut Negotiation) -> Result<(), MediaError> {
        if !negotiation.started {
            return Ok(());
        }
        if negotiation.awaiting_answer {
            negotiation.renegotiate = true;
            return Ok(());
        }
        self.send_offer(negotiation, None).await
    }

    /// Creates an offer (with `options`), queues its event and applies it locally, whatever
    /// the offer/answer state: a new offer replaces one still awaiting its answer (JSEP allows
    /// re-offering from `have-local-offer`), and its id makes answers to the old one stale.
    async fn send_offer(
        &self,
        negotiation: &mut Negotiation,
        options: Option<RTCOfferOptions>,
    ) -> Result<(), MediaError> {
        let offer = self.side.pc.create_offer(options).await?;
        let id = negotiation.next_id;
        negotiation.next_id = negotiation.next_id.wrapping_add(1).max(1);
        negotiation.last_id = id;
        negotiation.awaiting_answer = true;
        negotiation.renegotiate = false;
        let _ = self.outbox.send(MediaEvent::SubscriberOffer {
            sdp: offer.sdp.clone(),
            id,
        });
        self.side.set_local(offer).await
    }

    /// Restarts ICE: sends an offer with fresh ICE credentials at once, replacing any offer
    /// still awaiting its answer (that answer, if it comes, is refused as stale by its id).
    /// Before [`Subscriber::start`] this is `start` (the first offer needs no restart).
    pub(crate) async fn restart_ice(&self) -> Result<(), MediaError> {
        let mut negotiation = self.negotiation.lock().await;
        if !negotiation.started {
            drop(negotiation);
            return self.start().await;
        }
        let options = RTCOfferOptions { ice_restart: true };
        self.send_offer(&mut negotiation, Some(options)).await
    }

    /// Applies the client's answer; sends the next offer if changes piled up meanwhile.
    /// `offer_id` is the id the answer echoes: a non-zero id other than the last offer's is
    /// refused ([`MediaError::StaleAnswer`]); 0 (a client that sends no ids) is not checked.
    pub(crate) async fn apply_answer(
        &self,
        answer_sdp: String,
        offer_id: u32,
    ) -> Result<(), MediaError> {
        let mut negotiation = self.negotiation.lock().await;
        if !negotiation.awaiting_answer {
            return Err(MediaError::NoOfferPending);
        }
        if offer_id != 0 && offer_id != negotiation.last_id {
            return Err(MediaError::StaleAnswer {
                answered: offer_id,
                current: negotiation.last_id,
            });
        }
        negotiation.awaiting_answer = false;
        self.side
            .set_remote(RTCSessionDescription::answer(answer_sdp)?)
            .await?;
        if negotiation.renegotiate {
            self.offer(&mut negotiation).await?;
        }
        Ok(())
    }

    /// Adds (or queues) a client candidate.
    pub(crate) async fn add_candidate(&self, json: &str) -> Result<(), MediaError> {
        self.side.add_candidate(json).await
    }

    /// Adds a send track for `track` and renegotiates. Subscribing twice to one `track_sid`
    /// is a no-op.
    pub(crate) async fn subscribe(
        &self,
        track: &PublishedTrack,
        track_sid: &str,
        stream_id: &str,
    ) -> Result<(), MediaError> {
        let mut subscriptions = self.subscriptions.lock().await;
        if subscriptions.contains_key(track_sid) {
            tracing::debug!(%track_sid, "already subscribed");
            return Ok(());
        }
        let (codec, default_pt, kind) = codec_for_mime(track.mime_type())
            .ok_or_else(|| MediaError::UnsupportedCodec(track.mime_type().to_owned()))?;
        let packets = track.subscribe_packets().ok_or(MediaError::TrackEnded)?;
        let ssrc = fastrand::u32(1..);
        let local = Arc::new(TrackLocalStaticRTP::new(single_encoding_track(
            stream_id,
            track_sid,
            track_sid,
            kind,
            codec.clone(),
            ssrc,
        )));
        let sender = self
            .side
            .pc
            .add_track(Arc::clone(&local) as Arc<dyn TrackLocal>)
            .await?;
        let payload_type = negotiated_payload_type(&sender, &codec.mime_type, default_pt).await;
        let task = tokio::spawn(run_forward(Forward {
            source: track.clone(),
            packets,
            local,
            ssrc,
            payload_type,
            connected: self.side.connected(),
        }));
        subscriptions.insert(track_sid.to_owned(), Subscription { sender, task });
        let mut negotiation = self.negotiation.lock().await;
        self.offer(&mut negotiation).await
    }

    /// Removes the send track of `track_sid` and renegotiates; unknown sids are a no-op.
    pub(crate) async fn unsubscribe(&self, track_sid: &str) -> Result<(), MediaError> {
        let mut subscriptions = self.subscriptions.lock().await;
        let Some(subscription) = subscriptions.remove(track_sid) else {
            return Ok(());
        };
        // Stop the task first: it may be inside `TrackLocal::poll`, which holds the track's
        // event lock that `remove_track` (unbind) needs.
        subscription.task.abort();
        let _ = subscription.task.await;
        self.side.pc.remove_track(&subscription.sender).await?;
        let mut negotiation = self.negotiation.lock().await;
        self.offer(&mut negotiation).await
    }

    /// Sends one message on `_reliable` or `_lossy`.
    pub(crate) async fn send_data(&self, reliable: bool, payload: &[u8]) -> Result<(), MediaError> {
        let Some(channels) = self.channels.get() else {
            return Err(MediaError::DataChannelNotOpen(if reliable {
                RELIABLE_LABEL
            } else {
                LOSSY_LABEL
            }));
        };
        let channel = if reliable {
            &channels.reliable
        } else {
            &channels.lossy
        };
        channel.send(payload)
    }

    /// Stops every forwarding task and closes the PC.
    pub(crate) async fn close(&self) {
        let tasks: Vec<Subscription> = self
            .subscriptions
            .lock()
            .await
            .drain()
            .map(|(_, subscription)| subscription)
            .collect();
        for subscription in tasks {
            subscription.task.abort();
            let _ = subscription.task.await;
        }
        self.side.close().await;
    }
}
