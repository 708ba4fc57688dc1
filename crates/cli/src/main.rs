//! convene-cli: Convene from the command line.
//!
//! `token create` signs a development token (defaults match the local room server);
//! `token inspect` prints what a token says as JSON, without the secret; `server` runs the
//! local LiveKit-compatible room server; `join` is a headless participant that prints room
//! events as JSON lines (for QA and tests); the benchmarks spawn it as their peers.

mod join;

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use convene_devserver::{DevServerConfig, IceServerConfig};
use convene_room::clock::unix_now_secs as unix_now;
use convene_room::{AccessToken, Token, TokenInfo};

/// Convene's command line.
#[derive(Debug, Parser)]
#[command(name = "convene-cli", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or inspect LiveKit access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run the local LiveKit-compatible room server until Ctrl+C.
    Server {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7880")]
        bind: std::net::SocketAddr,
        /// Print a join token for this room (with --identity).
        #[arg(long, default_value = "demo")]
        room: String,
        /// Identity of the printed token.
        #[arg(long, default_value = "me")]
        identity: String,
        /// A TURN server to hand out to participants (`turn:host:3478?transport=udp`,
        /// `turn:host:3478?transport=tcp`, `turns:host:443`); repeatable.
        #[arg(long = "turn")]
        turn_urls: Vec<String>,
        /// User name for the TURN servers.
        #[arg(long, default_value = "")]
        turn_user: String,
        /// Password for the TURN servers; prefer the environment variable.
        #[arg(
            long,
            env = "CONVENE_TURN_PASSWORD",
            hide_env_values = true,
            default_value = ""
        )]
        turn_password: String,
        /// API key tokens must name (with --api-secret).
        #[arg(long, env = "LIVEKIT_API_KEY")]
        api_key: Option<String>,
        /// API secret tokens are signed with; prefer the environment variable.
        #[arg(long, env = "LIVEKIT_API_SECRET", hide_env_values = true)]
        api_secret: Option<String>,
        /// `key: secret`, as livekit-server reads LIVEKIT_KEYS (the first pair is used).
        #[arg(long, env = "LIVEKIT_KEYS", hide_env_values = true)]
        keys: Option<String>,
        /// Accept the public development credentials (key `devkey`, secret `secret`) on an
        /// address other computers can reach. Without keys they are the default on loopback.
        #[arg(long)]
        dev: bool,
    },
    /// Join a room headless and print its events as JSON lines until Ctrl+C or SIGTERM.
    Join {
        /// Server URL (`wss://…` for LiveKit Cloud, `ws://127.0.0.1:7880` locally).
        #[arg(long)]
        url: String,
        /// Access token; prefer the environment variable (keeps it out of `ps`).
        #[arg(long, env = "CONVENE_TOKEN", hide_env_values = true)]
        token: String,
        /// Publish a microphone track of Opus silence.
        #[arg(long)]
        publish_silence: bool,
        /// Publish the synthetic devices: a 640x360 test pattern camera (VP8, with frame
        /// counter and capture time drawn in) and a 440 Hz test tone microphone (Opus).
        #[arg(long)]
        fake_media: bool,
        /// Local address for the peer connections (`0.0.0.0:0`: every interface).
        #[arg(long, default_value = "0.0.0.0:0")]
        bind: std::net::SocketAddr,
        /// Do not watch the network interfaces for changes.
        #[arg(long)]
        no_watch_network: bool,
        /// Milliseconds between `media` lines.
        #[arg(long, default_value_t = 500)]
        report_ms: u64,
        /// Also leave when stdin reaches its end (for a parent process holding the pipe).
        #[arg(long)]
        leave_on_stdin_end: bool,
        /// With each `media` line, print a `stats` line: the candidate pair in use (host,
        /// srflx or relay; UDP, TCP or TLS), RTT, loss, jitter and bitrates (the app's
        /// diagnostics panel, as JSON).
        #[arg(long)]
        stats: bool,
        /// Send a numbered reliable data message (`probe <n>`, topic `convene-probe`)
        /// every this many milliseconds, to check that none is lost across network changes.
        #[arg(long)]
        probe_every_ms: Option<u64>,
        /// Use only TURN relay candidates (to test the TURN path).
        #[arg(long)]
        relay_only: bool,
        /// A PEM certificate to trust for TURN over TLS besides the system's (a TURN server
        /// with a private CA); repeatable.
        #[arg(long = "turn-ca")]
        turn_ca_files: Vec<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Sign a token that joins ROOM as IDENTITY; prints the JWT.
    Create {
        /// Room to join.
        #[arg(long)]
        room: String,
        /// Participant identity.
        #[arg(long)]
        identity: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Validity in seconds.
        #[arg(long, default_value_t = convene_room::token::DEFAULT_TTL_SECS)]
        ttl: u64,
        /// API key (the local server's by default).
        #[arg(long, env = "LIVEKIT_API_KEY")]
        api_key: Option<String>,
        /// API secret (the local server's by default); prefer the environment variable.
        #[arg(long, env = "LIVEKIT_API_SECRET", hide_env_values = true)]
        api_secret: Option<String>,
    },
    /// Print what a token says as JSON (signature not checked). Reads stdin when TOKEN is `-`
    /// or absent, so the token stays out of shell history.
    Inspect {
        /// The JWT, or `-` for stdin.
        token: Option<String>,
    },
}

/// The key and secret a server at `bind` signs with: `keys` (`key: secret`), else both of
/// `api_key` and `api_secret`, else the public development pair, which anybody can sign
/// tokens with, so only on loopback unless `dev` accepts them elsewhere (livekit-server
/// likewise starts without keys only in `--dev` mode).
fn server_credentials(
    bind: std::net::SocketAddr,
    api_key: Option<String>,
    api_secret: Option<String>,
    keys: Option<String>,
    dev: bool,
) -> Result<(String, String), String> {
    if let Some(keys) = keys {
        let first = keys
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("");
        return first
            .split_once(':')
            .map(|(key, secret)| (key.trim().to_owned(), secret.trim().to_owned()))
            .filter(|(key, secret)| !key.is_empty() && !secret.is_empty())
            .ok_or_else(|| "LIVEKIT_KEYS / --keys must read `key: secret`".to_owned());
    }
    match (api_key, api_secret) {
        (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => Ok((key, secret)),
        (None, None) => {
            let defaults = DevServerConfig::default();
            if !bind.ip().is_loopback() && !dev {
                return Err(format!(
                    "refusing to serve on {bind} with the public development credentials \
                     (anybody could sign tokens): give --api-key and --api-secret (or \
                     LIVEKIT_KEYS), or --dev to accept them"
                ));
            }
            Ok((defaults.api_key, defaults.api_secret))
        }
        _ => Err("give both --api-key and --api-secret (or LIVEKIT_KEYS)".to_owned()),
    }
}

async fn serve(
    bind: std::net::SocketAddr,
    (api_key, api_secret): (String, String),
    room: &str,
    identity: &str,
    ice_servers: Vec<IceServerConfig>,
) -> Result<String, String> {
    // Media candidates on the address we listen on (every interface for 0.0.0.0).
    let config = DevServerConfig {
        bind,
        media_ip: bind.ip(),
        ice_servers,
        api_key,
        api_secret,
        ..DevServerConfig::default()
    };
    let key = config.api_key.clone();
    let server = convene_devserver::DevServer::start(config)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let token = server
        .token(room, identity, convene_room::token::DEFAULT_TTL_SECS)
        .map_err(|e| e.to_string())?;
    // Written without println!: a closed stdout (a parent that stopped reading) must not
    // take the server down.
    let mut out = std::io::stdout();
    // The secret is never printed.
    let _ = writeln!(out, "convene devserver on {} (API key {key})", server.url());
    let _ = writeln!(
        out,
        "join room {room:?} as {identity:?} with this token:\n{}",
        token.expose()
    );
    let _ = out.flush();
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl+C: {e}"))?;
    server.shutdown().await;
    Ok("server stopped".to_owned())
}

fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Server {
            bind,
            room,
            identity,
            turn_urls,
            turn_user,
            turn_password,
            api_key,
            api_secret,
            keys,
            dev,
        } => {
            let credentials = server_credentials(bind, api_key, api_secret, keys, dev)?;
            let ice_servers = if turn_urls.is_empty() {
                Vec::new()
            } else {
                vec![IceServerConfig {
                    urls: turn_urls,
                    username: turn_user,
                    credential: turn_password,
                }]
            };
            tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the runtime: {e}"))?
                .block_on(serve(bind, credentials, &room, &identity, ice_servers))
        }
        Command::Join {
            url,
            token,
            publish_silence,
            fake_media,
            bind,
            no_watch_network,
            report_ms,
            leave_on_stdin_end,
            stats,
            probe_every_ms,
            relay_only,
            turn_ca_files,
        } => {
            let turn_tls_roots = turn_ca_files
                .iter()
                .map(|path| {
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the runtime: {e}"))?
                .block_on(join::join(join::JoinArgs {
                    url,
                    token,
                    publish_silence,
                    fake_media,
                    bind,
                    watch_network: !no_watch_network,
                    report_every: std::time::Duration::from_millis(report_ms.max(50)),
                    leave_on_stdin_end,
                    stats,
                    probe_every: probe_every_ms
                        .map(|ms| std::time::Duration::from_millis(ms.max(10))),
                    relay_only,
                    turn_tls_roots,
                }))
        }
        Command::Token(TokenCommand::Create {
            room,
            identity,
            name,
            ttl,
            api_key,
            api_secret,
        }) => {
            let defaults = DevServerConfig::default();
            let token = AccessToken::new(
                api_key.unwrap_or(defaults.api_key),
                api_secret.unwrap_or(defaults.api_secret),
            )
            .identity(identity)
            .name(name)
            .room_join(room)
            .ttl_secs(ttl)
            .sign(unix_now())
            .map_err(|e| e.to_string())?;
            Ok(token.expose().to_owned())
        }
        Command::Token(TokenCommand::Inspect { token }) => {
            let encoded = match token.as_deref() {
                Some(text) if text != "-" => text.to_owned(),
                _ => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
                    text
                }
            };
            let info = TokenInfo::inspect(&Token::new(encoded)).map_err(|e| e.to_string())?;
            let mut json = serde_json::to_value(&info).map_err(|e| e.to_string())?;
            json["expired"] = info.is_expired(unix_now()).into();
            Ok(json.to_string())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,rtc_ice=error,rtc_dtls=error")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("convene-cli: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> std::net::SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_development_credentials_stay_on_loopback_unless_dev_is_given() {
        let dev = server_credentials(addr("127.0.0.1:7880"), None, None, None, false).unwrap();
        assert_eq!(dev.0, "devkey");
        let refused = server_credentials(addr("0.0.0.0:7880"), None, None, None, false);
        assert!(refused.unwrap_err().contains("--api-key"));
        assert!(server_credentials(addr("10.201.1.1:7880"), None, None, None, true).is_ok());
    }

    #[test]
    fn keys_come_from_the_flags_or_livekit_keys() {
        let given = server_credentials(
            addr("0.0.0.0:7880"),
            Some("prod".into()),
            Some("a-long-secret".into()),
            None,
            false,
        )
        .unwrap();
        assert_eq!(given, ("prod".to_owned(), "a-long-secret".to_owned()));
        let keys = server_credentials(
            addr("0.0.0.0:7880"),
            None,
            None,
            Some("\nAPIabc: s3cr3t-value\nother: x\n".into()),
            false,
        )
        .unwrap();
        assert_eq!(keys, ("APIabc".to_owned(), "s3cr3t-value".to_owned()));
        assert!(
            server_credentials(addr("127.0.0.1:1"), Some("k".into()), None, None, false).is_err()
        );
        assert!(
            server_credentials(
                addr("127.0.0.1:1"),
                None,
                None,
                Some("nocolon".into()),
                false
            )
            .is_err()
        );
    }
}
