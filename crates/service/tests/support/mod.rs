//! A ready-made in-memory `AuthDb` for the service tests: cheap Argon2, a
//! clock the test moves by hand, the default accounts, and helpers to make
//! users and log them in.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use plantdb_auth_core::clock::{Clock, FixedClock};
use plantdb_auth_core::model::{Role, User, Username};
use plantdb_auth_core::password::HashParams;
use plantdb_auth_core::session::SessionConfig;
use plantdb_auth_core::store::{LockoutPolicy, UserStore};
use plantdb_auth_service::{
    authenticate_user, ensure_default_accounts, AdminPassword, ApiTokenPolicy, AuthDb, Backend,
    LoginResult, Settings,
};

/// Cheap enough that a test can hash dozens of passwords in milliseconds.
pub const CHEAP: HashParams = HashParams {
    m_cost: 64,
    t_cost: 1,
    p_cost: 1,
};

/// The PHC prefix of a hash made with [`CHEAP`].
pub const CHEAP_PHC_PREFIX: &str = "$argon2id$v=19$m=64,t=1,p=1$";

pub const ADMIN_PASSWORD: &str = "orchard-lantern-admin-7";
pub const GUEST_PASSWORD: &str = "guest";
/// Passes the default password policy for any test username.
pub const GOOD_PASSWORD: &str = "lilac-tractor-harbour-91";

/// 2026-01-01T00:00:00Z: a fixed, arbitrary start.
pub const START_UNIX: i64 = 1_767_225_600;

pub fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(START_UNIX, 0).unwrap()
}

pub struct TestDbBuilder {
    params: HashParams,
    lockout: LockoutPolicy,
    api_tokens: ApiTokenPolicy,
    sessions: SessionConfig,
    default_accounts: bool,
    users: Option<Arc<dyn UserStore>>,
}

impl Default for TestDbBuilder {
    fn default() -> Self {
        TestDbBuilder {
            params: CHEAP,
            lockout: LockoutPolicy::default(),
            api_tokens: ApiTokenPolicy::default(),
            sessions: SessionConfig::default(),
            default_accounts: true,
            users: None,
        }
    }
}

impl TestDbBuilder {
    pub fn hash_params(mut self, params: HashParams) -> Self {
        self.params = params;
        self
    }

    pub fn lockout(mut self, max_failed_attempts: u32, seconds: i64) -> Self {
        self.lockout = LockoutPolicy {
            max_failed_attempts,
            lockout_duration: Duration::seconds(seconds),
        };
        self
    }

    pub fn max_api_token_lifetime(mut self, seconds: i64) -> Self {
        self.api_tokens = ApiTokenPolicy {
            max_lifetime: seconds,
            ..ApiTokenPolicy::default()
        };
        self
    }

    /// Users in `store` instead of a fresh in-memory one.
    #[allow(dead_code)]
    pub fn user_store(mut self, store: Arc<dyn UserStore>) -> Self {
        self.users = Some(store);
        self
    }

    pub fn without_default_accounts(mut self) -> Self {
        self.default_accounts = false;
        self
    }

    pub fn build(self) -> TestDb {
        let clock = Arc::new(FixedClock::new(start()));
        let settings = Settings {
            hash: self.params,
            lockout: self.lockout,
            api_tokens: self.api_tokens,
            sessions: self.sessions,
            ..Settings::default()
        };
        let mut backend = Backend::memory();
        if let Some(users) = self.users {
            backend.users = users;
        }
        let db = AuthDb::open(backend, settings, clock.clone()).unwrap();
        if self.default_accounts {
            ensure_default_accounts(&db, AdminPassword::Given(ADMIN_PASSWORD.into())).unwrap();
        }
        TestDb { db, clock }
    }
}

pub struct TestDb {
    pub db: AuthDb,
    pub clock: Arc<FixedClock>,
}

impl TestDb {
    /// Contract defaults (3 failures lock for 900 s, 900 s access tokens,
    /// 86400 s refresh tokens), cheap Argon2, `guest` and `admin` present.
    pub fn new() -> Self {
        TestDbBuilder::default().build()
    }

    pub fn builder() -> TestDbBuilder {
        TestDbBuilder::default()
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(Duration::seconds(seconds));
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Puts a user straight into the store (no permission checks).
    pub fn add_user(&self, name: &str, password: &str, roles: &[Role]) -> Username {
        let hash = self.db.hasher().hash(password).unwrap();
        self.add_user_with_hash(name, hash, roles)
    }

    pub fn add_user_with_hash(&self, name: &str, hash: String, roles: &[Role]) -> Username {
        let username = Username::parse(name).unwrap();
        let user = User::new(
            username.clone(),
            format!("Full {name}"),
            hash,
            roles.iter().copied(),
            self.now(),
        );
        self.db.users().create(user).unwrap();
        username
    }

    /// The stored user; panics if absent.
    pub fn user(&self, name: &str) -> User {
        let username = Username::parse(name).unwrap();
        self.db
            .users()
            .get(&username)
            .unwrap()
            .unwrap_or_else(|| panic!("user {name} is not in the store"))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.db
            .users()
            .exists(&Username::parse(name).unwrap())
            .unwrap()
    }

    pub fn set_active(&self, name: &str, active: bool) {
        self.db
            .users()
            .set_active(&Username::parse(name).unwrap(), active)
            .unwrap();
    }

    pub fn delete_user(&self, name: &str) {
        self.db
            .users()
            .delete(&Username::parse(name).unwrap())
            .unwrap();
    }

    pub fn login(&self, name: &str, password: &str) -> LoginResult {
        authenticate_user(&self.db, name, password).unwrap()
    }

    pub fn admin_login(&self) -> LoginResult {
        self.login("admin", ADMIN_PASSWORD)
    }

    pub fn admin_token(&self) -> String {
        self.admin_login().tokens.access_token
    }

    /// Creates `name` with `roles` and [`GOOD_PASSWORD`], and logs it in.
    pub fn user_session(&self, name: &str, roles: &[Role]) -> LoginResult {
        self.add_user(name, GOOD_PASSWORD, roles);
        self.login(name, GOOD_PASSWORD)
    }
}
