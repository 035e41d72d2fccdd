//! Opening, migrations, durability across close/reopen, health, and corrupt rows.

mod common;

use common::*;
use hub_adapter_out::sqlite::{MIGRATOR, SqliteStore};
use hub_application::PortError;
use hub_application::ports::{AcceptOutcome, DeliveryStore, HealthProbe, NotificationStore, Outbox};
use sqlx::{Connection, SqliteConnection};

async fn raw(path: &std::path::Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.expect("raw connection")
}

async fn applied_migrations(path: &std::path::Path) -> i64 {
    let mut conn = raw(path).await;
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn open_creates_missing_folders_and_the_file_and_applies_every_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/data/hub.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.is_file());
    assert_eq!(store.path(), path);
    store.close().await;
    assert_eq!(
        applied_migrations(&path).await,
        MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count() as i64
    );
}

#[tokio::test]
async fn the_database_file_is_left_in_wal_mode() {
    let (dir, store) = temp_store().await;
    let path = dir.path().join("hub.db");
    let mut conn = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal", "WAL is a property of the file, set by the store");
    drop(store);
}

#[tokio::test]
async fn migrations_are_idempotent_on_reopen_and_on_migrate() {
    let (dir, store) = temp_store().await;
    let path = dir.path().join("hub.db");
    store.accept(new_notification(1, at("2026-01-15T03:00:00Z"))).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let before = applied_migrations(&path).await;
    for _ in 0..2 {
        let again = SqliteStore::open(&path).await.unwrap();
        assert!(NotificationStore::get(&again, ntf(1)).await.unwrap().is_some());
        again.close().await;
    }
    assert_eq!(applied_migrations(&path).await, before);
}

#[tokio::test]
async fn accepted_work_survives_close_and_reopen() {
    let (dir, store) = temp_store().await;
    let path = dir.path().join("hub.db");
    let t0 = at("2026-01-15T03:00:00Z");
    for n in 1..=3 {
        assert_eq!(store.accept(new_notification(n, t0)).await.unwrap(), AcceptOutcome::Accepted);
    }
    let claimed =
        DeliveryStore::claim(&store, dlv(2), t0, at("2026-01-15T03:01:00Z")).await.unwrap().unwrap();
    store.close().await;

    let reopened = SqliteStore::open(&path).await.unwrap();
    for n in 1..=3 {
        let stored = NotificationStore::get(&reopened, ntf(n)).await.unwrap().expect("still there");
        assert_eq!(stored.notification, new_notification(n, t0).notification);
    }
    assert_eq!(DeliveryStore::get(&reopened, dlv(2)).await.unwrap(), Some(claimed));
    assert_eq!(reopened.backlog().await.unwrap(), (3, Some(t0)));
    reopened.close().await;
}

#[tokio::test]
async fn writes_after_close_answer_unavailable() {
    let (_dir, store) = temp_store().await;
    store.close().await;
    let err = store.accept(new_notification(1, at("2026-01-15T03:00:00Z"))).await.unwrap_err();
    assert!(matches!(err, PortError::Unavailable(_)), "{err:?}");
    assert!(matches!(store.check().await, Err(PortError::Unavailable(_))));
}

#[tokio::test]
async fn the_health_probe_is_named_store_and_answers_when_open() {
    let (_dir, store) = temp_store().await;
    assert_eq!(store.name(), "store");
    store.check().await.unwrap();
}

#[tokio::test]
async fn down_migrations_undo_everything_and_up_migrations_apply_again() {
    let (dir, store) = temp_store().await;
    let path = dir.path().join("hub.db");
    store.close().await;
    let mut conn = raw(&path).await;
    MIGRATOR.undo(&mut conn, 0).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.is_empty(), "left behind: {tables:?}");
    conn.close().await.unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    store.accept(new_notification(1, at("2026-01-15T03:00:00Z"))).await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_corrupt_row_is_an_unexpected_error_not_a_panic() {
    let (dir, store) = temp_store().await;
    store.accept(new_notification(1, at("2026-01-15T03:00:00Z"))).await.unwrap();
    let mut conn = raw(&dir.path().join("hub.db")).await;
    sqlx::query("UPDATE notifications SET kind = 'NOT_A_KIND'").execute(&mut conn).await.unwrap();
    sqlx::query("UPDATE deliveries SET channel = 'PIGEON'").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let err = NotificationStore::get(&store, ntf(1)).await.unwrap_err();
    assert!(matches!(err, PortError::Unexpected(_)), "{err:?}");
    let err = DeliveryStore::get(&store, dlv(1)).await.unwrap_err();
    assert!(format!("{err:#}").contains("channel"), "names the column: {err:#}");
}

#[tokio::test]
async fn the_schema_refuses_an_unknown_delivery_status_and_a_half_erased_target() {
    let (dir, store) = temp_store().await;
    store.accept(new_notification(1, at("2026-01-15T03:00:00Z"))).await.unwrap();
    let mut conn = raw(&dir.path().join("hub.db")).await;
    let status = sqlx::query("UPDATE deliveries SET status = 'LOST'").execute(&mut conn).await.unwrap_err();
    assert!(status.to_string().contains("deliveries_status_check"), "{status}");
    let target = sqlx::query("UPDATE deliveries SET target_kind = 'ERASED', target_masked = 'al***om'")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(target.to_string().contains("deliveries_target_check"), "{target}");
    let audit = sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, outcome) VALUES ('aud_x', 0, 'ops', 'DLQ_REPLAY', 'OK')",
    )
    .execute(&mut conn)
    .await;
    assert!(audit.is_ok());
    let edit =
        sqlx::query("UPDATE audit_log SET actor = 'someone else'").execute(&mut conn).await.unwrap_err();
    assert!(edit.to_string().contains("never changed"), "{edit}");
    let delete = sqlx::query("DELETE FROM audit_log").execute(&mut conn).await.unwrap_err();
    assert!(delete.to_string().contains("never deleted"), "{delete}");
}
