//! The demo database end to end: what a new user sees first.

use crate::helpers::*;

#[tokio::test]
async fn demo_scans_are_listed_with_their_info() {
    let app = spawn_demo().await;
    let (status, ids) = app.get_json("/api/v1/scans").await;
    assert_eq!(status, 200);
    let ids: Vec<String> = serde_json::from_value(ids).unwrap();
    assert!(ids.len() >= 3, "{ids:?}");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ascending id order");
    let (status, infos) = app.get_json("/api/v1/scans/info").await;
    assert_eq!(status, 200);
    let infos = infos.as_array().unwrap();
    assert_eq!(infos.len(), ids.len());
    for info in infos {
        assert_eq!(info["error"], false, "{info}");
        assert!(info["hasPointCloud"].as_bool().unwrap());
        let thumb = info["thumbnailUri"].as_str().unwrap();
        let r = app.get(thumb).await;
        assert_eq!(r.status(), 200, "{thumb}");
        assert_eq!(r.headers()["content-type"], "image/jpeg");
    }
}
