//! The macros that turn the contract checks into one `#[tokio::test]` each.
//!
//! The list of checks of each group is written once, in a `__*_contract_checks!` macro, which
//! either expands the tests (`tests …`) or lists the names (`names`, used by a unit test that
//! compares the list with the `pub async fn`s of the group's files).

/// Runs the store contract checks (every store port, through
/// [`StoreParts`](crate::contract::StoreParts)) as one `#[tokio::test]` each.
///
/// The argument is an expression evaluating to a future of a FRESH, empty `StoreParts`; it is
/// evaluated once per test, so a database adapter can give each test its own schema:
///
/// ```ignore
/// hub_application::store_contract_tests!(async { StoreParts::from_store(Arc::new(my_store().await)) });
/// ```
///
/// Invoke it at module level of a test crate that has `tokio` (features `macros`, `rt`) as a
/// dev-dependency and `hub-application` with the `test-util` feature. The expression is
/// resolved in the calling module. Tests are named after the checks, so invoke it inside a
/// `mod` to run it for several adapters in one file.
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr $(,)?) => {
        $crate::__store_contract_checks!(tests store, $make);
    };
}

/// Runs the [`IdempotencyStore`](crate::ports::IdempotencyStore) contract checks as one
/// `#[tokio::test]` each.
///
/// The argument is an expression evaluating to a future of a FRESH store as
/// `Arc<impl IdempotencyStore>` (or `Arc<dyn IdempotencyStore>`), evaluated once per test:
///
/// ```ignore
/// hub_application::idempotency_contract_tests!(async { Arc::new(RedisIdempotencyStore::new(conn().await, fresh_prefix())) });
/// ```
///
/// Needs `tokio` (features `macros`, `rt`) as a dev-dependency of the calling crate; see
/// [`store_contract_tests!`](crate::store_contract_tests) for naming.
#[macro_export]
macro_rules! idempotency_contract_tests {
    ($make:expr $(,)?) => {
        $crate::__idempotency_contract_checks!(tests port $crate::ports::IdempotencyStore, $make);
    };
}

/// Runs the [`RateLimiter`](crate::ports::RateLimiter) contract checks as one `#[tokio::test]`
/// each.
///
/// The argument is an expression evaluating to a future of a FRESH limiter as
/// `Arc<impl RateLimiter>` (or `Arc<dyn RateLimiter>`), evaluated once per test. Needs `tokio`
/// (features `macros`, `rt`) as a dev-dependency of the calling crate.
#[macro_export]
macro_rules! rate_limiter_contract_tests {
    ($make:expr $(,)?) => {
        $crate::__rate_limiter_contract_checks!(tests port $crate::ports::RateLimiter, $make);
    };
}

/// Runs the [`DeliveryQueue`](crate::ports::DeliveryQueue) contract checks as one
/// `#[tokio::test]` each.
///
/// The argument is an expression evaluating to a future of a FRESH queue (own topics) as
/// `Arc<impl DeliveryQueue>` (or `Arc<dyn DeliveryQueue>`), evaluated once per test. Needs
/// `tokio` (features `macros`, `rt`) as a dev-dependency of the calling crate.
#[macro_export]
macro_rules! queue_contract_tests {
    ($make:expr $(,)?) => {
        $crate::__queue_contract_checks!(tests port $crate::ports::DeliveryQueue, $make);
    };
}

/// Expands a list of `module::check` names into tests (`tests store …` / `tests port Trait …`)
/// or into a `&[&str]` of the names (`names`).
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_expand {
    (tests store, $make:expr; $($group:ident :: $check:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $check() {
                let parts: $crate::contract::StoreParts = $make.await;
                $crate::contract::$group::$check(&parts).await;
            }
        )+
    };
    (tests port $port:path, $make:expr; $($group:ident :: $check:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $check() {
                let port: ::std::sync::Arc<dyn $port> = $make.await;
                $crate::contract::$group::$check(&*port).await;
            }
        )+
    };
    (names; $($group:ident :: $check:ident),+ $(,)?) => {
        {
            let names: &[&str] = &[$(concat!(stringify!($group), "::", stringify!($check))),+];
            names
        }
    };
}

/// The store checks, in the order they are declared.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_checks {
    ($($how:tt)*) => {
        $crate::__contract_expand! { $($how)*;
            notifications::accept_then_get_returns_the_notification_with_all_its_deliveries,
            notifications::accept_writes_the_given_outbox_rows,
            notifications::get_of_an_unknown_notification_is_none,
            notifications::list_is_newest_first_with_deliveries_and_honours_the_limit,
            notifications::list_pages_over_equal_timestamps_without_skipping_or_repeating,
            notifications::list_filters_by_recipient_and_kind,
            notifications::list_filter_from_is_inclusive_and_to_is_exclusive,
            notifications::accept_refuses_a_duplicate_key_and_writes_nothing,
            notifications::the_same_key_in_another_scope_is_accepted,
            notifications::accept_with_a_duplicate_id_fails_and_writes_nothing,
            deliveries::claim_takes_a_due_pending_delivery_once,
            deliveries::claim_refuses_a_delivery_that_is_not_yet_due,
            deliveries::claim_refuses_a_delivery_that_is_not_pending,
            deliveries::claim_and_get_of_an_unknown_delivery_are_none,
            deliveries::find_by_vendor_message_id_with_and_without_channel,
            dispatch_batches::claim_many_claims_each_due_pending_delivery_once,
            dispatch_batches::overlapping_claim_many_calls_claim_each_delivery_exactly_once,
            dispatch_batches::record_results_applies_each_matching_result_on_its_own,
            delivery_updates::update_applies_when_status_and_tries_match,
            delivery_updates::update_with_a_stale_expectation_conflicts_and_changes_nothing,
            delivery_updates::update_of_an_unknown_delivery_is_not_found,
            delivery_updates::update_to_exhausted_sets_exhausted_at_and_leaving_it_clears_it,
            delivery_updates::update_back_to_pending_without_enqueue_clears_queued_at,
            delivery_updates::update_with_enqueue_writes_one_outbox_row_and_marks_it_queued,
            delivery_updates::update_appends_tries_and_keeps_optional_fields_given_as_none,
            delivery_updates::a_job_step_from_a_stale_cursor_conflicts_and_changes_nothing,
            delivery_updates::a_matching_job_step_advances_the_job_in_the_same_write,
            scheduling::enqueue_due_queues_each_due_pending_delivery_once,
            scheduling::enqueue_due_requeues_deliveries_queued_before_stale_before,
            scheduling::enqueue_due_honours_the_limit,
            scheduling::expired_leases_lists_dispatching_deliveries_whose_lease_ended,
            scheduling::cancel_pending_cancels_only_pending_deliveries,
            dlq::dlq_lists_only_exhausted_deliveries_oldest_first,
            dlq::dlq_list_pages_with_a_cursor_over_equal_instants,
            dlq::dlq_filters_by_channel_error_class_and_time,
            dlq::dlq_stats_count_by_epoch_aligned_bucket_channel_and_error_class,
            outbox::outbox_claim_returns_due_unpublished_rows_oldest_first,
            outbox::outbox_claim_hides_rows_until_the_lease_ends,
            outbox::mark_published_removes_rows_from_claims_and_backlog,
            outbox::mark_failed_counts_the_attempt_and_delays_the_row,
            outbox::purge_published_deletes_only_rows_published_before_the_cutoff,
            outbox::backlog_counts_unpublished_rows_and_the_oldest_creation,
            recipients::put_creates_then_replaces_a_recipient,
            recipients::put_keeps_devices_and_preferences_and_ignores_given_devices,
            recipients::get_of_an_unknown_recipient_is_none,
            recipients::erase_removes_the_recipient_and_masks_its_delivery_history,
            recipients::preferences_round_trip_for_a_known_recipient_only,
            devices::register_creates_a_new_device_with_the_given_id,
            devices::register_of_a_known_token_returns_it_reactivated,
            devices::register_moves_a_token_from_another_recipient,
            devices::register_keeps_at_most_ten_active_devices_disabling_the_oldest,
            devices::disable_needs_the_owning_recipient,
            devices::disable_by_id_disables_any_known_device,
            templates::template_create_then_get_find_and_versions,
            templates::template_create_refuses_a_duplicate_key_locale_and_channel,
            templates::template_update_makes_a_new_version_and_keeps_history,
            templates::template_search_filters_and_orders_by_key_locale_channel,
            templates::template_delete_removes_it_and_its_versions,
            operations::audit_lists_newest_first_with_a_cursor,
            operations::audit_filters_by_action_and_time,
            operations::job_create_then_get,
            operations::claim_runnable_leases_one_running_job_until_the_lease_ends_or_release,
            operations::record_failure_is_guarded_by_the_cursor_and_keeps_the_first_error,
            operations::finish_sets_the_final_state_and_releases_the_lease,
            callbacks::remember_claims_a_new_id_once_and_reports_it_in_flight,
            callbacks::settle_turns_a_claim_into_a_replay_until_keep_until,
            callbacks::an_expired_record_counts_as_absent_and_is_claimed_again,
            callbacks::settle_of_an_unknown_id_is_harmless,
            callbacks::concurrent_remembers_of_one_id_claim_it_exactly_once,
            callbacks::vendors_and_ids_are_independent,
            callbacks::forget_lets_the_id_be_taken_again,
            callbacks::purge_deletes_only_expired_records,
        }
    };
}

/// The idempotency checks.
#[doc(hidden)]
#[macro_export]
macro_rules! __idempotency_contract_checks {
    ($($how:tt)*) => {
        $crate::__contract_expand! { $($how)*;
            idempotency::reserve_takes_a_free_key_and_reports_it_in_flight,
            idempotency::a_completed_key_returns_its_stored_response,
            idempotency::release_frees_an_in_flight_key,
            idempotency::release_keeps_a_completed_key,
            idempotency::a_reservation_expires_after_its_in_flight_ttl,
            idempotency::a_completed_key_expires_after_its_retention,
            idempotency::scopes_and_keys_are_independent,
            idempotency::release_by_an_expired_holder_leaves_the_new_holders_reservation,
            idempotency::complete_by_a_stale_holder_does_not_overwrite,
        }
    };
}

/// The rate limiter checks.
#[doc(hidden)]
#[macro_export]
macro_rules! __rate_limiter_contract_checks {
    ($($how:tt)*) => {
        $crate::__contract_expand! { $($how)*;
            rate_limiter::a_bucket_allows_exactly_its_capacity_then_denies,
            rate_limiter::a_denied_request_takes_nothing_from_any_bucket,
            rate_limiter::the_binding_channel_is_the_one_empty_longest,
            rate_limiter::the_tightest_bucket_is_reported_when_allowed,
            rate_limiter::tokens_refill_at_capacity_per_period,
            rate_limiter::recipients_have_independent_buckets,
        }
    };
}

/// The delivery queue checks.
#[doc(hidden)]
#[macro_export]
macro_rules! __queue_contract_checks {
    ($($how:tt)*) => {
        $crate::__contract_expand! { $($how)*;
            queue::published_messages_are_received_in_order_per_channel,
            queue::receive_honours_max,
            queue::acknowledged_messages_are_not_delivered_again,
            queue::channels_are_independent,
            queue::depth_counts_messages_until_they_are_acknowledged,
        }
    };
}
