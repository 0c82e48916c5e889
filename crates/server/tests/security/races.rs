//! Lockout per account and client address, and the races an attacker can
//! try with concurrent requests: bursts of guesses, concurrent demotions of
//! the last admins, re-created accounts, password changes and API tokens
//! that grow state.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, new_db_dir, Options, Reply, Server};

const ALICE_PW: &str = "Walrus-long-passphrase-7";
const WRONG_PW: &str = "Wrong-password-42";

/// A client whose connections come from `source` (any 127.0.0.0/8 address
/// reaches the server on loopback): another machine, as the server sees it.
fn client_from(source: &str) -> reqwest::Client {
    let ip: IpAddr = source.parse().unwrap_or_else(|_| panic!("{source}"));
    reqwest::Client::builder()
        .local_address(ip)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

async fn login_from(server: &Server, client: &reqwest::Client, user: &str, pw: &str) -> Reply {
    let req = client
        .request(Method::POST, server.url("/api/v1/auth/login"))
        .json(&json!({"username": user, "password": pw}));
    server.send(req).await
}

async fn with_alice(server: &Server) -> String {
    let admin = server.admin_token().await;
    server.register(&admin, "alice", ALICE_PW).await.expect(201);
    admin
}

async fn patch_user(server: &Server, token: &str, user: &str, body: Value) -> Reply {
    let req = server
        .request(Method::PATCH, &format!("/api/v1/users/{user}"))
        .bearer_auth(token)
        .json(&body);
    server.send(req).await
}

/// The stored record of `user` in `<root>/users.json`.
fn record(root: &std::path::Path, user: &str) -> Value {
    let text = std::fs::read_to_string(root.join("users.json")).unwrap_or_default();
    let all: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    all.as_array()
        .and_then(|a| a.iter().find(|u| u["username"] == user).cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_attackers_guesses_do_not_lock_the_owner_out_from_elsewhere() {
    let server = Server::start(Options::test_mode().cheap_hashing());
    let admin = with_alice(&server).await;
    let attacker = client_from("127.0.0.2");
    for _ in 0..3 {
        let reply = login_from(&server, &attacker, "alice", WRONG_PW).await;
        assert_error(&reply, 401, &["invalid_credentials"], "wrong password");
    }
    // The attacker's address is locked out, even with the right password...
    let reply = login_from(&server, &attacker, "alice", ALICE_PW).await;
    assert_error(&reply, 401, &["invalid_credentials"], "locked client");
    // ... the owner elsewhere is not (slowed down at most a moment).
    let owner = client_from("127.0.0.3");
    login_from(&server, &owner, "alice", ALICE_PW)
        .await
        .expect(200);
    // The owner's success does not lift the attacker's lock.
    let reply = login_from(&server, &attacker, "alice", ALICE_PW).await;
    assert_error(&reply, 401, &["invalid_credentials"], "still locked");
    // The admin sees the lock and lifts it while the server runs.
    let view = server
        .send(
            server
                .request(Method::GET, "/api/v1/users/alice")
                .bearer_auth(&admin),
        )
        .await;
    view.expect(200);
    assert!(view.body["locked_until"].is_string(), "{}", view.text);
    patch_user(&server, &admin, "alice", json!({"unlock": true}))
        .await
        .expect(200);
    login_from(&server, &attacker, "alice", ALICE_PW)
        .await
        .expect(200);
}

#[tokio::test]
async fn a_burst_of_guesses_checks_at_most_the_threshold_and_a_right_one_inside_does_not_unlock() {
    let dir = new_db_dir();
    let server = Server::start(Options::on_db(dir.path()).cheap_hashing());
    with_alice(&server).await;
    let attacker = client_from("127.0.0.4");
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..24 {
        let (client, url) = (attacker.clone(), server.url("/api/v1/auth/login"));
        let pw = if i == 12 { ALICE_PW } else { WRONG_PW };
        burst.spawn(async move {
            let body = json!({"username": "alice", "password": pw});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    }
    let mut replies = Vec::new();
    while let Some(done) = burst.join_next().await {
        replies.push(
            done.unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    assert!(
        replies.iter().all(|s| *s == 200 || *s == 401),
        "{replies:?}"
    );
    let allowed = replies.iter().filter(|s| **s == 200).count();
    assert!(allowed <= 1, "{allowed} logins went through");
    // Whatever the order, at most the threshold of wrong passwords was
    // checked: the account's counter says how many failed checks there were.
    let stored = record(dir.path(), "alice");
    let counted = stored["failed_attempts"].as_u64().unwrap_or(0);
    assert!(
        counted <= 3,
        "{counted} wrong passwords were checked: {stored}"
    );
    // Unless the right password came first, the client is now locked, and
    // the right password does not get it in.
    if allowed == 0 || counted == 3 {
        let reply = login_from(&server, &attacker, "alice", ALICE_PW).await;
        assert_error(
            &reply,
            401,
            &["invalid_credentials"],
            "locked after the burst",
        );
    }
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let server = Server::start(Options::test_mode().cheap_hashing());
    let root = server.admin_token().await;
    for round in 0..8 {
        let other = format!("admin{round}");
        server.register(&root, &other, ALICE_PW).await.expect(201);
        patch_user(&server, &root, &other, json!({"roles": ["admin"]}))
            .await
            .expect(200);
        let theirs = server.login(&other, ALICE_PW).await.0;
        // The built-in admin and `other` are the only admins: each demotes
        // the other at the same moment.
        let (a, b) = tokio::join!(
            patch_user(&server, &root, &other, json!({"roles": ["reader"]})),
            patch_user(&server, &theirs, "admin", json!({"roles": ["reader"]})),
        );
        let statuses = [a.status.as_u16(), b.status.as_u16()];
        assert!(
            statuses.contains(&409) || statuses.contains(&401) || statuses.contains(&403),
            "round {round}: both demotions went through: {statuses:?} {} {}",
            a.text,
            b.text
        );
        let admin_view = |name: String| {
            let server = &server;
            let token = if b.status == 200 {
                theirs.clone()
            } else {
                root.clone()
            };
            async move {
                server
                    .send(
                        server
                            .request(Method::GET, &format!("/api/v1/users/{name}"))
                            .bearer_auth(token),
                    )
                    .await
            }
        };
        let mut admins = 0;
        for name in ["admin".to_string(), other.clone()] {
            let view = admin_view(name).await;
            if view.body["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == "admin"))
            {
                admins += 1;
            }
        }
        assert_eq!(admins, 1, "round {round}");
        if b.status == 200 {
            // `admin` was demoted: restore the starting point for the next round.
            patch_user(&server, &theirs, "admin", json!({"roles": ["admin"]}))
                .await
                .expect(200);
        }
        let root_again = server.admin_token().await;
        let req = server
            .request(Method::DELETE, &format!("/api/v1/users/{other}"))
            .bearer_auth(&root_again);
        server.send(req).await.expect(200);
    }
}

#[tokio::test]
async fn a_recreated_account_inherits_no_token_of_the_deleted_one() {
    let server = Server::start(Options::test_mode().cheap_hashing());
    let admin = with_alice(&server).await;
    let (access, refresh) = server.login("alice", ALICE_PW).await;
    let req = server
        .request(Method::DELETE, "/api/v1/users/alice")
        .bearer_auth(&admin);
    server.send(req).await.expect(200);
    // Re-created under the same name (after the clock moved on a second,
    // so that creation times differ).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.register(&admin, "alice", ALICE_PW).await.expect(201);
    assert_error(
        &server.validate(&access).await,
        401,
        &["invalid_token"],
        "old access token",
    );
    let reply = server
        .post_json(
            "/api/v1/auth/token/refresh",
            None,
            &json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
}

#[tokio::test]
async fn api_tokens_are_capped_per_user_and_minting_is_rate_limited() {
    let server = Server::start(
        Options::test_mode()
            .cheap_hashing()
            .with_rate_limits()
            .args(&["--max-api-tokens", "3", "--api-token-mints", "5"]),
    );
    let admin = with_alice(&server).await;
    let alice = server.login("alice", ALICE_PW).await.0;
    let mint = |token: String| {
        let server = &server;
        async move {
            let body = json!({"datasets": {"*": ["read"]}, "token_exp": 600});
            server
                .post_json("/api/v1/auth/token/create-api-token", Some(&token), &body)
                .await
        }
    };
    let mut ids = Vec::new();
    for _ in 0..3 {
        let reply = mint(alice.clone()).await;
        reply.expect(200);
        ids.push(reply.str_field("id").to_owned());
    }
    let refused = mint(alice.clone()).await;
    assert_error(&refused, 409, &["conflict"], "fourth API token");
    assert!(refused.text.contains("revoke"), "{}", refused.text);
    // Revoking makes room, until the minting budget runs out (5 per window;
    // refused mints do not count).
    for id in &ids {
        let req = server
            .request(Method::DELETE, &format!("/api/v1/auth/api-tokens/{id}"))
            .bearer_auth(&alice);
        server.send(req).await.expect(200);
    }
    mint(alice.clone()).await.expect(200);
    mint(alice.clone()).await.expect(200);
    let limited = mint(alice.clone()).await;
    assert_error(&limited, 429, &["rate_limited"], "sixth mint");
    assert!(limited.header("retry-after").is_some());
    // Other users have their own budget.
    mint(admin).await.expect(200);
}

#[tokio::test]
async fn password_changes_are_limited_per_account() {
    let server = Server::start(
        Options::test_mode()
            .cheap_hashing()
            .with_rate_limits()
            .args(&["--password-changes-per-account", "2"]),
    );
    let admin = with_alice(&server).await;
    let reset = |n: u32| {
        let (server, admin) = (&server, admin.clone());
        async move {
            let body = json!({"new_password": format!("Fresh-passphrase-{n}-ok")});
            server
                .post_json("/api/v1/users/alice/password", Some(&admin), &body)
                .await
        }
    };
    reset(1).await.expect(200);
    reset(2).await.expect(200);
    let limited = reset(3).await;
    assert_error(&limited, 429, &["rate_limited"], "third reset");
    assert!(limited.header("retry-after").is_some());
    // Logins are not held up by it.
    server.login("alice", "Fresh-passphrase-2-ok").await;
}

#[tokio::test]
async fn a_login_racing_a_password_reset_never_survives_it() {
    let server = Server::start(Options::test_mode().cheap_hashing());
    let admin = with_alice(&server).await;
    let mut current = ALICE_PW.to_string();
    for round in 0..10 {
        let next = format!("Round-{round}-passphrase-ok");
        let body = json!({"new_password": next});
        let (login, reset) = tokio::join!(
            server.try_login("alice", &current),
            server.post_json("/api/v1/users/alice/password", Some(&admin), &body),
        );
        reset.expect(200);
        if login.status == 200 {
            // Whichever finished first, the reset ends the session.
            let token = login.str_field("access_token");
            assert_error(
                &server.validate(token).await,
                401,
                &["invalid_token"],
                "session of the old password",
            );
        }
        // The new password holds (no rehash wrote the old one back).
        server.login("alice", &next).await;
        current = next;
    }
}

#[tokio::test]
async fn guest_logins_from_one_address_never_end_other_readers_sessions() {
    let server = Server::start(Options::test_mode().cheap_hashing().args(&[
        "--max-sessions-per-user",
        "3",
        "--max-guest-sessions",
        "8",
    ]));
    let reader = client_from("127.0.0.5");
    let theirs = login_from(&server, &reader, "guest", "guest").await;
    theirs.expect(200);
    let flooder = client_from("127.0.0.6");
    let mut flooder_tokens = Vec::new();
    for _ in 0..6 {
        let reply = login_from(&server, &flooder, "guest", "guest").await;
        reply.expect(200);
        flooder_tokens.push(reply.str_field("access_token").to_owned());
    }
    // The flooder's own oldest sessions ended (cap 3 per client), not the reader's.
    server
        .validate(theirs.str_field("access_token"))
        .await
        .expect(200);
    let live = {
        let mut n = 0;
        for t in &flooder_tokens {
            if server.validate(t).await.status == 200 {
                n += 1;
            }
        }
        n
    };
    assert_eq!(live, 3, "the per-client cap applies to the flooder");
    // At the bound on guest sessions in all, new guest logins are refused,
    // and still nobody's session ends.
    for source in ["127.0.0.7", "127.0.0.8"] {
        let client = client_from(source);
        for _ in 0..2 {
            login_from(&server, &client, "guest", "guest").await;
        }
    }
    let refused = login_from(&server, &client_from("127.0.0.9"), "guest", "guest").await;
    assert_error(
        &refused,
        429,
        &["rate_limited"],
        "guest sessions at their bound",
    );
    assert!(refused.header("retry-after").is_some());
    server
        .validate(theirs.str_field("access_token"))
        .await
        .expect(200);
}
