//! Two instances on one database, the loop back: each Convoso write sent once by some
//! instance, even when Bland's completion reaches both instances at once.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::convoso::{ok, received, TOKEN};
use crate::helpers::{eventually, spawn_pair, wait_sent};
use crate::intake::{bland_takes, live, post_lead};
use callgate::config::Secret;

#[tokio::test]
async fn each_convoso_write_is_sent_once_across_two_instances() {
    let convoso = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ok())
        .mount(&convoso)
        .await;
    let uri = convoso.uri();
    let Some((a, b)) = spawn_pair(|s| {
        live(s);
        s.convoso.api_url = uri.clone();
        s.convoso.auth_token = Some(Secret::new(TOKEN));
    })
    .await
    else {
        return;
    };
    bland_takes(&a.bland).await;
    let mut ids = Vec::new();
    for n in 0..10u32 {
        let app = if n % 2 == 0 { &a } else { &b };
        let (_, body) = post_lead(
            app,
            json!({"phone_number": format!("30555{:05}", 26000 + n), "lead_id": format!("T-{n}")}),
        )
        .await;
        ids.push(body["request_id"].as_str().expect("accepted").to_string());
    }
    for id in &ids {
        wait_sent(&a, id).await;
    }
    // Every completion reaches both instances at once.
    let posts = ids.iter().flat_map(|id| {
        let payload = json!({"call_id": format!("call-{id}"), "answered_by": "voicemail", "metadata": {"request_id": id}});
        [&a, &b].map(|app| {
            let payload = payload.clone();
            async move {
                app.client
                    .post(app.url("/webhooks/bland"))
                    .json(&payload)
                    .send()
                    .await
                    .expect("completion")
                    .json::<Value>()
                    .await
                    .expect("json")
            }
        })
    });
    let answers = join_all(posts).await;
    let recorded = answers.iter().filter(|r| r["status"] == "recorded").count();
    assert_eq!(recorded, ids.len(), "one recorded per call: {answers:?}");
    let got = eventually(Duration::from_secs(10), || async {
        let got = received(&convoso, "/v1/leads/update").await;
        (got.len() >= ids.len()).then_some(got)
    })
    .await
    .expect("every update sent");
    // Both senders kept polling meanwhile: nothing more arrives.
    for app in [&a, &b] {
        eventually(Duration::from_secs(5), || async {
            let p = app.get_json("/api/admin/convoso/pending").await;
            (p["writes"] == json!([])).then_some(())
        })
        .await
        .expect("nothing open");
    }
    let mut per_call: BTreeMap<String, usize> = BTreeMap::new();
    for form in received(&convoso, "/v1/leads/update").await {
        *per_call.entry(form["call_id"].clone()).or_default() += 1;
    }
    assert_eq!(per_call.len(), ids.len(), "{per_call:?}");
    assert!(
        per_call.values().all(|n| *n == 1),
        "each sent once: {per_call:?}"
    );
    assert_eq!(got.len(), ids.len());
}

#[tokio::test]
async fn a_completion_reaching_the_other_instance_while_the_send_is_in_flight_is_matched() {
    let Some((a, b)) = spawn_pair(live).await else {
        return;
    };
    // Bland answers the first instance late; its completion reaches the second first.
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(600))
                .set_body_json(json!({"status": "success", "call_id": "bland-across"})),
        )
        .mount(&a.bland)
        .await;
    let (_, body) = post_lead(&a, json!({"phone_number": "3055552230", "lead_id": "X-1"})).await;
    let id = body["request_id"].as_str().expect("accepted").to_string();
    eventually(Duration::from_secs(5), || async {
        let n = a.bland.received_requests().await.unwrap_or_default().len();
        (n > 0).then_some(())
    })
    .await
    .expect("the send is in flight");
    let (_, answer) = b
        .post_completion(
            &json!({"call_id": "bland-across", "answered_by": "voicemail",
            "metadata": {"request_id": id}}),
        )
        .await;
    assert_eq!(answer["status"], "recorded", "{answer}");
    let view = a.get_json(&format!("/api/admin/calls/{id}")).await;
    assert_eq!(view["outcome"]["outcome"], "voicemail", "{view}");
    let stats = b
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["unmatched"], 0, "{stats}");
}
