//! First start: make sure `guest` and `admin` exist.

use plantdb_auth_core::model::{Role, User, Username};
use plantdb_auth_core::store::StoreError;

use crate::{AuthDb, AuthError};

/// Where admin's first password comes from.
#[derive(Debug, Clone)]
pub enum AdminPassword {
    /// `PLANTDB_ADMIN_PASSWORD`, used as given (an operator's choice).
    Given(String),
    /// Generate a random one and report it once.
    Generate,
    /// `--test` mode: the well-known `admin`, no policy warning.
    TestMode,
}

/// What bootstrap did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bootstrap {
    pub created_guest: bool,
    pub created_admin: bool,
    /// The generated admin password, to print once.
    pub generated_admin_password: Option<String>,
}

fn random_password() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}

/// Creates `guest` (password `guest`, reader) if absent, and `admin` only
/// while no account holds the admin role (a new database, or one whose
/// accounts were all made without it): an operator who deleted `admin`
/// in favour of another administrator does not get it back, with a fresh
/// password, at the next start. Never touches an existing account.
pub fn ensure_default_accounts(db: &AuthDb, admin: AdminPassword) -> Result<Bootstrap, AuthError> {
    let mut outcome = Bootstrap::default();
    let guest = Username::parse("guest").map_err(|e| AuthError::Internal(e.to_string()))?;
    let has_admin = db.users.list()?.iter().any(|u| u.is_admin());
    if !db.users.exists(&guest)? {
        outcome.created_guest = create(db, guest, "PlantDB Guest", "guest", Role::Reader)?;
    }
    let admin_name = Username::parse("admin").map_err(|e| AuthError::Internal(e.to_string()))?;
    if !has_admin && !db.users.exists(&admin_name)? {
        let password = match admin {
            AdminPassword::Given(p) => {
                if let Err(v) = db.policy.check(&p, "admin") {
                    tracing::warn!("PLANTDB_ADMIN_PASSWORD does not meet the password policy ({v}); using it as given");
                }
                p
            }
            AdminPassword::TestMode => "admin".to_string(),
            AdminPassword::Generate => {
                let p = random_password();
                outcome.generated_admin_password = Some(p.clone());
                p
            }
        };
        outcome.created_admin = create(db, admin_name, "PlantDB Admin", &password, Role::Admin)?;
        if !outcome.created_admin {
            outcome.generated_admin_password = None;
        }
    }
    Ok(outcome)
}

fn create(
    db: &AuthDb,
    name: Username,
    fullname: &str,
    password: &str,
    role: Role,
) -> Result<bool, AuthError> {
    let hash = db
        .hasher
        .hash(password)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    match db
        .users
        .create(User::new(name, fullname, hash, [role], db.clock.now()))
    {
        Ok(()) => Ok(true),
        // Another instance on the same shared store created it first: done.
        Err(StoreError::UserExists(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
