use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test(start_paused = true)]
async fn feeds_refresh_at_startup_then_on_schedule() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let counter = ticks.clone();
    let task = tokio::spawn(every_period(Duration::from_secs(6 * 3600), move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }));
    tokio::task::yield_now().await;
    assert_eq!(ticks.load(Ordering::SeqCst), 1, "fetched at startup");
    tokio::time::advance(Duration::from_secs(6 * 3600 - 1)).await;
    assert_eq!(ticks.load(Ordering::SeqCst), 1, "not before six hours");
    tokio::time::advance(Duration::from_secs(1)).await;
    tokio::task::yield_now().await;
    assert_eq!(ticks.load(Ordering::SeqCst), 2);
    tokio::time::advance(Duration::from_secs(12 * 3600)).await;
    tokio::task::yield_now().await;
    assert_eq!(ticks.load(Ordering::SeqCst), 3);
    task.abort();
}
