//! The race of many concurrent refreshes with one refresh token, over HTTP:
//! rotation and reuse detection must hold under contention, not just in order.

use std::sync::Arc;

use crate::helpers::{new_db_dir, Server, USER_PW};

/// Concurrent requests per round.
const RACERS: usize = 12;
const ROUNDS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_with_one_token_leave_at_most_one_winner_and_a_dead_session() {
    let dir = new_db_dir();
    let server = Arc::new(Server::start(dir.path(), &[]));
    let admin = server.admin().await;
    server.register(&admin, "alice").await;
    let bystander = server.login("alice", USER_PW).await;
    for round in 0..ROUNDS {
        let pair = server.login("alice", USER_PW).await;
        let tasks: Vec<_> = (0..RACERS)
            .map(|_| {
                let server = Arc::clone(&server);
                let token = pair.refresh.clone();
                tokio::spawn(async move { server.refresh(&token).await })
            })
            .collect();
        let mut replies = Vec::with_capacity(RACERS);
        for task in tasks {
            replies.push(task.await.unwrap());
        }
        let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
        assert!(winners.len() <= 1, "round {round}: {winners:?}");
        for loser in replies.iter().filter(|r| r.status != 200) {
            loser.fails(401, "invalid_token");
        }
        // Whoever won, the others presented a spent token: the family is dead.
        assert_eq!(server.validation(&pair.access).await, 401);
        for winner in winners {
            assert_eq!(server.validation(&winner.text("access_token")).await, 401);
            let next = server.refresh(&winner.text("refresh_token")).await;
            next.fails(401, "invalid_token");
        }
        let left = server.session_ids(&bystander.access).await;
        assert_eq!(left.len(), 1, "round {round}: only the bystander's session");
    }
    assert_eq!(server.validation(&bystander.access).await, 200);
}
