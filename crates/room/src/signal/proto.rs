//! The protobuf edge for what the server sends: turns `livekit_protocol` signal responses
//! into [`SignalEvent`]s, so the room never matches on wire types. Unknown enum numbers and
//! empty fields get a defined meaning here, once (see the tests).
//!
//! And the way out: [`signal_request`] builds the wire message for a [`SignalRequest`], and
//! a few wire values the room must echo (a resume's sync state) are rebuilt here.

use livekit_protocol as lk;
use lk::signal_response::Message as Server;

use super::event::{
    Leave, LeaveAction, ParticipantSnapshot, PublishedTrack, QualityUpdate, SessionDescription,
    SignalEvent, SignalRequest, SpeakerUpdate,
};
use crate::room::{ConnectionQuality, DisconnectReason, LocalTrackOptions, TrackInfo};
use crate::webrtc_kit::{MediaKind, PcTarget};

/// The reason a resume gives when the signaling connection was lost (`ReconnectReason`).
pub(crate) const RESUME_AFTER_SIGNAL_LOSS: i32 = lk::ReconnectReason::RrSignalDisconnected as i32;

/// The wire message for a request.
pub(crate) fn signal_request(request: SignalRequest) -> lk::signal_request::Message {
    use lk::signal_request::Message as Request;
    match request {
        SignalRequest::Subscription {
            track_sid,
            subscribe,
        } => Request::Subscription(lk::UpdateSubscription {
            track_sids: vec![track_sid.into()],
            subscribe,
            ..Default::default()
        }),
        SignalRequest::AddTrack {
            cid,
            options,
            muted,
        } => Request::AddTrack(add_track_request(cid, &options, muted)),
        SignalRequest::Mute { track_sid, muted } => Request::Mute(lk::MuteTrackRequest {
            sid: track_sid.into(),
            muted,
        }),
        SignalRequest::Trickle {
            target,
            candidate_init,
        } => Request::Trickle(lk::TrickleRequest {
            candidate_init,
            target: target.to_signal_target(),
            ..Default::default()
        }),
        SignalRequest::Ping(timestamp) => Request::Ping(timestamp),
        SignalRequest::PingRequest(timestamp) => Request::PingReq(lk::Ping { timestamp, rtt: 0 }),
        SignalRequest::Leave => Request::Leave(lk::LeaveRequest {
            reason: lk::DisconnectReason::ClientInitiated as i32,
            action: lk::leave_request::Action::Disconnect as i32,
            ..Default::default()
        }),
    }
}

/// The `AddTrackRequest` for a track.
fn add_track_request(cid: String, options: &LocalTrackOptions, muted: bool) -> lk::AddTrackRequest {
    let video = options.kind == MediaKind::Video;
    lk::AddTrackRequest {
        cid,
        name: options.name.clone(),
        r#type: if video {
            lk::TrackType::Video as i32
        } else {
            lk::TrackType::Audio as i32
        },
        width: options.width,
        height: options.height,
        muted,
        source: options.source.to_proto() as i32,
        layers: if video {
            vec![lk::VideoLayer {
                quality: lk::VideoQuality::High as i32,
                width: options.width,
                height: options.height,
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// Translates one server message.
pub(crate) fn signal_event(message: Server) -> SignalEvent {
    match message {
        Server::Offer(offer) => SignalEvent::SubscriberOffer(session_description(offer)),
        Server::Answer(answer) => SignalEvent::PublisherAnswer(session_description(answer)),
        Server::Trickle(trickle) => SignalEvent::RemoteCandidate {
            target: PcTarget::from_signal_target(trickle.target),
            candidate_init: trickle.candidate_init,
        },
        Server::Update(update) => {
            SignalEvent::ParticipantsChanged(update.participants.iter().map(participant).collect())
        }
        Server::TrackPublished(response) => SignalEvent::TrackPublished {
            cid: response.cid,
            track: response.track.map(published_track),
        },
        Server::TrackUnpublished(response) => {
            SignalEvent::TrackUnpublished(response.track_sid.into())
        }
        Server::Mute(mute) => SignalEvent::TrackMuteRequested {
            track_sid: mute.sid.into(),
            muted: mute.muted,
        },
        Server::Leave(request) => SignalEvent::Leave(leave(&request)),
        Server::SpeakersChanged(changed) => SignalEvent::SpeakersChanged(
            changed
                .speakers
                .into_iter()
                .map(|speaker| SpeakerUpdate {
                    participant_sid: speaker.sid.into(),
                    level: speaker.level,
                    active: speaker.active,
                })
                .collect(),
        ),
        Server::ConnectionQuality(update) => SignalEvent::ConnectionQualityChanged(
            update
                .updates
                .into_iter()
                .map(|info| QualityUpdate {
                    participant_sid: info.participant_sid.into(),
                    quality: ConnectionQuality::from_proto(info.quality),
                })
                .collect(),
        ),
        Server::RoomUpdate(update) => match update.room {
            Some(room) if !room.sid.is_empty() => SignalEvent::RoomSidAssigned(room.sid),
            _ => SignalEvent::Ignored("room_update without a sid"),
        },
        Server::RefreshToken(token) => SignalEvent::TokenRefreshed(token),
        other => SignalEvent::Ignored(message_name(&other)),
    }
}

/// A participant snapshot (from an update or a join response).
pub(crate) fn participant(info: &lk::ParticipantInfo) -> ParticipantSnapshot {
    ParticipantSnapshot {
        sid: info.sid.as_str().into(),
        identity: info.identity.as_str().into(),
        name: info.name.clone(),
        metadata: info.metadata.clone(),
        version: info.version,
        left: info.state == lk::participant_info::State::Disconnected as i32,
        tracks: info
            .tracks
            .iter()
            .filter_map(TrackInfo::from_proto)
            .collect(),
    }
}

/// A server `leave` (also the answer that refuses a resume). Unknown actions mean
/// disconnect, unknown reasons keep their number.
pub(crate) fn leave(request: &lk::LeaveRequest) -> Leave {
    let action = match lk::leave_request::Action::try_from(request.action) {
        Ok(lk::leave_request::Action::Resume) => LeaveAction::Resume,
        Ok(lk::leave_request::Action::Reconnect) => LeaveAction::Reconnect,
        _ => LeaveAction::Disconnect,
    };
    Leave {
        action,
        reason: DisconnectReason::from_leave(request.reason),
    }
}

/// What a resume's sync state says about one of our publications: the server's own
/// description, unchanged.
pub(crate) fn track_published_response(
    cid: &str,
    track: &PublishedTrack,
) -> lk::TrackPublishedResponse {
    lk::TrackPublishedResponse {
        cid: cid.to_owned(),
        track: Some(track.wire.as_ref().clone()),
    }
}

/// A description as the server sent it (`kind` is "offer" or "answer"), for a sync state.
pub(crate) fn to_session_description(
    kind: &str,
    description: &SessionDescription,
) -> lk::SessionDescription {
    lk::SessionDescription {
        r#type: kind.to_owned(),
        sdp: description.sdp.clone(),
        id: description.id,
        mid_to_track_id: description.mid_to_track_id.clone(),
    }
}

fn session_description(description: lk::SessionDescription) -> SessionDescription {
    SessionDescription {
        sdp: description.sdp,
        id: description.id,
        mid_to_track_id: description.mid_to_track_id,
    }
}

fn published_track(info: lk::TrackInfo) -> PublishedTrack {
    PublishedTrack {
        sid: info.sid.as_str().into(),
        info: TrackInfo::from_proto(&info),
        wire: Box::new(info),
    }
}

/// The field name of a message the room ignores, for the logs.
fn message_name(message: &Server) -> &'static str {
    match message {
        Server::Join(_) => "join",
        Server::Pong(_) => "pong",
        Server::PongResp(_) => "pong_resp",
        Server::Reconnect(_) => "reconnect",
        Server::SubscribedQualityUpdate(_) => "subscribed_quality_update",
        Server::StreamStateUpdate(_) => "stream_state_update",
        Server::SubscriptionPermissionUpdate(_) => "subscription_permission_update",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc_kit::MediaKind;

    fn audio(sid: &str) -> lk::TrackInfo {
        lk::TrackInfo {
            sid: sid.into(),
            r#type: lk::TrackType::Audio as i32,
            ..Default::default()
        }
    }

    #[test]
    fn requests_become_wire_messages() {
        use lk::signal_request::Message as Request;
        let Request::AddTrack(add) = signal_request(SignalRequest::AddTrack {
            cid: "convene-1".into(),
            options: LocalTrackOptions::camera(640, 480),
            muted: true,
        }) else {
            panic!("not an AddTrackRequest");
        };
        assert_eq!(add.cid, "convene-1");
        assert_eq!(add.r#type, lk::TrackType::Video as i32);
        assert_eq!(add.source, lk::TrackSource::Camera as i32);
        assert!(add.muted);
        assert_eq!(add.layers.len(), 1);
        assert_eq!((add.layers[0].width, add.layers[0].height), (640, 480));
        let Request::AddTrack(audio) = signal_request(SignalRequest::AddTrack {
            cid: "convene-2".into(),
            options: LocalTrackOptions::microphone(),
            muted: false,
        }) else {
            panic!("not an AddTrackRequest");
        };
        assert_eq!(audio.r#type, lk::TrackType::Audio as i32);
        assert!(audio.layers.is_empty());
        assert_eq!(
            signal_request(SignalRequest::Trickle {
                target: PcTarget::Subscriber,
                candidate_init: "{}".into()
            }),
            Request::Trickle(lk::TrickleRequest {
                candidate_init: "{}".into(),
                target: 1,
                r#final: false
            })
        );
        assert_eq!(
            signal_request(SignalRequest::Subscription {
                track_sid: "TR_a".into(),
                subscribe: false
            }),
            Request::Subscription(lk::UpdateSubscription {
                track_sids: vec!["TR_a".into()],
                subscribe: false,
                ..Default::default()
            })
        );
        let Request::Leave(leave) = signal_request(SignalRequest::Leave) else {
            panic!("not a leave");
        };
        assert_eq!(leave.action, lk::leave_request::Action::Disconnect as i32);
        assert_eq!(leave.reason, lk::DisconnectReason::ClientInitiated as i32);
        assert_eq!(
            signal_request(SignalRequest::PingRequest(42)),
            Request::PingReq(lk::Ping {
                timestamp: 42,
                rtt: 0
            })
        );
    }

    #[test]
    fn an_update_becomes_participant_snapshots_without_data_tracks() {
        let data = lk::TrackInfo {
            sid: "TR_data".into(),
            r#type: lk::TrackType::Data as i32,
            ..Default::default()
        };
        let event = signal_event(Server::Update(lk::ParticipantUpdate {
            participants: vec![lk::ParticipantInfo {
                sid: "PA_1".into(),
                identity: "bob".into(),
                name: "Bob".into(),
                version: 7,
                state: lk::participant_info::State::Active as i32,
                tracks: vec![audio("TR_a"), data],
                ..Default::default()
            }],
        }));
        let SignalEvent::ParticipantsChanged(snapshots) = event else {
            panic!("not a participant update: {event:?}");
        };
        assert_eq!(snapshots.len(), 1);
        let bob = &snapshots[0];
        assert_eq!(bob.sid, *"PA_1");
        assert_eq!(bob.identity, *"bob");
        assert_eq!(bob.name, "Bob");
        assert_eq!(bob.version, 7);
        assert!(!bob.left);
        let sids: Vec<&str> = bob.tracks.iter().map(|t| t.sid.as_str()).collect();
        assert_eq!(sids, ["TR_a"]);
        assert_eq!(bob.tracks[0].kind, MediaKind::Audio);
    }

    #[test]
    fn only_the_disconnected_state_means_left() {
        let state = |state: i32| {
            participant(&lk::ParticipantInfo {
                state,
                ..Default::default()
            })
            .left
        };
        assert!(state(lk::participant_info::State::Disconnected as i32));
        assert!(!state(lk::participant_info::State::Joining as i32));
        assert!(!state(lk::participant_info::State::Active as i32));
        assert!(!state(99));
    }

    #[test]
    fn an_empty_participant_keeps_empty_ids() {
        let snapshot = participant(&lk::ParticipantInfo::default());
        assert_eq!(snapshot.sid, *"");
        assert_eq!(snapshot.identity, *"");
        assert!(snapshot.tracks.is_empty());
        assert_eq!(snapshot.version, 0);
    }

    #[test]
    fn leave_actions_and_reasons() {
        let leave_with = |action: i32, reason: i32| {
            leave(&lk::LeaveRequest {
                action,
                reason,
                ..Default::default()
            })
        };
        let resume = leave_with(lk::leave_request::Action::Resume as i32, 0);
        assert_eq!(resume.action, LeaveAction::Resume);
        let reconnect = leave_with(lk::leave_request::Action::Reconnect as i32, 0);
        assert_eq!(reconnect.action, LeaveAction::Reconnect);
        let removed = leave_with(
            lk::leave_request::Action::Disconnect as i32,
            lk::DisconnectReason::ParticipantRemoved as i32,
        );
        assert_eq!(removed.action, LeaveAction::Disconnect);
        assert_eq!(removed.reason, DisconnectReason::ParticipantRemoved);
        // An action from a newer server is a disconnect; an unknown reason keeps its number.
        let unknown = leave_with(42, 77);
        assert_eq!(unknown.action, LeaveAction::Disconnect);
        assert_eq!(unknown.reason, DisconnectReason::Server(77));
    }

    #[test]
    fn track_published_keeps_the_wire_description_for_a_resume() {
        let mut wire = audio("TR_a");
        wire.mime_type = "audio/opus".into();
        let event = signal_event(Server::TrackPublished(lk::TrackPublishedResponse {
            cid: "convene-1".into(),
            track: Some(wire.clone()),
        }));
        let SignalEvent::TrackPublished {
            cid,
            track: Some(track),
        } = event
        else {
            panic!("not a track_published with a track: {event:?}");
        };
        assert_eq!(cid, "convene-1");
        assert_eq!(track.sid, *"TR_a");
        assert_eq!(
            track.info.as_ref().map(|i| i.mime_type.as_str()),
            Some("audio/opus")
        );
        let echoed = track_published_response(&cid, &track);
        assert_eq!(echoed.cid, "convene-1");
        assert_eq!(echoed.track, Some(wire));
    }

    #[test]
    fn track_published_without_a_track_or_of_an_unknown_kind() {
        let empty = signal_event(Server::TrackPublished(lk::TrackPublishedResponse {
            cid: "c".into(),
            track: None,
        }));
        assert_eq!(
            empty,
            SignalEvent::TrackPublished {
                cid: "c".into(),
                track: None
            }
        );
        let unknown_kind = signal_event(Server::TrackPublished(lk::TrackPublishedResponse {
            cid: "c".into(),
            track: Some(lk::TrackInfo {
                sid: "TR_x".into(),
                r#type: 42,
                ..Default::default()
            }),
        }));
        let SignalEvent::TrackPublished {
            track: Some(track), ..
        } = unknown_kind
        else {
            panic!("the track was dropped");
        };
        assert_eq!(track.sid, *"TR_x");
        assert_eq!(track.info, None);
    }

    #[test]
    fn trickle_for_an_unknown_pc_has_no_target() {
        let trickle = |target: i32| {
            signal_event(Server::Trickle(lk::TrickleRequest {
                candidate_init: "{}".into(),
                target,
                ..Default::default()
            }))
        };
        assert_eq!(
            trickle(1),
            SignalEvent::RemoteCandidate {
                target: Some(PcTarget::Subscriber),
                candidate_init: "{}".into()
            }
        );
        assert_eq!(
            trickle(5),
            SignalEvent::RemoteCandidate {
                target: None,
                candidate_init: "{}".into()
            }
        );
    }

    #[test]
    fn offers_and_answers_round_trip_for_the_sync_state() {
        let offer = lk::SessionDescription {
            r#type: "offer".into(),
            sdp: "v=0".into(),
            id: 3,
            mid_to_track_id: [("0".to_owned(), "TR_a".to_owned())].into(),
        };
        let SignalEvent::SubscriberOffer(description) = signal_event(Server::Offer(offer.clone()))
        else {
            panic!("not an offer");
        };
        assert_eq!(description.id, 3);
        assert_eq!(to_session_description("offer", &description), offer);
        assert!(matches!(
            signal_event(Server::Answer(lk::SessionDescription::default())),
            SignalEvent::PublisherAnswer(SessionDescription { id: 0, .. })
        ));
    }

    #[test]
    fn room_update_without_a_sid_is_ignored() {
        let update = |sid: &str| {
            signal_event(Server::RoomUpdate(lk::RoomUpdate {
                room: Some(lk::Room {
                    sid: sid.into(),
                    ..Default::default()
                }),
            }))
        };
        assert_eq!(update("RM_1"), SignalEvent::RoomSidAssigned("RM_1".into()));
        assert!(matches!(update(""), SignalEvent::Ignored(_)));
        assert!(matches!(
            signal_event(Server::RoomUpdate(lk::RoomUpdate { room: None })),
            SignalEvent::Ignored(_)
        ));
    }

    #[test]
    fn speakers_quality_mute_unpublish_and_token() {
        let speakers = signal_event(Server::SpeakersChanged(lk::SpeakersChanged {
            speakers: vec![lk::SpeakerInfo {
                sid: "PA_1".into(),
                level: 0.5,
                active: true,
            }],
        }));
        assert_eq!(
            speakers,
            SignalEvent::SpeakersChanged(vec![SpeakerUpdate {
                participant_sid: "PA_1".into(),
                level: 0.5,
                active: true
            }])
        );
        let quality = signal_event(Server::ConnectionQuality(lk::ConnectionQualityUpdate {
            updates: vec![lk::ConnectionQualityInfo {
                participant_sid: "PA_1".into(),
                quality: 99,
                score: 0.0,
            }],
        }));
        // An unknown quality number reads as poor.
        assert_eq!(
            quality,
            SignalEvent::ConnectionQualityChanged(vec![QualityUpdate {
                participant_sid: "PA_1".into(),
                quality: ConnectionQuality::Poor
            }])
        );
        assert_eq!(
            signal_event(Server::Mute(lk::MuteTrackRequest {
                sid: "TR_a".into(),
                muted: true
            })),
            SignalEvent::TrackMuteRequested {
                track_sid: "TR_a".into(),
                muted: true
            }
        );
        assert_eq!(
            signal_event(Server::TrackUnpublished(lk::TrackUnpublishedResponse {
                track_sid: "TR_a".into()
            })),
            SignalEvent::TrackUnpublished("TR_a".into())
        );
        assert_eq!(
            signal_event(Server::RefreshToken("jwt".into())),
            SignalEvent::TokenRefreshed("jwt".into())
        );
        assert_eq!(signal_event(Server::Pong(1)), SignalEvent::Ignored("pong"));
    }
}
