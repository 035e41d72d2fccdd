//! One channel's consumer: a task pumps records from Kafka into the [`LaneState`] buffer,
//! receivers take from the buffer, acknowledgements commit the contiguous prefix.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hub_application::ports::{QueueError, QueueMessage};
use hub_domain::Channel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use super::lane::{LaneState, Offered};
use super::settings::KafkaSettings;

/// What the consumer task, the receivers and librdkafka's callbacks share.
#[derive(Debug)]
pub(crate) struct LaneShared {
    pub(crate) channel: Channel,
    pub(crate) topic: String,
    state: Mutex<LaneState>,
    /// Woken when records arrive, so waiting receivers return at once.
    pub(crate) arrived: Notify,
    /// Woken by acknowledgements while fetching is paused for lack of room.
    room: Notify,
    paused: AtomicBool,
    /// Set when an asynchronous commit failed: the task commits every partition again.
    commit_failed: AtomicBool,
    /// Unparsable records skipped, shared by every channel of the queue.
    skipped: Arc<AtomicU64>,
}

impl LaneShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, LaneState> {
        // Plain collection operations only: a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called after acknowledgements freed room.
    pub(crate) fn freed(&self) {
        if self.paused.load(Ordering::Acquire) {
            self.room.notify_one();
        }
    }
}

/// librdkafka callbacks of a lane's consumer: logs through `tracing`, forgets revoked
/// partitions, notices failed commits.
#[derive(Debug)]
pub(crate) struct LaneContext {
    shared: Arc<LaneShared>,
}

impl ClientContext for LaneContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(channel = %self.shared.channel, %error, reason, "Kafka consumer error");
    }
}

impl ConsumerContext for LaneContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(list) => {
                let partitions: Vec<i32> =
                    list.elements_for_topic(&self.shared.topic).iter().map(|e| e.partition()).collect();
                tracing::info!(channel = %self.shared.channel, ?partitions, "Kafka partitions revoked");
                self.shared.lock().forget(&partitions);
            }
            Rebalance::Assign(list) => {
                let partitions: Vec<i32> =
                    list.elements_for_topic(&self.shared.topic).iter().map(|e| e.partition()).collect();
                tracing::info!(channel = %self.shared.channel, ?partitions, "Kafka partitions assigned");
            }
            Rebalance::Error(error) => {
                tracing::warn!(channel = %self.shared.channel, %error, "Kafka rebalance failed");
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                tracing::warn!(channel = %self.shared.channel, %error, "Kafka offset commit failed; retrying");
                self.shared.commit_failed.store(true, Ordering::Release);
            }
        }
    }
}

type LaneConsumer = StreamConsumer<LaneContext>;

/// A channel's consumer and the task feeding its buffer. Dropping it stops the task, which
/// commits once more and closes the consumer (leaving the group).
pub(crate) struct Lane {
    pub(crate) shared: Arc<LaneShared>,
    consumer: Arc<LaneConsumer>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Lane {
    /// Subscribes a new consumer of `channel`'s group and starts its task.
    pub(crate) fn start(
        settings: &KafkaSettings,
        channel: Channel,
        skipped: Arc<AtomicU64>,
    ) -> Result<Self, QueueError> {
        let topic = settings.topic(channel);
        let shared = Arc::new(LaneShared {
            channel,
            topic: topic.clone(),
            state: Mutex::default(),
            arrived: Notify::new(),
            room: Notify::new(),
            paused: AtomicBool::new(false),
            commit_failed: AtomicBool::new(false),
            skipped,
        });
        let consumer: LaneConsumer = settings
            .consumer_config(channel)
            .create_with_context(LaneContext { shared: Arc::clone(&shared) })
            .map_err(|e| QueueError(anyhow::anyhow!("creating the {channel} consumer: {e}")))?;
        consumer
            .subscribe(&[&topic])
            .map_err(|e| QueueError(anyhow::anyhow!("subscribing to {topic}: {e}")))?;
        let consumer = Arc::new(consumer);
        let (stop, stopped) = oneshot::channel();
        let task =
            tokio::spawn(pump(Arc::clone(&shared), Arc::clone(&consumer), settings.max_buffered, stopped));
        Ok(Self { shared, consumer, stop: Some(stop), task: Some(task) })
    }

    /// Commits the given `(partition, offset)` points without waiting for the broker (a
    /// failure is reported to the context, which has the task commit again).
    pub(crate) fn commit(&self, points: &[(i32, i64)]) -> Result<(), QueueError> {
        commit(&self.consumer, &self.shared.topic, points, CommitMode::Async)
            .map_err(|e| QueueError(anyhow::anyhow!("committing offsets of {}: {e}", self.shared.topic)))
    }

    /// Records behind this consumer's commit points on the partitions assigned to it: per
    /// partition, the high watermark minus the lane's commit point (or, before the lane has
    /// seen a record of it, the consumer's position). The watermarks come from the brokers,
    /// each within `timeout`, off the runtime (librdkafka's calls block).
    pub(crate) async fn depth(&self, timeout: Duration) -> Result<u64, QueueError> {
        let consumer = Arc::clone(&self.consumer);
        let topic = self.shared.topic.clone();
        let commit_points: HashMap<i32, i64> = self.shared.lock().commit_points().into_iter().collect();
        let lag = tokio::task::spawn_blocking(move || -> KafkaResult<u64> {
            let positions = consumer.position()?;
            let mut lag = 0u64;
            for element in positions.elements_for_topic(&topic) {
                let partition = element.partition();
                let start = match (commit_points.get(&partition), element.offset()) {
                    (Some(point), _) => *point,
                    (None, Offset::Offset(position)) => position,
                    // Nothing fetched from it yet: no position to measure from.
                    (None, _) => continue,
                };
                let (_, high) = consumer.fetch_watermarks(&topic, partition, timeout)?;
                lag = lag.saturating_add(u64::try_from(high - start).unwrap_or(0));
            }
            Ok(lag)
        })
        .await
        .map_err(|e| QueueError(anyhow::anyhow!("joining the Kafka watermark query: {e}")))?;
        lag.map_err(|e| QueueError(anyhow::anyhow!("reading the watermarks of {}: {e}", self.shared.topic)))
    }

    /// Stops the task and waits until the consumer has committed and left the group.
    pub(crate) async fn shutdown(mut self) {
        let task = self.task.take();
        drop(self);
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane").field("shared", &self.shared).finish_non_exhaustive()
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn commit(consumer: &LaneConsumer, topic: &str, points: &[(i32, i64)], mode: CommitMode) -> KafkaResult<()> {
    if points.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::with_capacity(points.len());
    for &(partition, offset) in points {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    }
    consumer.commit(&list, mode)
}

/// How often the task looks after failed commits and paused fetching.
const TICK: Duration = Duration::from_secs(1);
/// Pause after a consumer error, so a persistent one does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(200);

/// Feeds the buffer until stopped. Above `max_buffered` held messages the assignment is
/// paused (the consumer keeps polling, so it stays in the group) and resumed below half.
async fn pump(
    shared: Arc<LaneShared>,
    consumer: Arc<LaneConsumer>,
    max_buffered: usize,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut arrived = false;
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            received = consumer.recv() => match received {
                Ok(record) => {
                    accept(&shared, &consumer, &record);
                    arrived = true;
                }
                Err(error) => {
                    tracing::warn!(channel = %shared.channel, %error, "Kafka consume error");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            },
            () = shared.room.notified() => {}
            _ = tick.tick() => {
                if shared.commit_failed.swap(false, Ordering::AcqRel) {
                    let points = shared.lock().commit_points();
                    if let Err(error) = commit(&consumer, &shared.topic, &points, CommitMode::Async) {
                        tracing::warn!(channel = %shared.channel, %error, "Kafka offset commit failed");
                        shared.commit_failed.store(true, Ordering::Release);
                    }
                }
            }
        }
        flow_control(&shared, &consumer, max_buffered, arrived);
    }
    // Last commit of everything acknowledged, then close (leaves the group) off the runtime.
    let points = shared.lock().commit_points();
    let topic = shared.topic.clone();
    let closing = tokio::task::spawn_blocking(move || {
        if let Err(error) = commit(&consumer, &topic, &points, CommitMode::Sync) {
            tracing::debug!(%topic, %error, "final Kafka offset commit failed");
        }
        drop(consumer);
    });
    let _ = closing.await;
}

/// Pauses fetching when the buffer is full (again, when records of a newly assigned partition
/// arrived while paused) and resumes it once half is free.
fn flow_control(shared: &LaneShared, consumer: &LaneConsumer, max_buffered: usize, arrived: bool) {
    let held = shared.lock().len();
    let paused = shared.paused.load(Ordering::Acquire);
    let assignment = || consumer.assignment().unwrap_or_default();
    if held >= max_buffered && (!paused || arrived) {
        match consumer.pause(&assignment()) {
            Ok(()) => shared.paused.store(true, Ordering::Release),
            Err(error) => tracing::warn!(channel = %shared.channel, %error, "pausing Kafka fetches failed"),
        }
    } else if paused && held <= max_buffered / 2 {
        match consumer.resume(&assignment()) {
            Ok(()) => shared.paused.store(false, Ordering::Release),
            Err(error) => tracing::warn!(channel = %shared.channel, %error, "resuming Kafka fetches failed"),
        }
    }
}

/// Parses a record into the buffer; an unparsable one is logged, counted and acknowledged.
fn accept(shared: &LaneShared, consumer: &LaneConsumer, record: &BorrowedMessage<'_>) {
    let (partition, offset) = (record.partition(), record.offset());
    let message = match parse(record.payload(), shared.channel) {
        Ok(message) => Some(message),
        Err(reason) => {
            tracing::warn!(
                channel = %shared.channel,
                partition,
                offset,
                reason = %reason,
                "skipping an unparsable Kafka record"
            );
            shared.skipped.fetch_add(1, Ordering::Relaxed);
            None
        }
    };
    let (offered, moved) = shared.lock().offer(partition, offset, message);
    if offered == Offered::Ready {
        shared.arrived.notify_waiters();
    }
    if let Some(point) = moved {
        if let Err(error) = commit(consumer, &shared.topic, &[(partition, point)], CommitMode::Async) {
            tracing::warn!(channel = %shared.channel, %error, "Kafka offset commit failed");
            shared.commit_failed.store(true, Ordering::Release);
        }
    }
}

fn parse(payload: Option<&[u8]>, channel: Channel) -> Result<QueueMessage, String> {
    let payload = payload.ok_or("no payload")?;
    let message: QueueMessage = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    if message.channel != channel {
        return Err(format!("a {} message on the {channel} topic", message.channel));
    }
    Ok(message)
}
