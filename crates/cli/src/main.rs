//! convene-cli: Convene from the command line.
//!
//! `token create` signs a development token (defaults match the local room server);
//! `token inspect` prints what a token says as JSON, without the secret. The headless
//! participant, the server launcher and the benchmarks join as their issues land.

use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use convene_devserver::DevServerConfig;
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
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
