//! HTTP routes: health, `/rtc` (v0 signaling upgrade), `/rtc/validate`, and the v1 paths
//! answered with 404 so current clients fall back to v0 (livekit-protocol.md 1.4).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use convene_rtc::clock::unix_now_secs as unix_now;
use convene_rtc::token::TokenInfo;

use crate::auth::{self, AuthError};
use crate::config::{DevServerConfig, MAX_SIGNAL_MESSAGE_BYTES};
use crate::rooms::Rooms;
use crate::session::{self, JoinParams};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// Server configuration.
    pub config: Arc<DevServerConfig>,
    /// The room registry.
    pub rooms: Arc<Rooms>,
}

/// The server's routes, with `Access-Control-Allow-Origin: *` on every answer (browsers
/// `fetch` the validate URL after a failed connect and must be allowed to read it).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { "OK" }))
        .route("/rtc", get(rtc))
        .route("/rtc/validate", get(validate))
        .route("/rtc/v1", get(not_found))
        .route("/rtc/v1/validate", get(not_found))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::map_response(allow_any_origin))
}

async fn allow_any_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "404 page not found")
}

fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<TokenInfo, AuthError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = auth::token_from(header, query.get("access_token").map(String::as_str))?;
    auth::authorize(&token, &state.config, unix_now())
}

fn refusal(error: &AuthError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    tracing::info!(%status, reason = %error, "join refused");
    (status, error.to_string()).into_response()
}

fn flag(query: &HashMap<String, String>, name: &str, default: bool) -> bool {
    query
        .get(name)
        .map_or(default, |v| matches!(v.as_str(), "1" | "true"))
}

async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_web_origin(&state, &headers) {
        return refused;
    }
    match authorize(&state, &headers, &query) {
        Ok(_) => "success".into_response(),
        Err(error) => refusal(&error),
    }
}

/// A 403 for a web page's request to a server that only the app may use
/// ([`crate::DevServerConfig::refuse_web_origins`]).
fn refuse_web_origin(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .map(|origin| origin.to_str().unwrap_or("(not text)"));
    if state.config.accepts_origin(origin) {
        return None;
    }
    tracing::warn!(origin = ?origin, "refused a request from a web page");
    Some((StatusCode::FORBIDDEN, "web pages may not use this room").into_response())
}

async fn rtc(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if let Some(refused) = refuse_web_origin(&state, &headers) {
        return refused;
    }
    let grant = match authorize(&state, &headers, &query) {
        Ok(grant) => grant,
        Err(error) => return refusal(&error),
    };
    let Ok(upgrade) = upgrade else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response();
    };
    let params = JoinParams {
        reconnect: flag(&query, "reconnect", false),
        auto_subscribe: flag(&query, "auto_subscribe", true),
        protocol: query
            .get("protocol")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
        sid: query.get("sid").filter(|sid| !sid.is_empty()).cloned(),
        reconnect_reason: query.get("reconnect_reason").and_then(|r| r.parse().ok()),
    };
    upgrade
        .max_message_size(MAX_SIGNAL_MESSAGE_BYTES)
        .max_frame_size(MAX_SIGNAL_MESSAGE_BYTES)
        .on_upgrade(move |socket| session::run(socket, grant, params, state.rooms, state.config))
}
