//! Topic creation at connect, and the partition count each channel publishes over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use hub_application::error::PortError;
use hub_domain::Channel;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, Producer};
use tokio::time::Instant;

use super::settings::KafkaSettings;

/// A channel's topic and the partitions messages are spread over.
#[derive(Debug, Clone)]
pub(crate) struct TopicInfo {
    pub(crate) name: String,
    pub(crate) partitions: i32,
}

/// Creates every channel's topic (an existing one is kept) and reads back its partitions.
///
/// The cluster's metadata is read first (`Unavailable` when it cannot be reached in time);
/// only missing topics are created. `CreateTopics` failing is not an error by itself: a broker
/// that does not support it (librdkafka's mock cluster, which then lets the request time out)
/// may create topics on the metadata request that follows. Only a topic that still does not
/// exist then fails the connect (`Unexpected`).
pub(crate) async fn ensure_topics(
    settings: &KafkaSettings,
    producer: &FutureProducer,
) -> Result<Vec<TopicInfo>, PortError> {
    let admin: Arc<AdminClient<DefaultClientContext>> = Arc::new(
        settings.admin_config().create().map_err(|e| unexpected("creating the Kafka admin client", e))?,
    );
    let existing = existing_topics(&admin, settings.request_timeout).await?;
    let names: Vec<String> = Channel::CANONICAL.iter().map(|c| settings.topic(*c)).collect();
    let missing: Vec<&String> = names.iter().filter(|n| !existing.contains_key(*n)).collect();
    if !missing.is_empty() {
        create_topics(settings, &admin, &missing).await;
    }
    let mut topics = Vec::with_capacity(names.len());
    for name in names {
        let actual = match existing.get(&name) {
            Some(&n) => n,
            None => partition_count(producer, &name, settings.request_timeout).await?,
        };
        if actual != settings.partitions {
            tracing::warn!(
                topic = %name,
                actual,
                configured = settings.partitions,
                "topic partition count differs from the settings; publishing over the smaller"
            );
        }
        topics.push(TopicInfo { partitions: actual.min(settings.partitions), name });
    }
    Ok(topics)
}

/// Every topic of the cluster with partitions, by name (no auto-creation: the admin client
/// does not allow it).
async fn existing_topics(
    admin: &Arc<AdminClient<DefaultClientContext>>,
    timeout: Duration,
) -> Result<HashMap<String, i32>, PortError> {
    let admin = Arc::clone(admin);
    let metadata = tokio::task::spawn_blocking(move || {
        admin.inner().fetch_metadata(None, timeout).map(|m| {
            m.topics()
                .iter()
                .filter(|t| t.error().is_none() && !t.partitions().is_empty())
                .map(|t| (t.name().to_owned(), i32::try_from(t.partitions().len()).unwrap_or(i32::MAX)))
                .collect()
        })
    })
    .await
    .map_err(|e| unexpected("joining the metadata request", e))?;
    metadata.map_err(|e| PortError::Unavailable(anyhow!("Kafka metadata: {e}")))
}

async fn create_topics(
    settings: &KafkaSettings,
    admin: &AdminClient<DefaultClientContext>,
    names: &[&String],
) {
    let new_topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            NewTopic::new(name, settings.partitions, TopicReplication::Fixed(settings.replication_factor))
        })
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(settings.request_timeout))
        .operation_timeout(Some(settings.request_timeout));
    match admin.create_topics(&new_topics, &options).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(name) => tracing::info!(topic = %name, "created Kafka topic"),
                    Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => {
                        tracing::warn!(topic = %name, error = %code, "CreateTopics refused; checking metadata");
                    }
                }
            }
        }
        Err(e) => {
            tracing::info!(error = %e, "CreateTopics failed; relying on topic auto-creation");
        }
    }
}

/// The topic's partition count from metadata, retried until it has partitions (a topic just
/// created may not be visible on every broker yet) or `timeout` passes.
async fn partition_count(
    producer: &FutureProducer,
    topic: &str,
    timeout: Duration,
) -> Result<i32, PortError> {
    let deadline = Instant::now() + timeout;
    let mut last = anyhow!("no answer");
    let mut missing = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(if missing {
                PortError::Unexpected(anyhow!(
                    "Kafka topic {topic} does not exist and could not be created: {last}"
                ))
            } else {
                PortError::Unavailable(anyhow!("Kafka metadata of {topic}: {last}"))
            });
        }
        let (client, name) = (producer.clone(), topic.to_owned());
        let answer = tokio::task::spawn_blocking(move || {
            client.client().fetch_metadata(Some(&name), remaining.max(Duration::from_millis(100))).map(|m| {
                m.topics()
                    .first()
                    .map(|t| (t.error(), i32::try_from(t.partitions().len()).unwrap_or(i32::MAX)))
            })
        })
        .await
        .map_err(|e| unexpected("joining the metadata request", e))?;
        match answer {
            Ok(Some((None, n))) if n > 0 => return Ok(n),
            Ok(Some((Some(err), _))) => {
                let code = RDKafkaErrorCode::from(err);
                missing = code == RDKafkaErrorCode::UnknownTopicOrPartition;
                last = anyhow!("{code}");
            }
            Ok(_) => (missing, last) = (false, anyhow!("no partitions yet")),
            Err(e) => (missing, last) = (false, anyhow!(e)),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn unexpected(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Unexpected(anyhow!("{what}: {e}"))
}
