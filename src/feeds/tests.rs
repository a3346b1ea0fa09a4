use super::*;

#[test]
fn a_feed_loop_wakes_when_its_fetch_is_due_and_at_least_every_tick() {
    let min = |m: u64| Duration::from_secs(60 * m);
    let secs = Duration::from_secs;
    // Nothing fetched yet (another instance holds the lease): a period, at most a tick.
    assert_eq!(wait(secs(5), None), secs(5));
    assert_eq!(wait(min(360), None), TICK);
    // Just fetched: the period, at most a tick.
    assert_eq!(wait(secs(5), Some(Duration::ZERO)), secs(5));
    assert_eq!(wait(min(360), Some(Duration::ZERO)), TICK);
    // Part of the period gone: what is left of it, at most a tick.
    assert_eq!(wait(secs(45), Some(secs(40))), secs(5));
    assert_eq!(wait(secs(45), Some(secs(20))), TICK);
    // Overdue (the lease could not be taken): a period again, never a busy loop.
    assert_eq!(wait(secs(5), Some(secs(9))), secs(5));
}
