//! Newtypes for the ids the server hands out, so a participant sid, a track sid and an
//! identity cannot be swapped by accident inside the crate. The public API keeps plain
//! `String`s; these types convert at that boundary (`From<…> for String`).

use std::fmt;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) struct $name(String);

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// A participant's server id (`PA_…`): one per session, new after a rejoin.
    ParticipantSid
);
id_newtype!(
    /// A track's server id (`TR_…`).
    TrackSid
);
id_newtype!(
    /// A participant's identity (from its token): stable across rejoins, unique in a room.
    Identity
);
