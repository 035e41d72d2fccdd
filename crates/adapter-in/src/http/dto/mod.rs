//! Wire shapes of the API: request DTOs (`deny_unknown_fields`, converted into use-case
//! commands by `try_into_command`-style methods) and response DTOs (built from use-case results).
//! Nothing here is deserialized straight into a domain type.

pub(crate) mod callbacks;
pub(crate) mod enums;
pub(crate) mod formats;
pub(crate) mod health;
pub(crate) mod notifications;
pub(crate) mod recipients;
pub(crate) mod templates;
pub(crate) mod views;
