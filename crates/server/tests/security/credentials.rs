//! Hostile usernames and passwords: empty, too long, path traversal,
//! look-alikes, NUL, and whitespace that must never be trimmed.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    assert_error, assert_safe, new_db_dir, users_in_file, Options, Server, STRONG_PW,
};
use crate::wire::username_query;

fn bad_usernames() -> Vec<String> {
    let mut names: Vec<String> = [
        "",
        " ",
        "../../etc/passwd",
        "..",
        ".",
        "a/b",
        "a\\b",
        "%2e%2e%2fetc",
        "~root",
        " alice",
        "alice ",
        "al ice",
        "élodie",
        "ｇｕｅｓｔ2",
        "аdmin2",
        "gue\u{301}st2",
        "zero\u{200b}width",
        "line\nbreak",
        "tab\tname",
        "semi;colon",
        "quote'name",
        "<script>",
        "🌱",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    names.push("a".repeat(65));
    names.push("é".repeat(64));
    names
}

#[tokio::test]
async fn invalid_usernames_are_refused_everywhere() {
    let dir = new_db_dir();
    let server = Server::start(Options::on_db(dir.path()).cheap_hashing());
    let admin = server.admin_token().await;
    for name in bad_usernames() {
        let reply = server.register(&admin, &name, STRONG_PW).await;
        let case = format!("register {name:?}");
        assert_error(&reply, 400, &["invalid_input", "missing_field"], &case);
        // A login with it is just an unknown user.
        let reply = server.try_login(&name, STRONG_PW).await;
        assert_error(
            &reply,
            401,
            &["invalid_credentials"],
            &format!("login {name:?}"),
        );
        let req = server.request(Method::GET, &username_query("/api/v1/auth/login", &name));
        let reply = server.send(req).await;
        assert_safe(&reply, &format!("check {name:?}"));
        if reply.status == 200 {
            assert_eq!(reply.body["exists"], json!(false), "check {name:?}");
        } else {
            assert_error(&reply, 400, &["missing_field", "invalid_input"], &case);
        }
    }
    // The longest valid name works; a case variant of an existing one is taken.
    server
        .register(&admin, &"a".repeat(64), STRONG_PW)
        .await
        .expect(201);
    for taken in ["ADMIN", "Admin", "GUEST"] {
        let reply = server.register(&admin, taken, STRONG_PW).await;
        assert_error(&reply, 409, &["user_exists"], taken);
    }
    let mut stored = users_in_file(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    stored.sort();
    assert_eq!(stored, ["a".repeat(64), "admin".into(), "guest".into()]);
}

#[tokio::test]
async fn traversal_in_user_paths_is_a_plain_404() {
    let server = Server::start(Options::test_mode());
    let admin = server.admin_token().await;
    for segment in [
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E%2Fadmin",
        "admin%00",
        "%C0%AF",
        "%FF%FE",
        "guest%2Fpassword",
        "..%5C..%5Cwindows",
    ] {
        let path = format!("/api/v1/users/{segment}");
        let req = server.request(Method::GET, &path).bearer_auth(&admin);
        let reply = server.send(req).await;
        // 404 for a name no user can have, 400 for one that does not decode.
        let status = reply.status.as_u16();
        let code = if status == 400 {
            "invalid_input"
        } else {
            "not_found"
        };
        assert_error(&reply, status.clamp(400, 404), &[code], &path);
        assert!(matches!(status, 400 | 404), "GET {path}: {reply:?}");
        let req = server
            .request(Method::PATCH, &path)
            .bearer_auth(&admin)
            .json(&json!({"unlock": true}));
        let reply = server.send(req).await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 404),
            "PATCH {path}: {reply:?}"
        );
        assert_safe(&reply, &path);
    }
}

#[tokio::test]
async fn password_length_is_limited_in_bytes() {
    let server = Server::start(Options::test_mode().cheap_hashing());
    let admin = server.admin_token().await;
    let cases = [
        ("longest", "k".repeat(1024), 201),
        ("longest-multibyte", "é".repeat(512), 201),
        ("too-long", "k".repeat(1025), 400),
        ("too-long-multibyte", "é".repeat(513), 400),
        ("empty", String::new(), 400),
        ("nul", "Correct\u{0}Horse-7-battery".to_owned(), 400),
    ];
    for (user, password, status) in &cases {
        let reply = server.register(&admin, user, password).await;
        assert_safe(&reply, user);
        assert_eq!(reply.status.as_u16(), *status, "{user}: {reply:?}");
        if *status == 201 {
            server.login(user, password).await;
        }
    }
    // Over the limit at login: a 400 before any hashing, not a failed attempt.
    for _ in 0..5 {
        let reply = server.try_login("guest", &"k".repeat(1025)).await;
        assert_error(&reply, 400, &["invalid_input"], "1025-byte login");
    }
    server.login("guest", "guest").await;
    for password in ["", " "] {
        let reply = server.try_login("guest", password).await;
        assert_safe(&reply, "empty password");
        assert!(matches!(reply.status.as_u16(), 400 | 401), "{reply:?}");
    }
}

#[tokio::test]
async fn an_over_long_password_is_refused_before_hashing() {
    let _heavy = crate::helpers::HEAVY.lock().await;
    // Expensive hashes make the difference impossible to miss.
    let opts = Options::test_mode().args(&[
        "--argon2-memory",
        "65536",
        "--argon2-iterations",
        "3",
        "--max-failed-attempts",
        "1000",
    ]);
    let server = Server::start(opts);
    let mut hashed = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..7 {
        hashed.push(server.try_login("guest", "wrong-password").await.elapsed);
        for len in [1025, 60_000] {
            let reply = server.try_login("guest", &"k".repeat(len)).await;
            assert_error(&reply, 400, &["invalid_input"], "over-long login");
            refused.push(reply.elapsed);
        }
    }
    let (hashed, refused) = (median(&mut hashed), median(&mut refused));
    assert!(
        refused * 3 < hashed,
        "over-long passwords took {refused:?}, a hashed check {hashed:?}"
    );
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn passwords_are_compared_exactly_never_trimmed() {
    let server = Server::start(Options::test_mode().cheap_hashing());
    let admin = server.admin_token().await;
    let cases = [
        (
            "trailing",
            "Correct-Horse-7-battery  ",
            ["Correct-Horse-7-battery", "Correct-Horse-7-battery "],
        ),
        (
            "leading",
            "  Correct-Horse-7-battery",
            ["Correct-Horse-7-battery", " Correct-Horse-7-battery"],
        ),
        (
            "inner",
            "Correct  Horse 7 battery",
            ["Correct Horse 7 battery", "CorrectHorse7battery"],
        ),
        (
            "casing",
            "Correct-Horse-7-battery",
            ["correct-horse-7-battery", "CORRECT-HORSE-7-BATTERY"],
        ),
        (
            "composed",
            "P\u{e4}ssw\u{f6}rd-Gr\u{fc}\u{df}e-42",
            [
                "Pa\u{308}ssw\u{f6}rd-Gr\u{fc}\u{df}e-42",
                "Passwort-Gruesse-42",
            ],
        ),
    ];
    for (user, password, near_misses) in cases {
        server.register(&admin, user, password).await.expect(201);
        for miss in near_misses {
            let reply = server.try_login(user, miss).await;
            assert_error(
                &reply,
                401,
                &["invalid_credentials"],
                &format!("{user} with {miss:?}"),
            );
        }
        // Two failures, then the exact password (which also resets the counter).
        server.login(user, password).await;
    }
}

/// Passwords written by the Python server (argon2-cffi), spaces included.
#[tokio::test]
async fn python_hashes_are_verified_exactly() {
    let dir = crate::enumeration::python_fixture_db();
    let server = Server::start(Options::on_db(dir.path()).args(&["--max-failed-attempts", "10"]));
    let exact = "  Grüße, naïve café ☕ 🌱 Ünïcødé  ";
    for miss in [exact.trim(), exact.trim_end(), exact.trim_start()] {
        let reply = server.try_login("spaces.pw", miss).await;
        assert_error(&reply, 401, &["invalid_credentials"], &format!("{miss:?}"));
    }
    server.login("spaces.pw", exact).await;
}
