//! One set of behaviour checks for every [`TextStore`], and what a crash mid-send leaves.

use chrono::{DateTime, Duration, Utc};
use serde_json::Map;

use super::{DbTexts, FileTexts, Text, TextState, TextStore};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn text(id: &str, phone: &str, due: DateTime<Utc>) -> Text {
    Text {
        id: id.into(),
        lead_id: "L".into(),
        phone: phone.into(),
        fields: Map::new(),
        step: 1,
        of: 1,
        state: TextState::Scheduled,
        due_at: due,
        created_at: due - Duration::hours(1),
        from: None,
        body: None,
        reason: None,
        provider_id: None,
        done_at: None,
        tries: 0,
        confirmation: false,
    }
}

fn ids(texts: &[Text]) -> Vec<&str> {
    texts.iter().map(|t| t.id.as_str()).collect()
}

async fn behaves(store: &dyn TextStore) {
    let t0 = t("2026-11-23T15:00:00Z");
    let a = text("sms_a_1", "+13055550001", t0);
    let b = text("sms_b_1", "+13055550002", t0 + Duration::minutes(5));
    assert_eq!(
        store
            .schedule(&[a.clone(), b.clone()])
            .await
            .expect("schedule"),
        2
    );
    assert_eq!(
        store
            .schedule(std::slice::from_ref(&a))
            .await
            .expect("again"),
        0,
        "once"
    );
    // Only what is due, and once while taken.
    let claim = Duration::seconds(60);
    let due = store.take_due(t0, 10, claim).await.expect("due");
    assert_eq!(ids(&due), ["sms_a_1"]);
    assert!(store.take_due(t0, 10, claim).await.expect("due").is_empty());
    // Waiting: saved with a later due time, taken again then.
    let mut a = due.into_iter().next().expect("a");
    a.due_at = t0 + Duration::minutes(10);
    store.save(&a).await.expect("save");
    let later = t0 + Duration::minutes(10);
    let both = store.take_due(later, 10, claim).await.expect("due");
    assert_eq!(ids(&both), ["sms_b_1", "sms_a_1"]);
    // Sent, and blocked: closed, never due again; counted for the number.
    for (mut x, state) in both.into_iter().zip([TextState::Blocked, TextState::Sent]) {
        x.state = state;
        x.done_at = Some(later);
        store.save(&x).await.expect("save");
    }
    let of = store
        .of_phone("+13055550001", t0 - Duration::days(1))
        .await
        .expect("of");
    assert_eq!((of.len(), of[0].state), (1, TextState::Sent));
    assert!(store
        .take_due(later + Duration::hours(1), 10, claim)
        .await
        .expect("due")
        .is_empty());
}

/// A text taken and saved `sending`, whose sender then stops (a crash mid-send).
async fn sending(store: &dyn TextStore, at: DateTime<Utc>) {
    let c = text("sms_c_1", "+13055550003", at);
    store.schedule(&[c]).await.expect("schedule");
    let mut c = store
        .take_due(at, 10, Duration::seconds(60))
        .await
        .expect("due")
        .remove(0);
    c.state = TextState::Sending;
    store.save(&c).await.expect("save");
}

#[tokio::test]
async fn files_behave_as_a_text_store_and_a_crash_mid_send_is_unconfirmed() {
    let dir = tempfile::tempdir().expect("dir");
    let q = crate::store::quarantine::Quarantine::open(dir.path()).expect("quarantine");
    let now = t("2026-11-23T15:30:00Z");
    let (store, abandoned) = FileTexts::open(dir.path(), &q, now).expect("open");
    assert!(abandoned.is_empty());
    behaves(&store).await;
    sending(&store, now).await;
    drop(store);
    let (again, abandoned) = FileTexts::open(dir.path(), &q, now).expect("reopen");
    assert_eq!(ids(&abandoned), ["sms_c_1"]);
    let c = again
        .of_phone("+13055550003", now - Duration::days(1))
        .await
        .expect("of");
    assert_eq!(
        c[0].state,
        TextState::Unconfirmed,
        "never sent again on its own"
    );
    let later = now + Duration::days(1);
    assert!(again
        .take_due(later, 10, Duration::seconds(60))
        .await
        .expect("due")
        .is_empty());
    // The closed texts were kept through the restart (the daily cap reads them).
    let a = again
        .of_phone("+13055550001", now - Duration::days(1))
        .await
        .expect("of");
    assert_eq!(a[0].state, TextState::Sent);
}

#[tokio::test]
async fn rows_behave_as_a_text_store_and_an_abandoned_send_is_unconfirmed() {
    let Some(test) = crate::db::scratch::Scratch::create().await else {
        return;
    };
    let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
    let q = std::sync::Arc::new(crate::store::quarantine::Quarantine::in_memory());
    let store = DbTexts::new(db.clone(), q);
    behaves(&store).await;
    let now = t("2026-11-23T15:30:00Z");
    sending(&store, now).await;
    // While its claim holds, the sender may still be at it: left alone.
    assert!(store
        .settle_abandoned(now)
        .await
        .expect("settle")
        .is_empty());
    let settled = store
        .settle_abandoned(now + Duration::minutes(2))
        .await
        .expect("settle");
    assert_eq!(ids(&settled), ["sms_c_1"]);
    assert_eq!(settled[0].state, TextState::Unconfirmed);
    let c = store
        .of_phone("+13055550003", now - Duration::days(1))
        .await
        .expect("of");
    assert_eq!(c[0].state, TextState::Unconfirmed);
    assert!(store
        .take_due(now + Duration::days(1), 10, Duration::seconds(60))
        .await
        .expect("due")
        .is_empty());
    db.pool.close().await;
}
