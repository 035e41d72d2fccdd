use std::time::Duration;

use hub_application::contract::fixtures::queue_message;
use hub_domain::Channel;

use super::*;

fn msg(n: u128) -> Option<QueueMessage> {
    Some(queue_message(n, Channel::Sms))
}

fn receipt(partition: i32, offset: i64) -> u64 {
    encode_receipt(partition, offset).expect("encodable")
}

const HIDE: Duration = Duration::from_secs(30);

#[test]
fn receipts_round_trip_partition_and_offset() {
    for (p, o) in [(0, 0), (1, 41), (65_535, (1 << 48) - 1), (7, 123_456_789_012)] {
        assert_eq!(decode_receipt(receipt(p, o)), (p, o));
    }
    assert_eq!(receipt(1, 5), (1 << 48) | 5);
    assert_eq!(encode_receipt(-1, 0), None);
    assert_eq!(encode_receipt(65_536, 0), None);
    assert_eq!(encode_receipt(0, -1), None);
    assert_eq!(encode_receipt(0, 1 << 48), None);
}

#[test]
fn out_of_order_acks_commit_only_the_contiguous_prefix() {
    let mut lane = LaneState::default();
    for offset in 10..14 {
        assert_eq!(lane.offer(0, offset, msg(offset as u128)), (Offered::Ready, None));
    }
    let now = Instant::now();
    assert_eq!(lane.take(10, now + HIDE).len(), 4);
    assert_eq!(lane.ack(&[receipt(0, 12)]), vec![], "10 and 11 are still out");
    assert_eq!(lane.ack(&[receipt(0, 11)]), vec![], "10 is still out");
    assert_eq!(lane.ack(&[receipt(0, 10)]), vec![(0, 13)], "10..=12 done: commit 13");
    assert_eq!(lane.ack(&[receipt(0, 10)]), vec![], "a repeated ack changes nothing");
    assert_eq!(lane.ack(&[receipt(0, 13)]), vec![(0, 14)]);
    assert_eq!(lane.len(), 0);
}

#[test]
fn partitions_commit_independently() {
    let mut lane = LaneState::default();
    lane.offer(0, 0, msg(1));
    lane.offer(1, 5, msg(2));
    lane.offer(0, 1, msg(3));
    lane.take(10, Instant::now() + HIDE);
    let mut moved = lane.ack(&[receipt(1, 5), receipt(0, 1)]);
    moved.sort_unstable();
    assert_eq!(moved, vec![(1, 6)], "partition 0 waits for offset 0");
    assert_eq!(lane.ack(&[receipt(0, 0)]), vec![(0, 2)]);
}

#[test]
fn an_unparsable_record_counts_as_acknowledged_and_never_blocks_its_partition() {
    let mut lane = LaneState::default();
    assert_eq!(lane.offer(0, 0, None), (Offered::Dropped, Some(1)), "a bad head commits past itself");
    assert_eq!(lane.offer(0, 1, msg(1)), (Offered::Ready, None));
    assert_eq!(lane.offer(0, 2, None), (Offered::Dropped, None), "behind an outstanding one: wait");
    lane.take(10, Instant::now() + HIDE);
    assert_eq!(lane.ack(&[receipt(0, 1)]), vec![(0, 3)], "the bad record at 2 is skipped too");
}

#[test]
fn a_record_seen_before_in_the_assignment_is_dropped() {
    let mut lane = LaneState::default();
    lane.offer(0, 4, msg(1));
    assert_eq!(lane.offer(0, 4, msg(1)), (Offered::Dropped, None));
    assert_eq!(lane.take(10, Instant::now() + HIDE).len(), 1, "handed out once");
    lane.ack(&[receipt(0, 4)]);
    assert_eq!(lane.offer(0, 3, msg(9)), (Offered::Dropped, None), "older than what was read");
}

#[test]
fn gaps_in_offsets_do_not_hold_the_commit_back() {
    let mut lane = LaneState::default();
    lane.offer(0, 0, msg(1));
    lane.offer(0, 5, msg(2));
    lane.take(10, Instant::now() + HIDE);
    assert_eq!(lane.ack(&[receipt(0, 0)]), vec![(0, 5)]);
    assert_eq!(lane.ack(&[receipt(0, 5)]), vec![(0, 6)]);
}

#[test]
fn take_honours_max_and_hands_each_message_out_once() {
    let mut lane = LaneState::default();
    for offset in 0..3 {
        lane.offer(0, offset, msg(offset as u128 + 1));
    }
    let later = Instant::now() + HIDE;
    let first = lane.take(2, later);
    let second = lane.take(2, later);
    assert_eq!(first.iter().map(|r| r.receipt).collect::<Vec<_>>(), vec![receipt(0, 0), receipt(0, 1)]);
    assert_eq!(second.iter().map(|r| r.receipt).collect::<Vec<_>>(), vec![receipt(0, 2)]);
    assert!(lane.take(2, later).is_empty());
}

#[test]
fn an_unacknowledged_message_is_handed_out_again_after_its_deadline_first_in_line() {
    let mut lane = LaneState::default();
    lane.offer(0, 0, msg(1));
    lane.offer(0, 1, msg(2));
    let t0 = Instant::now();
    let first = lane.take(1, t0 + HIDE);
    assert_eq!(lane.next_deadline(), Some(t0 + HIDE));
    lane.reclaim(t0 + HIDE - Duration::from_millis(1));
    lane.offer(0, 2, msg(3));
    lane.reclaim(t0 + HIDE);
    let again = lane.take(1, t0 + HIDE * 2);
    assert_eq!(again, first, "same message, same receipt, before the newer ones");
    lane.ack(&[again[0].receipt]);
    lane.reclaim(t0 + HIDE * 3);
    let rest = lane.take(10, t0 + HIDE * 4);
    assert_eq!(rest.iter().map(|r| r.receipt).collect::<Vec<_>>(), vec![receipt(0, 1), receipt(0, 2)]);
}

#[test]
fn revoked_partitions_are_forgotten_and_their_receipts_go_stale() {
    let mut lane = LaneState::default();
    lane.offer(0, 0, msg(1));
    lane.offer(1, 0, msg(2));
    lane.forget(&[1]);
    assert_eq!(lane.len(), 1);
    let taken = lane.take(10, Instant::now() + HIDE);
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].receipt, receipt(0, 0));
    assert_eq!(lane.ack(&[receipt(1, 0)]), vec![], "stale receipt ignored");
    assert_eq!(lane.commit_points(), vec![(0, 0)]);
    // Reassigned later: reading restarts from the committed offset, as fresh records.
    assert_eq!(lane.offer(1, 0, msg(2)), (Offered::Ready, None));
}
