//! `plantdb-auth key rotate`: a new signing key, the old one kept to verify
//! the tokens it signed for a grace period (so that nobody is logged out by
//! the rotation unless the grace is 0).

use anyhow::bail;
use chrono::{SecondsFormat, Utc};
use clap::{Args, Subcommand};
use plantdb_auth_core::session::{load_retired, rotate_key_file};
use serde_json::json;

use super::admin::{answer, Admin, DbArgs};
use crate::database::{KEY_FILE, RETIRED_KEY_FILE};

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Replace the signing key (on the running server too). Tokens signed with the old
    /// key stay valid for --grace seconds, then end; 0 ends them at once.
    Rotate {
        /// Seconds the old key still verifies tokens (default: 30 days,
        /// the longest API-token lifetime by default).
        #[arg(long, default_value_t = 2_592_000)]
        grace: i64,
    },
}

pub fn execute(admin: &Admin, command: KeyCommand) -> anyhow::Result<()> {
    let KeyCommand::Rotate { grace } = command;
    if grace < 0 {
        bail!("--grace must be 0 or a positive number of seconds (got {grace})");
    }
    if crate::secrets::from_env(crate::secrets::JWT_SECRET_KEY)?.is_some() {
        bail!(
            "the signing key comes from JWT_SECRET_KEY: set a new value there instead (tokens of the old key end at once)"
        );
    }
    let retire_at = Utc::now() + chrono::Duration::seconds(grace);
    let until = retire_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    if let Some(pg) = admin.postgres() {
        // Every instance (this one too, when online) hears of it and reads
        // the keys again.
        let next = pg.rotate_signing_key(retire_at.timestamp())?;
        if admin.is_online() {
            // Not waiting for the notification: the answer is then true.
            let now = Utc::now().timestamp();
            let retired = pg.retired_signing_key()?.filter(|r| r.retire_at > now);
            admin.db().sessions().replace_keys(&next, retired.as_ref());
        }
    } else {
        let state_dir = admin.state_dir().to_path_buf();
        let retired_path = state_dir.join(RETIRED_KEY_FILE);
        let next = rotate_key_file(
            &state_dir.join(KEY_FILE),
            &retired_path,
            retire_at.timestamp(),
        )?;
        if admin.is_online() {
            // The running server signs with the new key from now on.
            let retired = load_retired(&retired_path)?;
            admin
                .db()
                .sessions()
                .replace_keys(&next, retired.as_ref().filter(|_| grace > 0));
        }
    }
    plantdb_auth_core::audit::AuditEvent::KeyRotated {
        old_key_valid_until: &until,
    }
    .emit();
    let next_step = match (admin.postgres().is_some(), admin.is_online()) {
        (true, _) => "Every running instance signs with the new key now",
        (false, true) => "The running server signs with the new key now",
        (false, false) => "Start the server to use the new key",
    };
    answer(
        admin,
        json!({"rotated": true, "old_key_valid_until": until}),
        || {
            format!(
                "Signing key rotated; tokens signed with the old key stay valid until {until}. {next_step}"
            )
        },
    );
    Ok(())
}
