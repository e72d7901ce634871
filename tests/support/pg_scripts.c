/* tests/support/pg_scripts.c - the PostgreSQL operation scripts as data, each
 * the outcome a PostgreSQL 15 server gives under READ COMMITTED (see the
 * header). Not a runner: suites bring their own, for the model or a server. */
#include "tests/support/pg_scripts.h"

#include <string.h>

/* Columns of SQL_SCHEMA, in schema order. */
static const struct {
	const char *table;
	const char *cols[4];
} pg_script_schema[] = {
	{"stripe_events", {"event_id", "event_type", "first_seen_at", "processed_at"}},
	{"orders", {"order_id", "payment_intent_id", "status", "paid_count"}},
	{"order_payments", {"event_id", "order_id", NULL, NULL}},
	{"stripe_customers", {"user_id", "customer_id", NULL, NULL}},
	{"quote_emails", {"quote_ref", "sent_at", "claim_token", NULL}},
};

int pg_script_column(const char *table, const char *column)
{
	for (size_t t = 0; t < sizeof pg_script_schema / sizeof pg_script_schema[0]; t++) {
		if (strcmp(pg_script_schema[t].table, table) != 0)
			continue;
		for (int c = 0; c < 4 && pg_script_schema[t].cols[c] != NULL; c++) {
			if (strcmp(pg_script_schema[t].cols[c], column) == 0)
				return c;
		}
	}
	return -1;
}

#define EXEC(s, st) .kind = PG_STEP_EXEC, .session = (s), .stmt = (st)
#define RESUME(s) .kind = PG_STEP_RESUME, .session = (s)
#define CLOSE(s) .kind = PG_STEP_CLOSE, .session = (s)
#define SEED(order, pi) .kind = PG_STEP_SEED_ORDER, .params = {(order), (pi)}
#define CHECK(tbl, key, col) .kind = PG_STEP_CHECK, .table = (tbl), .params = {(key)}, \
	.column = (col)
#define SCRIPT(var, nsess, steps) \
	const struct pg_script var = {#var, (nsess), \
	                              (int)(sizeof(steps) / sizeof((steps)[0])), (steps)}

#define EVT_TYPE "payment_intent.succeeded"
#define BIT(i) (1u << (i))

/* A SELECT sees committed rows and its own transaction's, never another's
 * uncommitted ones; inside a block each statement sees what committed
 * before it started (not a transaction-wide snapshot). */
static const struct pg_step read_committed_visibility[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_1"}, .affected = 1},
	{EXEC(0, SQL_CUSTOMER_SELECT), .params = {"u1"}, .nrows = 1, .value = "cus_1"},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(1, SQL_CUSTOMER_SELECT), .params = {"u1"}, .nrows = 0},
	{EXEC(0, SQL_COMMIT)},
	{EXEC(1, SQL_CUSTOMER_SELECT), .params = {"u1"}, .nrows = 1, .value = "cus_1"},
	{EXEC(1, SQL_COMMIT)},
};
SCRIPT(PG_SCRIPT_READ_COMMITTED_VISIBILITY, 2, read_committed_visibility);

/* ON CONFLICT DO NOTHING meeting an uncommitted insert of the same key waits;
 * the holder commits: conflict, no row. */
static const struct pg_step insert_nothing_waits_then_conflicts[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {"evt_1", EVT_TYPE}, .nrows = 1,
	 .affected = 1, .value = "evt_1"},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(1, SQL_EVENT_INSERT_NEW), .params = {"evt_1", EVT_TYPE}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 0, .affected = 0},
	{EXEC(1, SQL_COMMIT)},
	{CHECK("stripe_events", "evt_1", "event_type"), .nrows = 1, .value = EVT_TYPE},
};
SCRIPT(PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_CONFLICTS, 2, insert_nothing_waits_then_conflicts);

/* ... the holder rolls back: the waiter inserts. */
static const struct pg_step insert_nothing_waits_then_inserts[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"q1", "t0"}, .nrows = 1, .affected = 1, .value = "q1"},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"q1", "t1"}, .blocked = true},
	{EXEC(0, SQL_ROLLBACK), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 1, .affected = 1, .value = "q1"},
	{CHECK("quote_emails", "q1", "quote_ref"), .nrows = 1, .value = "q1"},
};
SCRIPT(PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_INSERTS, 2, insert_nothing_waits_then_inserts);

/* A plain INSERT waits the same way; a committed conflict is 23505. */
static const struct pg_step plain_insert_waits_then_23505[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_1"}, .affected = 1},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(1, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_2"}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .sqlstate = SQLSTATE_UNIQUE_VIOLATION},
	{EXEC(1, SQL_COMMIT), .commit_rolled_back = true},
	{CHECK("stripe_customers", "u1", "customer_id"), .nrows = 1, .value = "cus_1"},
};
SCRIPT(PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_23505, 2, plain_insert_waits_then_23505);

static const struct pg_step plain_insert_waits_then_inserts[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_1"}, .affected = 1},
	{EXEC(1, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_2"}, .blocked = true},
	{EXEC(0, SQL_ROLLBACK), .unblocks = BIT(1)},
	{RESUME(1), .affected = 1},
	{CHECK("stripe_customers", "u1", "customer_id"), .nrows = 1, .value = "cus_2"},
};
SCRIPT(PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_INSERTS, 2, plain_insert_waits_then_inserts);

/* A committed row with the key: 23505 at once, no wait. */
static const struct pg_step plain_insert_committed_23505[] = {
	{EXEC(0, SQL_PAYMENT_EFFECT_INSERT), .params = {"evt_1", "o1"}, .affected = 1},
	{EXEC(1, SQL_PAYMENT_EFFECT_INSERT), .params = {"evt_1", "o2"},
	 .sqlstate = SQLSTATE_UNIQUE_VIOLATION},
	{CHECK("order_payments", "evt_1", "order_id"), .nrows = 1, .value = "o1"},
};
SCRIPT(PG_SCRIPT_PLAIN_INSERT_COMMITTED_23505, 2, plain_insert_committed_23505);

/* stripe_customers.customer_id is UNIQUE too: another user, same customer. */
static const struct pg_step second_unique_key_23505[] = {
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_1"}, .affected = 1},
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u2", "cus_1"},
	 .sqlstate = SQLSTATE_UNIQUE_VIOLATION},
	{CHECK("stripe_customers", "u2", "customer_id"), .nrows = 0},
};
SCRIPT(PG_SCRIPT_SECOND_UNIQUE_KEY_23505, 1, second_unique_key_23505);

/* ON CONFLICT DO UPDATE waits for an uncommitted insert, then updates the
 * committed row: one row affected either way. */
static const struct pg_step upsert_waits_then_updates[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_EVENT_UPSERT), .params = {"evt_1", "type_a"}, .affected = 1},
	{EXEC(1, SQL_EVENT_UPSERT), .params = {"evt_1", "type_b"}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .affected = 1},
	{CHECK("stripe_events", "evt_1", "event_type"), .nrows = 1, .value = "type_b"},
};
SCRIPT(PG_SCRIPT_UPSERT_WAITS_THEN_UPDATES, 2, upsert_waits_then_updates);

/* ... and waits for a row another transaction updated (it locks the row). */
static const struct pg_step upsert_waits_for_locked_row[] = {
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {"evt_1", "type_a"}, .nrows = 1,
	 .affected = 1, .value = "evt_1"},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_EVENT_MARK_PROCESSED), .params = {"evt_1"}, .affected = 1},
	{EXEC(1, SQL_EVENT_UPSERT), .params = {"evt_1", "type_b"}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .affected = 1},
	{CHECK("stripe_events", "evt_1", "event_type"), .nrows = 1, .value = "type_b"},
	{CHECK("stripe_events", "evt_1", "processed_at"), .nrows = 1, .value = "1",
	 .value_is_time = true},
};
SCRIPT(PG_SCRIPT_UPSERT_WAITS_FOR_LOCKED_ROW, 2, upsert_waits_for_locked_row);

/* An INSERT meeting a row another open transaction deleted waits: the delete
 * commits, the key is free. */
static const struct pg_step insert_waits_for_delete_commit[] = {
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"q1", "t0"}, .nrows = 1, .affected = 1, .value = "q1"},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_QUOTE_RELEASE), .params = {"q1", "t0"}, .affected = 1},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"q1", "t1"}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 1, .affected = 1, .value = "q1"},
	{CHECK("quote_emails", "q1", "claim_token"), .nrows = 1, .value = "t1"},
};
SCRIPT(PG_SCRIPT_INSERT_WAITS_FOR_DELETE_COMMIT, 2, insert_waits_for_delete_commit);

/* ... the delete rolls back: the row is there, DO NOTHING. */
static const struct pg_step insert_waits_for_delete_rollback[] = {
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"q1", "t0"}, .nrows = 1, .affected = 1, .value = "q1"},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_QUOTE_RELEASE), .params = {"q1", "t0"}, .affected = 1},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"q1", "t1"}, .blocked = true},
	{EXEC(0, SQL_ROLLBACK), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 0, .affected = 0},
	{CHECK("quote_emails", "q1", "claim_token"), .nrows = 1, .value = "t0"},
};
SCRIPT(PG_SCRIPT_INSERT_WAITS_FOR_DELETE_ROLLBACK, 2, insert_waits_for_delete_rollback);

/* UPDATE ... WHERE status = 'pending' waits for the row's holder; the holder
 * committed 'paid': the WHERE, evaluated again on the new version, fails. */
static const struct pg_step update_rechecks_where_on_commit[] = {
	{SEED("o1", "pi_1")},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_ORDER_MARK_PAID_IF_PENDING), .params = {"pi_1"}, .nrows = 1,
	 .affected = 1, .value = "o1"},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(1, SQL_ORDER_MARK_PAID_IF_PENDING), .params = {"pi_1"}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 0, .affected = 0},
	{EXEC(1, SQL_COMMIT)},
	{CHECK("orders", "o1", "paid_count"), .nrows = 1, .value = "1"},
	{CHECK("orders", "o1", "status"), .nrows = 1, .value = "paid"},
};
SCRIPT(PG_SCRIPT_UPDATE_RECHECKS_WHERE_ON_COMMIT, 2, update_rechecks_where_on_commit);

/* ... the holder rolled back: the waiter updates the old version. */
static const struct pg_step update_proceeds_on_rollback[] = {
	{SEED("o1", "pi_1")},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_ORDER_MARK_PAID_IF_PENDING), .params = {"pi_1"}, .nrows = 1,
	 .affected = 1, .value = "o1"},
	{EXEC(1, SQL_ORDER_MARK_PAID_IF_PENDING), .params = {"pi_1"}, .blocked = true},
	{EXEC(0, SQL_ROLLBACK), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 1, .affected = 1, .value = "o1"},
	{CHECK("orders", "o1", "paid_count"), .nrows = 1, .value = "1"},
};
SCRIPT(PG_SCRIPT_UPDATE_PROCEEDS_ON_ROLLBACK, 2, update_proceeds_on_rollback);

/* The unconditional UPDATE applies to the committed new version: the
 * increments add up (this is the double payment of the legacy code). */
static const struct pg_step update_uses_newest_version[] = {
	{SEED("o1", "pi_1")},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_ORDER_MARK_PAID), .params = {"pi_1"}, .nrows = 1, .affected = 1,
	 .value = "o1"},
	{EXEC(1, SQL_ORDER_MARK_PAID), .params = {"pi_1"}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 1, .affected = 1, .value = "o1"},
	{CHECK("orders", "o1", "paid_count"), .nrows = 1, .value = "2"},
};
SCRIPT(PG_SCRIPT_UPDATE_USES_NEWEST_VERSION, 2, update_uses_newest_version);

/* An UPDATE does not see another transaction's uncommitted insert, so it
 * neither waits nor changes it. */
static const struct pg_step update_skips_uncommitted_insert[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {"evt_1", EVT_TYPE}, .nrows = 1,
	 .affected = 1, .value = "evt_1"},
	{EXEC(1, SQL_EVENT_MARK_PROCESSED), .params = {"evt_1"}, .affected = 0},
	{EXEC(0, SQL_COMMIT)},
	{EXEC(1, SQL_EVENT_SELECT), .params = {"evt_1"}, .nrows = 1, .value_null = true},
};
SCRIPT(PG_SCRIPT_UPDATE_SKIPS_UNCOMMITTED_INSERT, 2, update_skips_uncommitted_insert);

/* A DELETE waiting on a row the holder deleted: skipped, 0 rows. */
static const struct pg_step delete_waits_then_skips_deleted[] = {
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"q1", "t0"}, .nrows = 1, .affected = 1, .value = "q1"},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_QUOTE_RELEASE), .params = {"q1", "t0"}, .affected = 1},
	{EXEC(1, SQL_QUOTE_RELEASE), .params = {"q1", "t0"}, .blocked = true},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .affected = 0},
	{CHECK("quote_emails", "q1", "quote_ref"), .nrows = 0},
};
SCRIPT(PG_SCRIPT_DELETE_WAITS_THEN_SKIPS_DELETED, 2, delete_waits_then_skips_deleted);

/* The connection of the holder dies: its transaction rolls back and the
 * waiter goes on as after a ROLLBACK. */
static const struct pg_step close_rolls_back_and_wakes[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {"evt_1", "type_a"}, .nrows = 1,
	 .affected = 1, .value = "evt_1"},
	{EXEC(1, SQL_EVENT_INSERT_NEW), .params = {"evt_1", "type_b"}, .blocked = true},
	{CLOSE(0), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 1, .affected = 1, .value = "evt_1"},
	{CHECK("stripe_events", "evt_1", "event_type"), .nrows = 1, .value = "type_b"},
};
SCRIPT(PG_SCRIPT_CLOSE_ROLLS_BACK_AND_WAKES, 2, close_rolls_back_and_wakes);

/* Two sessions lock two orders in opposite order: the wait that closes the
 * cycle fails with 40P01, its transaction is aborted, and the other one,
 * no longer waiting, completes. */
static const struct pg_step deadlock_two_sessions[] = {
	{SEED("o1", "pi_1")},
	{SEED("o2", "pi_2")},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(0, SQL_ORDER_MARK_PAID), .params = {"pi_1"}, .nrows = 1, .affected = 1,
	 .value = "o1"},
	{EXEC(1, SQL_ORDER_MARK_PAID), .params = {"pi_2"}, .nrows = 1, .affected = 1,
	 .value = "o2"},
	{EXEC(0, SQL_ORDER_MARK_PAID), .params = {"pi_2"}, .blocked = true},
	{EXEC(1, SQL_ORDER_MARK_PAID), .params = {"pi_1"}, .sqlstate = SQLSTATE_DEADLOCK,
	 .unblocks = BIT(0)},
	{RESUME(0), .nrows = 1, .affected = 1, .value = "o2"},
	{EXEC(1, SQL_ORDER_MARK_PAID), .params = {"pi_1"}, .sqlstate = "25P02"},
	{EXEC(1, SQL_COMMIT), .commit_rolled_back = true},
	{EXEC(0, SQL_COMMIT)},
	{CHECK("orders", "o1", "paid_count"), .nrows = 1, .value = "1"},
	{CHECK("orders", "o2", "paid_count"), .nrows = 1, .value = "1"},
};
SCRIPT(PG_SCRIPT_DEADLOCK_TWO_SESSIONS, 2, deadlock_two_sessions);

/* A cycle through three sessions, on insert keys. */
static const struct pg_step deadlock_three_sessions[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(2, SQL_BEGIN)},
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"qa", "t0"}, .nrows = 1, .affected = 1, .value = "qa"},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"qb", "t1"}, .nrows = 1, .affected = 1, .value = "qb"},
	{EXEC(2, SQL_QUOTE_CLAIM), .params = {"qc", "t2"}, .nrows = 1, .affected = 1, .value = "qc"},
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"qb", "t0"}, .blocked = true},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"qc", "t1"}, .blocked = true},
	{EXEC(2, SQL_QUOTE_CLAIM), .params = {"qa", "t2"}, .sqlstate = SQLSTATE_DEADLOCK,
	 .unblocks = BIT(1)},
	{RESUME(1), .nrows = 1, .affected = 1, .value = "qc"},
	{EXEC(1, SQL_COMMIT), .unblocks = BIT(0)},
	{RESUME(0), .nrows = 0, .affected = 0},
	{EXEC(0, SQL_COMMIT)},
	{EXEC(2, SQL_ROLLBACK)},
	{CHECK("quote_emails", "qa", "quote_ref"), .nrows = 1, .value = "qa"},
	{CHECK("quote_emails", "qb", "quote_ref"), .nrows = 1, .value = "qb"},
	{CHECK("quote_emails", "qc", "quote_ref"), .nrows = 1, .value = "qc"},
};
SCRIPT(PG_SCRIPT_DEADLOCK_THREE_SESSIONS, 3, deadlock_three_sessions);

/* An error inside BEGIN aborts the transaction: every statement then fails
 * with 25P02, and COMMIT answers ROLLBACK. */
static const struct pg_step aborted_transaction_25p02[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_1"}, .affected = 1},
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_2"},
	 .sqlstate = SQLSTATE_UNIQUE_VIOLATION},
	{EXEC(0, SQL_CUSTOMER_SELECT), .params = {"u1"}, .sqlstate = "25P02"},
	{EXEC(0, SQL_BEGIN), .sqlstate = "25P02"},
	{EXEC(0, SQL_COMMIT), .commit_rolled_back = true},
	{EXEC(0, SQL_CUSTOMER_SELECT), .params = {"u1"}, .nrows = 0},
	{CHECK("stripe_customers", "u1", "customer_id"), .nrows = 0},
};
SCRIPT(PG_SCRIPT_ABORTED_TRANSACTION_25P02, 1, aborted_transaction_25p02);

/* Outside BEGIN a failed statement takes only its own implicit transaction. */
static const struct pg_step autocommit_error_does_not_abort[] = {
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_1"}, .affected = 1},
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", "cus_2"},
	 .sqlstate = SQLSTATE_UNIQUE_VIOLATION},
	{EXEC(0, SQL_CUSTOMER_SELECT), .params = {"u1"}, .nrows = 1, .value = "cus_1"},
	{EXEC(0, SQL_COMMIT)},
};
SCRIPT(PG_SCRIPT_AUTOCOMMIT_ERROR_DOES_NOT_ABORT, 1, autocommit_error_does_not_abort);

/* BEGIN inside a block, COMMIT and ROLLBACK outside one: warnings in PG,
 * success here; the first COMMIT ends the block. */
static const struct pg_step begin_commit_rollback_noops[] = {
	{EXEC(0, SQL_COMMIT)},
	{EXEC(0, SQL_ROLLBACK)},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"q1", "t0"}, .nrows = 1, .affected = 1, .value = "q1"},
	{EXEC(0, SQL_COMMIT)},
	{EXEC(0, SQL_ROLLBACK)},
	{CHECK("quote_emails", "q1", "quote_ref"), .nrows = 1, .value = "q1"},
};
SCRIPT(PG_SCRIPT_BEGIN_COMMIT_ROLLBACK_NOOPS, 1, begin_commit_rollback_noops);

/* now() is the start of the transaction (the BEGIN), for the defaults and
 * for SET processed_at = now(); epochs come back in whole seconds. */
static const struct pg_step now_is_transaction_start[] = {
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {"evt_0", EVT_TYPE}, .nrows = 1,
	 .affected = 1, .value = "evt_0"},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(1, SQL_EVENT_SELECT), .params = {"evt_0"}, .nrows = 1, .value_null = true},
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {"evt_1", EVT_TYPE}, .nrows = 1,
	 .affected = 1, .value = "evt_1"},
	{EXEC(0, SQL_EVENT_MARK_PROCESSED), .params = {"evt_1"}, .affected = 1},
	{EXEC(0, SQL_EVENT_FIRST_SEEN), .params = {"evt_1"}, .nrows = 1, .value = "1",
	 .value_is_time = true},
	{EXEC(0, SQL_COMMIT)},
	{EXEC(1, SQL_EVENT_SELECT), .params = {"evt_1"}, .nrows = 1, .value = "1",
	 .value_is_time = true},
	{EXEC(1, SQL_EVENT_FIRST_SEEN), .params = {"evt_0"}, .nrows = 1, .value = "0",
	 .value_is_time = true},
	{EXEC(1, SQL_EVENT_FIRST_SEEN), .params = {"evt_9"}, .nrows = 0},
	{CHECK("stripe_events", "evt_1", "first_seen_at"), .nrows = 1, .value = "1",
	 .value_is_time = true},
};
SCRIPT(PG_SCRIPT_NOW_IS_TRANSACTION_START, 2, now_is_transaction_start);

/* A NULL parameter for a NOT NULL column: 23502. */
static const struct pg_step not_null_23502[] = {
	{EXEC(0, SQL_CUSTOMER_INSERT), .params = {"u1", NULL}, .sqlstate = "23502"},
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {NULL, EVT_TYPE}, .sqlstate = "23502"},
	{EXEC(0, SQL_CUSTOMER_SELECT), .params = {NULL}, .nrows = 0},
	{CHECK("stripe_customers", "u1", "customer_id"), .nrows = 0},
};
SCRIPT(PG_SCRIPT_NOT_NULL_23502, 1, not_null_23502);

/* Two waiters on one holder both wake; the first to run takes the key, and
 * the second, resumed, waits again, now on the first. */
static const struct pg_step waiter_blocks_again_on_new_holder[] = {
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"q1", "t0"}, .nrows = 1, .affected = 1, .value = "q1"},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"q1", "t1"}, .blocked = true},
	{EXEC(2, SQL_QUOTE_CLAIM), .params = {"q1", "t2"}, .blocked = true},
	{EXEC(0, SQL_ROLLBACK), .unblocks = BIT(1) | BIT(2)},
	{RESUME(1), .nrows = 1, .affected = 1, .value = "q1"},
	{RESUME(2), .blocked = true},
	{EXEC(1, SQL_COMMIT), .unblocks = BIT(2)},
	{RESUME(2), .nrows = 0, .affected = 0},
	{CHECK("quote_emails", "q1", "claim_token"), .nrows = 1, .value = "t1"},
};
SCRIPT(PG_SCRIPT_WAITER_BLOCKS_AGAIN_ON_NEW_HOLDER, 3, waiter_blocks_again_on_new_holder);

/* The legacy webhook (upsert, then SELECT to decide "new") under two
 * concurrent deliveries: both see processed_at NULL, both pay. */
static const struct pg_step legacy_webhook_pays_twice[] = {
	{SEED("o1", "pi_1")},
	{EXEC(0, SQL_EVENT_UPSERT), .params = {"evt_1", EVT_TYPE}, .affected = 1},
	{EXEC(1, SQL_EVENT_UPSERT), .params = {"evt_1", EVT_TYPE}, .affected = 1},
	{EXEC(0, SQL_EVENT_SELECT), .params = {"evt_1"}, .nrows = 1, .value_null = true},
	{EXEC(1, SQL_EVENT_SELECT), .params = {"evt_1"}, .nrows = 1, .value_null = true},
	{EXEC(0, SQL_ORDER_MARK_PAID), .params = {"pi_1"}, .nrows = 1, .affected = 1,
	 .value = "o1"},
	{EXEC(1, SQL_ORDER_MARK_PAID), .params = {"pi_1"}, .nrows = 1, .affected = 1,
	 .value = "o1"},
	{CHECK("orders", "o1", "paid_count"), .nrows = 1, .value = "2"},
};
SCRIPT(PG_SCRIPT_LEGACY_WEBHOOK_PAYS_TWICE, 2, legacy_webhook_pays_twice);

/* The hardened webhook: claim, effect and mark in one transaction; the
 * concurrent copy waits on the claim and finds it taken. */
static const struct pg_step hardened_webhook_pays_once[] = {
	{SEED("o1", "pi_1")},
	{EXEC(0, SQL_BEGIN)},
	{EXEC(0, SQL_EVENT_INSERT_NEW), .params = {"evt_1", EVT_TYPE}, .nrows = 1,
	 .affected = 1, .value = "evt_1"},
	{EXEC(1, SQL_BEGIN)},
	{EXEC(1, SQL_EVENT_INSERT_NEW), .params = {"evt_1", EVT_TYPE}, .blocked = true},
	{EXEC(0, SQL_ORDER_MARK_PAID_IF_PENDING), .params = {"pi_1"}, .nrows = 1,
	 .affected = 1, .value = "o1"},
	{EXEC(0, SQL_PAYMENT_EFFECT_INSERT), .params = {"evt_1", "o1"}, .affected = 1},
	{EXEC(0, SQL_EVENT_MARK_PROCESSED), .params = {"evt_1"}, .affected = 1},
	{EXEC(0, SQL_COMMIT), .unblocks = BIT(1)},
	{RESUME(1), .nrows = 0, .affected = 0},
	{EXEC(1, SQL_ROLLBACK)},
	{CHECK("orders", "o1", "paid_count"), .nrows = 1, .value = "1"},
	{CHECK("order_payments", "evt_1", "order_id"), .nrows = 1, .value = "o1"},
	{CHECK("stripe_events", "evt_1", "processed_at"), .nrows = 1, .value = "1",
	 .value_is_time = true},
};
SCRIPT(PG_SCRIPT_HARDENED_WEBHOOK_PAYS_ONCE, 2, hardened_webhook_pays_once);

/* A claim names its owner: only the owner's token releases it or marks it
 * sent; sent_at is NULL until it is marked, now() of the marking after. */
static const struct pg_step quote_claim_has_an_owner[] = {
	{EXEC(0, SQL_QUOTE_CLAIM), .params = {"q1", "t0"}, .nrows = 1, .affected = 1, .value = "q1"},
	{EXEC(1, SQL_QUOTE_SENT_SELECT), .params = {"q1"}, .nrows = 1, .value_null = true},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"q1", "t1"}, .nrows = 0, .affected = 0},
	{EXEC(1, SQL_QUOTE_RELEASE), .params = {"q1", "t1"}, .affected = 0},
	{EXEC(1, SQL_QUOTE_MARK_SENT), .params = {"q1", "t1"}, .affected = 0},
	{EXEC(1, SQL_QUOTE_SENT_SELECT), .params = {"q1"}, .nrows = 1, .value_null = true},
	{EXEC(0, SQL_QUOTE_MARK_SENT), .params = {"q1", "t0"}, .affected = 1},
	{EXEC(1, SQL_QUOTE_SENT_SELECT), .params = {"q1"}, .nrows = 1, .value = "6",
	 .value_is_time = true},
	{EXEC(1, SQL_QUOTE_SENT_SELECT), .params = {"q2"}, .nrows = 0},
	{EXEC(1, SQL_QUOTE_CLAIM), .params = {"q2", "t1"}, .nrows = 1, .affected = 1, .value = "q2"},
	{EXEC(1, SQL_QUOTE_RELEASE), .params = {"q2", "t1"}, .affected = 1},
	{CHECK("quote_emails", "q1", "claim_token"), .nrows = 1, .value = "t0"},
	{CHECK("quote_emails", "q2", "quote_ref"), .nrows = 0},
};
SCRIPT(PG_SCRIPT_QUOTE_CLAIM_HAS_AN_OWNER, 2, quote_claim_has_an_owner);

const struct pg_script *const PG_SCRIPTS_ALL[] = {
	&PG_SCRIPT_READ_COMMITTED_VISIBILITY,
	&PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_CONFLICTS,
	&PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_INSERTS,
	&PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_23505,
	&PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_INSERTS,
	&PG_SCRIPT_PLAIN_INSERT_COMMITTED_23505,
	&PG_SCRIPT_SECOND_UNIQUE_KEY_23505,
	&PG_SCRIPT_UPSERT_WAITS_THEN_UPDATES,
	&PG_SCRIPT_UPSERT_WAITS_FOR_LOCKED_ROW,
	&PG_SCRIPT_INSERT_WAITS_FOR_DELETE_COMMIT,
	&PG_SCRIPT_INSERT_WAITS_FOR_DELETE_ROLLBACK,
	&PG_SCRIPT_UPDATE_RECHECKS_WHERE_ON_COMMIT,
	&PG_SCRIPT_UPDATE_PROCEEDS_ON_ROLLBACK,
	&PG_SCRIPT_UPDATE_USES_NEWEST_VERSION,
	&PG_SCRIPT_UPDATE_SKIPS_UNCOMMITTED_INSERT,
	&PG_SCRIPT_DELETE_WAITS_THEN_SKIPS_DELETED,
	&PG_SCRIPT_CLOSE_ROLLS_BACK_AND_WAKES,
	&PG_SCRIPT_DEADLOCK_TWO_SESSIONS,
	&PG_SCRIPT_DEADLOCK_THREE_SESSIONS,
	&PG_SCRIPT_ABORTED_TRANSACTION_25P02,
	&PG_SCRIPT_AUTOCOMMIT_ERROR_DOES_NOT_ABORT,
	&PG_SCRIPT_BEGIN_COMMIT_ROLLBACK_NOOPS,
	&PG_SCRIPT_NOW_IS_TRANSACTION_START,
	&PG_SCRIPT_NOT_NULL_23502,
	&PG_SCRIPT_WAITER_BLOCKS_AGAIN_ON_NEW_HOLDER,
	&PG_SCRIPT_LEGACY_WEBHOOK_PAYS_TWICE,
	&PG_SCRIPT_HARDENED_WEBHOOK_PAYS_ONCE,
	&PG_SCRIPT_QUOTE_CLAIM_HAS_AN_OWNER,
};
const int PG_SCRIPTS_ALL_COUNT = (int)(sizeof PG_SCRIPTS_ALL / sizeof PG_SCRIPTS_ALL[0]);
