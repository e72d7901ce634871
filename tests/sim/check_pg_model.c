/* tests/check_pg_model.c - the PostgreSQL model: each rule replayed from the
 * scripts of tests/support/pg_scripts.c with sessions driven by hand, the
 * limits, the inspection calls, assertion death tests, and random
 * interleavings of the hardened webhook transaction (seed = loop index). */
#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/models/pg_model.h"
#include "sim/prng.h"
#include "tests/support/pg_scripts.h"
#include "tests/support/death.h"

/* ---- script runner ---------------------------------------------------- */

struct harness {
	struct pg_model *m;
	int nsessions;
	uint32_t sid[PG_SCRIPT_SESSIONS_MAX];
	bool open[PG_SCRIPT_SESSIONS_MAX];
	unsigned woken;        /* script sessions woken, not yet resumed */
	unsigned step_wakes;   /* script sessions woken during this step */
};

static void harness_on_wake(void *arg, uint32_t session)
{
	struct harness *h = arg;
	for (int i = 0; i < h->nsessions; i++) {
		if (h->open[i] && h->sid[i] == session) {
			ck_assert_msg((h->step_wakes & (1u << i)) == 0, "session %d woken twice", i);
			h->step_wakes |= 1u << i;
			return;
		}
	}
	ck_abort_msg("wake for session %" PRIu32 ", which the script does not hold", session);
}

static void harness_init(struct harness *h, int nsessions)
{
	memset(h, 0, sizeof *h);
	h->nsessions = nsessions;
	h->m = pg_model_create(8, harness_on_wake, h);
	ck_assert_ptr_nonnull(h->m);
	for (int i = 0; i < nsessions; i++) {
		ck_assert(pg_model_open(h->m, &h->sid[i]));
		h->open[i] = true;
	}
}

static void harness_fini(struct harness *h)
{
	for (int i = 0; i < h->nsessions; i++) {
		if (h->open[i])
			pg_model_close(h->m, h->sid[i]);
	}
	pg_model_destroy(h->m);
}

struct row_probe {
	const char *key;
	int col;
	int found;
	char value[64];
	bool value_null;
};

static void row_probe_on_row(void *arg, const char *const *cols, int ncols)
{
	struct row_probe *p = arg;
	ck_assert_int_gt(ncols, p->col);
	if (cols[0] == NULL || strcmp(cols[0], p->key) != 0)
		return;
	p->found++;
	p->value_null = cols[p->col] == NULL;
	if (!p->value_null)
		snprintf(p->value, sizeof p->value, "%s", cols[p->col]);
}

/* The expected cell: seconds for a SELECT of an epoch, microseconds of
 * virtual time for the stored timestamp that CHECK reads. */
static void expected_value(const struct pg_step *st, bool stored, char *buf, size_t n)
{
	if (st->value_is_time && stored)
		snprintf(buf, n, "%llu", strtoull(st->value, NULL, 10) * PG_SCRIPT_STEP_US);
	else
		snprintf(buf, n, "%s", st->value);
}

static void step_check_result(const struct pg_script *sc, int i, struct harness *h,
                              enum pg_exec_status rc, const struct sql_result *res)
{
	const struct pg_step *st = &sc->steps[i];
	if (st->blocked) {
		ck_assert_msg(rc == PG_EXEC_BLOCKED, "%s step %d: want blocked, got done %s",
		              sc->name, i, res->sqlstate);
		return;
	}
	ck_assert_msg(rc == PG_EXEC_DONE, "%s step %d: blocked, want done", sc->name, i);
	const char *want_state = st->sqlstate != NULL ? st->sqlstate : "00000";
	ck_assert_msg(strcmp(res->sqlstate, want_state) == 0, "%s step %d: sqlstate %s (%s), want %s",
	              sc->name, i, res->sqlstate, res->message, want_state);
	if (st->sqlstate == NULL)
		ck_assert_str_eq(res->message, "");
	else
		ck_assert_int_gt((int)strlen(res->message), 0);
	ck_assert_msg(res->nrows == st->nrows, "%s step %d: %d rows, want %d", sc->name, i,
	              res->nrows, st->nrows);
	ck_assert_msg(res->affected == st->affected, "%s step %d: affected %lld, want %lld",
	              sc->name, i, res->affected, st->affected);
	bool rolled_back = pg_model_last_commit_rolled_back(h->m, h->sid[st->session]);
	ck_assert_msg(rolled_back == st->commit_rolled_back, "%s step %d: rolled_back %d",
	              sc->name, i, rolled_back);
	if (st->nrows != 1)
		return;
	ck_assert_int_eq(res->ncols, 1);
	ck_assert_msg(st->value != NULL || st->value_null, "%s step %d: script names no value",
	              sc->name, i);
	if (st->value_null) {
		ck_assert_msg(res->values[0] == NULL, "%s step %d: '%s', want NULL", sc->name, i,
		              res->values[0]);
		return;
	}
	char want[64];
	expected_value(st, false, want, sizeof want);
	ck_assert_msg(res->values[0] != NULL && strcmp(res->values[0], want) == 0,
	              "%s step %d: value '%s', want '%s'", sc->name, i,
	              res->values[0] ? res->values[0] : "NULL", want);
}

static void step_check_row(const struct pg_script *sc, int i, struct harness *h)
{
	const struct pg_step *st = &sc->steps[i];
	struct row_probe p = {.key = st->params[0], .col = pg_script_column(st->table, st->column)};
	ck_assert_msg(p.col >= 0, "%s step %d: no column %s.%s", sc->name, i, st->table, st->column);
	pg_model_foreach(h->m, st->table, row_probe_on_row, &p);
	ck_assert_msg(p.found == st->nrows, "%s step %d: %d rows with key %s, want %d", sc->name,
	              i, p.found, st->params[0], st->nrows);
	if (st->nrows == 0)
		return;
	if (st->value_null) {
		ck_assert_msg(p.value_null, "%s step %d: want NULL", sc->name, i);
		return;
	}
	char want[64];
	expected_value(st, true, want, sizeof want);
	ck_assert_msg(!p.value_null && strcmp(p.value, want) == 0, "%s step %d: %s.%s '%s', want '%s'",
	              sc->name, i, st->table, st->column, p.value_null ? "NULL" : p.value, want);
}

/* Replays sc; step i runs at virtual time i * PG_SCRIPT_STEP_US. */
static void script_run(const struct pg_script *sc)
{
	struct harness h;
	harness_init(&h, sc->nsessions);
	for (int i = 0; i < sc->nsteps; i++) {
		const struct pg_step *st = &sc->steps[i];
		uint64_t now_us = (uint64_t)i * PG_SCRIPT_STEP_US;
		ck_assert_int_lt(st->session, sc->nsessions);
		uint32_t sid = h.sid[st->session];
		struct sql_result res;
		enum pg_exec_status rc;
		h.step_wakes = 0;
		switch (st->kind) {
		case PG_STEP_SEED_ORDER:
			pg_model_seed_order(h.m, st->params[0], st->params[1]);
			break;
		case PG_STEP_EXEC:
			rc = pg_model_exec(h.m, sid, now_us, st->stmt, sql_stmt_get(st->stmt)->nparams,
			                   st->params, &res);
			step_check_result(sc, i, &h, rc, &res);
			break;
		case PG_STEP_RESUME:
			ck_assert_msg(h.woken & (1u << st->session), "%s step %d: session %d not woken",
			              sc->name, i, st->session);
			h.woken &= ~(1u << st->session);
			rc = pg_model_resume(h.m, sid, now_us, &res);
			step_check_result(sc, i, &h, rc, &res);
			break;
		case PG_STEP_CLOSE:
			pg_model_close(h.m, sid);
			h.open[st->session] = false;
			break;
		case PG_STEP_CHECK:
			step_check_row(sc, i, &h);
			break;
		}
		ck_assert_msg(h.step_wakes == st->unblocks, "%s step %d: woke 0x%x, want 0x%x",
		              sc->name, i, h.step_wakes, st->unblocks);
		h.woken |= h.step_wakes;
	}
	ck_assert_msg(h.woken == 0, "%s: a woken session was never resumed", sc->name);
	harness_fini(&h);
}

#define SCRIPT_TEST(name, script) \
	START_TEST(name) { script_run(&(script)); } END_TEST

SCRIPT_TEST(test_pg_read_committed_sees_only_committed_and_own_rows,
            PG_SCRIPT_READ_COMMITTED_VISIBILITY)
SCRIPT_TEST(test_pg_insert_waits_for_uncommitted_conflict_then_conflicts_on_commit,
            PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_CONFLICTS)
SCRIPT_TEST(test_pg_insert_waits_for_uncommitted_conflict_then_inserts_on_rollback,
            PG_SCRIPT_INSERT_NOTHING_WAITS_THEN_INSERTS)
SCRIPT_TEST(test_pg_plain_insert_waits_then_unique_violation_on_commit,
            PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_23505)
SCRIPT_TEST(test_pg_plain_insert_waits_then_inserts_on_rollback,
            PG_SCRIPT_PLAIN_INSERT_WAITS_THEN_INSERTS)
SCRIPT_TEST(test_pg_plain_insert_on_committed_key_23505_at_once,
            PG_SCRIPT_PLAIN_INSERT_COMMITTED_23505)
SCRIPT_TEST(test_pg_second_unique_key_is_enforced, PG_SCRIPT_SECOND_UNIQUE_KEY_23505)
SCRIPT_TEST(test_pg_upsert_waits_for_uncommitted_insert_then_updates,
            PG_SCRIPT_UPSERT_WAITS_THEN_UPDATES)
SCRIPT_TEST(test_pg_upsert_waits_for_row_locked_by_update, PG_SCRIPT_UPSERT_WAITS_FOR_LOCKED_ROW)
SCRIPT_TEST(test_pg_insert_waits_for_uncommitted_delete_then_inserts,
            PG_SCRIPT_INSERT_WAITS_FOR_DELETE_COMMIT)
SCRIPT_TEST(test_pg_insert_waits_for_uncommitted_delete_then_conflicts_on_rollback,
            PG_SCRIPT_INSERT_WAITS_FOR_DELETE_ROLLBACK)
SCRIPT_TEST(test_pg_update_rechecks_where_after_blocker_commits,
            PG_SCRIPT_UPDATE_RECHECKS_WHERE_ON_COMMIT)
SCRIPT_TEST(test_pg_update_proceeds_on_old_version_after_blocker_rolls_back,
            PG_SCRIPT_UPDATE_PROCEEDS_ON_ROLLBACK)
SCRIPT_TEST(test_pg_update_applies_to_newest_version_after_blocker_commits,
            PG_SCRIPT_UPDATE_USES_NEWEST_VERSION)
SCRIPT_TEST(test_pg_update_ignores_uncommitted_insert_without_waiting,
            PG_SCRIPT_UPDATE_SKIPS_UNCOMMITTED_INSERT)
SCRIPT_TEST(test_pg_delete_waits_then_skips_row_deleted_by_blocker,
            PG_SCRIPT_DELETE_WAITS_THEN_SKIPS_DELETED)
SCRIPT_TEST(test_pg_close_rolls_back_and_wakes_waiter, PG_SCRIPT_CLOSE_ROLLS_BACK_AND_WAKES)
SCRIPT_TEST(test_pg_deadlock_detected_40P01, PG_SCRIPT_DEADLOCK_TWO_SESSIONS)
SCRIPT_TEST(test_pg_deadlock_through_three_sessions_40P01, PG_SCRIPT_DEADLOCK_THREE_SESSIONS)
SCRIPT_TEST(test_pg_aborted_transaction_25P02, PG_SCRIPT_ABORTED_TRANSACTION_25P02)
SCRIPT_TEST(test_pg_autocommit_error_does_not_abort_session,
            PG_SCRIPT_AUTOCOMMIT_ERROR_DOES_NOT_ABORT)
SCRIPT_TEST(test_pg_begin_commit_rollback_out_of_place_are_noops,
            PG_SCRIPT_BEGIN_COMMIT_ROLLBACK_NOOPS)
SCRIPT_TEST(test_pg_now_is_transaction_start, PG_SCRIPT_NOW_IS_TRANSACTION_START)
SCRIPT_TEST(test_pg_null_into_not_null_column_23502, PG_SCRIPT_NOT_NULL_23502)
SCRIPT_TEST(test_pg_woken_waiter_blocks_again_on_new_holder,
            PG_SCRIPT_WAITER_BLOCKS_AGAIN_ON_NEW_HOLDER)
SCRIPT_TEST(test_pg_legacy_webhook_statements_pay_twice, PG_SCRIPT_LEGACY_WEBHOOK_PAYS_TWICE)
SCRIPT_TEST(test_pg_hardened_webhook_statements_pay_once, PG_SCRIPT_HARDENED_WEBHOOK_PAYS_ONCE)

/* Every script in the list runs clean, so none is left out of the list. */
START_TEST(test_pg_every_listed_script_replays)
{
	script_run(PG_SCRIPTS_ALL[_i]);
}
END_TEST

/* ---- hand-driven tests ------------------------------------------------ */

static enum pg_exec_status exec1(struct pg_model *m, uint32_t s, uint64_t now_us,
                                 enum sql_stmt stmt, const char *a, const char *b,
                                 struct sql_result *res)
{
	const char *params[SQL_PARAMS_MAX] = {a, b};
	return pg_model_exec(m, s, now_us, stmt, sql_stmt_get(stmt)->nparams, params, res);
}

struct row_list {
	int n;
	char first[64][32];    /* first column of each row */
	char second[64][32];   /* second column, "NULL" for SQL NULL */
	char last[64][32];
};

static void row_list_on_row(void *arg, const char *const *cols, int ncols)
{
	struct row_list *l = arg;
	ck_assert_int_lt(l->n, 64);
	snprintf(l->first[l->n], sizeof l->first[0], "%s", cols[0]);
	snprintf(l->second[l->n], sizeof l->second[0], "%s", cols[1] ? cols[1] : "NULL");
	snprintf(l->last[l->n], sizeof l->last[0], "%s", cols[ncols - 1] ? cols[ncols - 1] : "NULL");
	l->n++;
}

static int count_rows(const struct pg_model *m, const char *table)
{
	struct row_list l = {0};
	pg_model_foreach(m, table, row_list_on_row, &l);
	return l.n;
}

static int count_calls;
static void count_on_row(void *arg, const char *const *cols, int ncols)
{
	(void)arg;
	(void)cols;
	(void)ncols;
	count_calls++;
}

START_TEST(test_pg_max_connections_53300)
{
	struct pg_model *m = pg_model_create(2, NULL, NULL);
	uint32_t a = 99, b = 99, c = 99;
	ck_assert(pg_model_open(m, &a));
	ck_assert(pg_model_open(m, &b));
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(b, 1);
	ck_assert(!pg_model_open(m, &c));
	ck_assert_uint_eq(c, 99); /* untouched on failure */
	pg_model_close(m, a);
	ck_assert(pg_model_open(m, &c));
	ck_assert_uint_eq(c, 0);
	ck_assert(!pg_model_in_transaction(m, c));
	pg_model_destroy(m);
}
END_TEST

START_TEST(test_pg_foreach_lists_committed_rows_in_insertion_order)
{
	struct pg_model *m = pg_model_create(4, NULL, NULL);
	uint32_t s, t;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	ck_assert(pg_model_open(m, &t));
	exec1(m, s, 10, SQL_QUOTE_CLAIM, "q1", "t", &r);
	exec1(m, s, 20, SQL_QUOTE_CLAIM, "q2", "t", &r);
	exec1(m, s, 15, SQL_QUOTE_MARK_SENT, "q1", "t", &r);
	ck_assert_int_eq(r.affected, 1);
	exec1(m, s, 30, SQL_QUOTE_CLAIM, "q3", "t", &r);
	exec1(m, s, 40, SQL_QUOTE_RELEASE, "q2", "t", &r);
	ck_assert_int_eq(r.affected, 1);
	exec1(m, s, 50, SQL_QUOTE_CLAIM, "q2", "t", &r);
	exec1(m, t, 60, SQL_BEGIN, NULL, NULL, &r);
	exec1(m, t, 60, SQL_QUOTE_CLAIM, "q4", "t", &r); /* uncommitted: not listed */
	ck_assert_int_eq(r.nrows, 1);

	struct row_list l = {0};
	pg_model_foreach(m, "quote_emails", row_list_on_row, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.first[0], "q1");
	ck_assert_str_eq(l.second[0], "15"); /* sent_at: marked at 15 */
	ck_assert_str_eq(l.first[1], "q3");
	ck_assert_str_eq(l.first[2], "q2");
	ck_assert_str_eq(l.second[2], "NULL"); /* claimed, not marked */

	exec1(m, s, 70, SQL_EVENT_INSERT_NEW, "evt_1", "charge.refunded", &r);
	struct row_list e = {0};
	pg_model_foreach(m, "stripe_events", row_list_on_row, &e);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.first[0], "evt_1");
	ck_assert_str_eq(e.second[0], "charge.refunded");
	ck_assert_str_eq(e.last[0], "NULL");

	pg_model_seed_order(m, "o1", "pi_1");
	struct row_list o = {0};
	pg_model_foreach(m, "orders", row_list_on_row, &o);
	ck_assert_int_eq(o.n, 1);
	ck_assert_str_eq(o.second[0], "pi_1");
	ck_assert_str_eq(o.last[0], "0");
	ck_assert_int_eq(count_rows(m, "order_payments"), 0);
	count_calls = 0;
	pg_model_foreach(m, "stripe_customers", count_on_row, NULL);
	ck_assert_int_eq(count_calls, 0);
	pg_model_destroy(m);
}
END_TEST

START_TEST(test_pg_statements_counts_each_exec_not_resumes)
{
	struct pg_model *m = pg_model_create(4, NULL, NULL);
	uint32_t s, t;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	ck_assert(pg_model_open(m, &t));
	ck_assert_uint_eq(pg_model_statements(m), 0);
	exec1(m, s, 0, SQL_BEGIN, NULL, NULL, &r);
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q1", "t", &r);
	ck_assert_int_eq(exec1(m, t, 0, SQL_QUOTE_CLAIM, "q1", "t", &r), PG_EXEC_BLOCKED);
	exec1(m, s, 0, SQL_CUSTOMER_INSERT, "u1", NULL, &r); /* 23502, still counted */
	ck_assert_str_eq(r.sqlstate, "23502");
	ck_assert_uint_eq(pg_model_statements(m), 4);
	ck_assert_int_eq(pg_model_resume(m, t, 0, &r), PG_EXEC_DONE);
	ck_assert_int_eq(r.nrows, 1); /* s rolled back when its statement failed */
	ck_assert_uint_eq(pg_model_statements(m), 4);
	pg_model_destroy(m);
}
END_TEST

START_TEST(test_pg_epoch_select_rounds_half_away_from_zero)
{
	struct pg_model *m = pg_model_create(1, NULL, NULL);
	uint32_t s;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	exec1(m, s, 1499999, SQL_EVENT_INSERT_NEW, "evt_a", "t", &r);
	exec1(m, s, 1500000, SQL_EVENT_INSERT_NEW, "evt_b", "t", &r);
	exec1(m, s, 9000000, SQL_EVENT_FIRST_SEEN, "evt_a", NULL, &r);
	ck_assert_int_eq(r.nrows, 1);
	ck_assert_str_eq(r.values[0], "1");
	exec1(m, s, 9000000, SQL_EVENT_FIRST_SEEN, "evt_b", NULL, &r);
	ck_assert_str_eq(r.values[0], "2");
	struct row_list l = {0};
	pg_model_foreach(m, "stripe_events", row_list_on_row, &l);
	ck_assert_int_eq(l.n, 2);
	pg_model_destroy(m);
}
END_TEST

START_TEST(test_pg_full_table_53100_until_dead_rows_reclaimed)
{
	struct pg_model *m = pg_model_create(1, NULL, NULL);
	uint32_t s;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	pg_model_set_rows_max(m, 2);
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q1", "t", &r);
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q2", "t", &r);
	ck_assert_str_eq(r.sqlstate, "00000");
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q3", "t", &r);
	ck_assert_str_eq(r.sqlstate, "53100");
	ck_assert_int_eq(r.nrows, 0);
	ck_assert_int_eq(r.affected, 0);
	/* A plain insert reports the full disk before looking at its keys. */
	exec1(m, s, 0, SQL_CUSTOMER_INSERT, "u1", "c1", &r);
	exec1(m, s, 0, SQL_CUSTOMER_INSERT, "u2", "c2", &r);
	exec1(m, s, 0, SQL_CUSTOMER_INSERT, "u1", "c1", &r);
	ck_assert_str_eq(r.sqlstate, "53100");
	/* The deleted row's space is reused. */
	exec1(m, s, 0, SQL_QUOTE_RELEASE, "q1", "t", &r);
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q3", "t", &r);
	ck_assert_str_eq(r.sqlstate, "00000");
	ck_assert_int_eq(r.nrows, 1);
	ck_assert_int_eq(count_rows(m, "quote_emails"), 2);
	pg_model_destroy(m);
}
END_TEST

START_TEST(test_pg_transaction_row_limit_53200_aborts)
{
	struct pg_model *m = pg_model_create(1, NULL, NULL);
	uint32_t s;
	struct sql_result r;
	char key[32];
	ck_assert(pg_model_open(m, &s));
	exec1(m, s, 0, SQL_BEGIN, NULL, NULL, &r);
	for (unsigned i = 0; i < PG_MODEL_TXN_ROWS_MAX; i++) {
		snprintf(key, sizeof key, "q%u", i);
		exec1(m, s, 0, SQL_QUOTE_CLAIM, key, "t", &r);
		ck_assert_str_eq(r.sqlstate, "00000");
	}
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "one_more", "t", &r);
	ck_assert_str_eq(r.sqlstate, "53200");
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q0", "t", &r);
	ck_assert_str_eq(r.sqlstate, "25P02");
	exec1(m, s, 0, SQL_ROLLBACK, NULL, NULL, &r);
	ck_assert_str_eq(r.sqlstate, "00000");
	ck_assert(!pg_model_last_commit_rolled_back(m, s));
	ck_assert_int_eq(count_rows(m, "quote_emails"), 0);
	pg_model_destroy(m);
}
END_TEST

START_TEST(test_pg_key_longer_than_btree_entry_54000)
{
	struct pg_model *m = pg_model_create(1, NULL, NULL);
	uint32_t s;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	char *key = malloc(PG_MODEL_KEY_MAX + 2);
	ck_assert_ptr_nonnull(key);
	memset(key, 'k', PG_MODEL_KEY_MAX + 1);
	key[PG_MODEL_KEY_MAX + 1] = '\0';
	exec1(m, s, 0, SQL_QUOTE_CLAIM, key, "t", &r);
	ck_assert_str_eq(r.sqlstate, "54000");
	key[PG_MODEL_KEY_MAX] = '\0';
	exec1(m, s, 0, SQL_QUOTE_CLAIM, key, "t", &r);
	ck_assert_str_eq(r.sqlstate, "00000");
	ck_assert_int_eq(r.nrows, 1);
	free(key);

	char *type = malloc(PG_MODEL_VALUE_MAX + 2);
	ck_assert_ptr_nonnull(type);
	memset(type, 't', PG_MODEL_VALUE_MAX + 1);
	type[PG_MODEL_VALUE_MAX + 1] = '\0';
	exec1(m, s, 0, SQL_EVENT_UPSERT, "evt_1", type, &r);
	ck_assert_str_eq(r.sqlstate, "54000");
	free(type);
	pg_model_destroy(m);
}
END_TEST

START_TEST(test_pg_in_transaction_follows_the_block)
{
	struct pg_model *m = pg_model_create(2, NULL, NULL);
	uint32_t s, t;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	ck_assert(pg_model_open(m, &t));
	ck_assert(!pg_model_in_transaction(m, s));
	exec1(m, s, 0, SQL_BEGIN, NULL, NULL, &r);
	ck_assert(pg_model_in_transaction(m, s));
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q1", "t", &r);
	/* A blocked autocommit statement is not a transaction block. */
	ck_assert_int_eq(exec1(m, t, 0, SQL_QUOTE_CLAIM, "q1", "t", &r), PG_EXEC_BLOCKED);
	ck_assert(!pg_model_in_transaction(m, t));
	exec1(m, s, 0, SQL_CUSTOMER_INSERT, NULL, "c", &r);
	ck_assert_str_eq(r.sqlstate, "23502");
	ck_assert(pg_model_in_transaction(m, s)); /* aborted, still in the block */
	exec1(m, s, 0, SQL_COMMIT, NULL, NULL, &r);
	ck_assert(pg_model_last_commit_rolled_back(m, s));
	ck_assert(!pg_model_in_transaction(m, s));
	exec1(m, s, 0, SQL_COMMIT, NULL, NULL, &r);
	ck_assert(!pg_model_last_commit_rolled_back(m, s));
	pg_model_destroy(m);
}
END_TEST

struct wake_record {
	int n;
	uint32_t sessions[8];
};

static void wake_record_on_wake(void *arg, uint32_t session)
{
	struct wake_record *w = arg;
	ck_assert_int_lt(w->n, 8);
	w->sessions[w->n++] = session;
}

/* Closing a waiter drops its statement and its transaction: the holder's
 * commit wakes nobody, and the waiter's own rows are gone. */
START_TEST(test_pg_close_of_blocked_session_drops_statement_and_transaction)
{
	struct wake_record w = {0};
	struct pg_model *m = pg_model_create(3, wake_record_on_wake, &w);
	uint32_t s, t, u;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	ck_assert(pg_model_open(m, &t));
	exec1(m, s, 0, SQL_BEGIN, NULL, NULL, &r);
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q1", "t", &r);
	exec1(m, t, 0, SQL_BEGIN, NULL, NULL, &r);
	exec1(m, t, 0, SQL_QUOTE_CLAIM, "q2", "t", &r);
	ck_assert_int_eq(exec1(m, t, 0, SQL_QUOTE_CLAIM, "q1", "t", &r), PG_EXEC_BLOCKED);
	pg_model_close(m, t);
	exec1(m, s, 0, SQL_COMMIT, NULL, NULL, &r);
	ck_assert_int_eq(w.n, 0);
	struct row_list l = {0};
	pg_model_foreach(m, "quote_emails", row_list_on_row, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.first[0], "q1");
	/* The number is reused, clean. */
	ck_assert(pg_model_open(m, &u));
	ck_assert_uint_eq(u, t);
	ck_assert(!pg_model_in_transaction(m, u));
	exec1(m, u, 0, SQL_QUOTE_CLAIM, "q2", "t", &r);
	ck_assert_int_eq(r.nrows, 1);
	pg_model_destroy(m);
}
END_TEST

/* Waiters wake in ascending session order, once each. */
START_TEST(test_pg_waiters_wake_in_session_order)
{
	struct wake_record w = {0};
	struct pg_model *m = pg_model_create(4, wake_record_on_wake, &w);
	uint32_t s[4];
	struct sql_result r;
	for (int i = 0; i < 4; i++)
		ck_assert(pg_model_open(m, &s[i]));
	exec1(m, s[2], 0, SQL_BEGIN, NULL, NULL, &r);
	exec1(m, s[2], 0, SQL_EVENT_UPSERT, "evt_1", "a", &r);
	ck_assert_int_eq(exec1(m, s[3], 0, SQL_EVENT_UPSERT, "evt_1", "b", &r), PG_EXEC_BLOCKED);
	ck_assert_int_eq(exec1(m, s[0], 0, SQL_EVENT_UPSERT, "evt_1", "c", &r), PG_EXEC_BLOCKED);
	ck_assert_int_eq(exec1(m, s[1], 0, SQL_EVENT_SELECT, "evt_1", NULL, &r), PG_EXEC_DONE);
	ck_assert_int_eq(r.nrows, 0); /* reads never wait */
	exec1(m, s[2], 0, SQL_COMMIT, NULL, NULL, &r);
	ck_assert_int_eq(w.n, 2);
	ck_assert_uint_eq(w.sessions[0], s[0]);
	ck_assert_uint_eq(w.sessions[1], s[3]);
	ck_assert_int_eq(pg_model_resume(m, s[3], 0, &r), PG_EXEC_DONE);
	ck_assert_int_eq(pg_model_resume(m, s[0], 0, &r), PG_EXEC_DONE);
	struct row_list l = {0};
	pg_model_foreach(m, "stripe_events", row_list_on_row, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.second[0], "c");
	ck_assert_int_eq(w.n, 2);
	pg_model_destroy(m);
}
END_TEST

/* Many rows, deletes and reinserts: the indexes and compaction keep every
 * key findable and the listing in insertion order. */
START_TEST(test_pg_many_rows_stay_consistent_through_compaction)
{
	enum { N = 6000 };
	struct pg_model *m = pg_model_create(1, NULL, NULL);
	uint32_t s;
	struct sql_result r;
	char key[32];
	ck_assert(pg_model_open(m, &s));
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "q%d", i);
		exec1(m, s, 0, SQL_QUOTE_CLAIM, key, "t", &r);
		ck_assert_int_eq(r.nrows, 1);
	}
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			continue;
		snprintf(key, sizeof key, "q%d", i);
		exec1(m, s, 0, SQL_QUOTE_RELEASE, key, "t", &r);
		ck_assert_int_eq(r.affected, 1);
	}
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "q%d", i);
		exec1(m, s, 0, SQL_QUOTE_CLAIM, key, "t", &r);
		ck_assert_int_eq(r.nrows, i % 3 == 0 ? 0 : 1);
	}
	count_calls = 0;
	pg_model_foreach(m, "quote_emails", count_on_row, NULL);
	ck_assert_int_eq(count_calls, N);
	pg_model_destroy(m);
}
END_TEST

/* ---- death tests: contract violations are bugs ------------------------ */

START_TEST(test_pg_exec_on_blocked_session_asserts)
{
	death_expect("!s->blocked.active");
	struct pg_model *m = pg_model_create(2, NULL, NULL);
	uint32_t s, t;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	ck_assert(pg_model_open(m, &t));
	exec1(m, s, 0, SQL_BEGIN, NULL, NULL, &r);
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q1", "t", &r);
	ck_assert_int_eq(exec1(m, t, 0, SQL_QUOTE_CLAIM, "q1", "t", &r), PG_EXEC_BLOCKED);
	exec1(m, t, 0, SQL_ROLLBACK, NULL, NULL, &r);
}
END_TEST

START_TEST(test_pg_resume_before_wake_asserts)
{
	death_expect("s->blocked.woken");
	struct pg_model *m = pg_model_create(2, NULL, NULL);
	uint32_t s, t;
	struct sql_result r;
	ck_assert(pg_model_open(m, &s));
	ck_assert(pg_model_open(m, &t));
	exec1(m, s, 0, SQL_BEGIN, NULL, NULL, &r);
	exec1(m, s, 0, SQL_QUOTE_CLAIM, "q1", "t", &r);
	ck_assert_int_eq(exec1(m, t, 0, SQL_QUOTE_CLAIM, "q1", "t", &r), PG_EXEC_BLOCKED);
	pg_model_resume(m, t, 0, &r);
}
END_TEST

START_TEST(test_pg_foreach_of_unknown_table_asserts)
{
	death_expect("pg_model: unknown table name");
	struct pg_model *m = pg_model_create(1, NULL, NULL);
	pg_model_foreach(m, "users", count_on_row, NULL);
}
END_TEST

START_TEST(test_pg_wrong_param_count_asserts)
{
	death_expect("nparams == sql_stmt_get(stmt)->nparams");
	struct pg_model *m = pg_model_create(1, NULL, NULL);
	uint32_t s;
	struct sql_result r;
	const char *params[1] = {"q1"};
	ck_assert(pg_model_open(m, &s));
	pg_model_exec(m, s, 0, SQL_CUSTOMER_INSERT, 1, params, &r);
}
END_TEST

/* ---- random interleavings of the hardened webhook --------------------- */

/* One delivery: BEGIN; claim the event (INSERT ... ON CONFLICT DO NOTHING);
 * if claimed: mark the order paid if pending, record the effect when it was,
 * mark the event processed; COMMIT. Not claimed: ROLLBACK. */
enum wh_pc {
	WH_BEGIN,
	WH_CLAIM,
	WH_MARK_PAID,
	WH_EFFECT,
	WH_MARK_PROCESSED,
	WH_COMMIT,
	WH_ROLLBACK,
	WH_DONE,
};

struct delivery {
	uint32_t sid;
	const char *event_id;
	enum wh_pc pc;
	bool blocked;
	bool woken;
	bool will_die;         /* the connection dies before step die_at */
	enum wh_pc die_at;
	bool rollback_at_end;  /* the handler fails after its work */
	bool claimed;
	bool paid;
	bool committed;
};

#define WH_SESSIONS_MAX 3
#define WH_ROUNDS_MAX 200

struct wh_run {
	struct pg_model *m;
	int n;
	struct delivery d[WH_SESSIONS_MAX];
};

static void wh_on_wake(void *arg, uint32_t session)
{
	struct wh_run *run = arg;
	for (int i = 0; i < run->n; i++) {
		if (run->d[i].sid == session && run->d[i].pc != WH_DONE) {
			ck_assert(run->d[i].blocked);
			ck_assert(!run->d[i].woken);
			run->d[i].woken = true;
			return;
		}
	}
	ck_abort_msg("wake for a session with no blocked delivery");
}

static bool delivery_runnable(const struct delivery *d)
{
	return d->pc != WH_DONE && (!d->blocked || d->woken);
}

/* Takes the answer to the delivery's current statement and moves on. */
static void delivery_advance(struct delivery *d, const struct sql_result *r)
{
	bool ok = strcmp(r->sqlstate, "00000") == 0;
	if (!ok) {
		ck_assert_msg(d->pc != WH_COMMIT && d->pc != WH_ROLLBACK, "%s", r->message);
		d->pc = WH_ROLLBACK;
		return;
	}
	switch (d->pc) {
	case WH_BEGIN:
		d->pc = WH_CLAIM;
		break;
	case WH_CLAIM:
		ck_assert_int_eq(r->nrows, (int)r->affected);
		d->claimed = r->nrows == 1;
		d->pc = d->claimed ? WH_MARK_PAID : WH_ROLLBACK;
		break;
	case WH_MARK_PAID:
		d->paid = r->nrows == 1;
		d->pc = d->paid ? WH_EFFECT : WH_MARK_PROCESSED;
		break;
	case WH_EFFECT:
		d->pc = WH_MARK_PROCESSED;
		break;
	case WH_MARK_PROCESSED:
		ck_assert_int_eq(r->affected, 1);
		d->pc = d->rollback_at_end ? WH_ROLLBACK : WH_COMMIT;
		break;
	case WH_COMMIT:
		d->committed = true;
		d->pc = WH_DONE;
		break;
	case WH_ROLLBACK:
		d->pc = WH_DONE;
		break;
	case WH_DONE:
		ck_abort_msg("finished delivery advanced");
	}
}

static enum pg_exec_status delivery_step(struct wh_run *run, struct delivery *d, uint64_t now_us,
                                         struct sql_result *r)
{
	if (d->woken) {
		d->blocked = false;
		d->woken = false;
		return pg_model_resume(run->m, d->sid, now_us, r);
	}
	switch (d->pc) {
	case WH_BEGIN:
		return exec1(run->m, d->sid, now_us, SQL_BEGIN, NULL, NULL, r);
	case WH_CLAIM:
		return exec1(run->m, d->sid, now_us, SQL_EVENT_INSERT_NEW, d->event_id,
		             "payment_intent.succeeded", r);
	case WH_MARK_PAID:
		return exec1(run->m, d->sid, now_us, SQL_ORDER_MARK_PAID_IF_PENDING, "pi_1", NULL, r);
	case WH_EFFECT:
		return exec1(run->m, d->sid, now_us, SQL_PAYMENT_EFFECT_INSERT, d->event_id, "o1", r);
	case WH_MARK_PROCESSED:
		return exec1(run->m, d->sid, now_us, SQL_EVENT_MARK_PROCESSED, d->event_id, NULL, r);
	case WH_COMMIT:
		return exec1(run->m, d->sid, now_us, SQL_COMMIT, NULL, NULL, r);
	case WH_ROLLBACK:
		return exec1(run->m, d->sid, now_us, SQL_ROLLBACK, NULL, NULL, r);
	case WH_DONE:
		break;
	}
	ck_abort_msg("finished delivery stepped");
	return PG_EXEC_DONE;
}

struct order_state {
	int rows;
	long paid_count;
	char status[16];
};

static void order_on_row(void *arg, const char *const *cols, int ncols)
{
	struct order_state *o = arg;
	ck_assert_int_eq(ncols, 4);
	o->rows++;
	o->paid_count = strtol(cols[3], NULL, 10);
	snprintf(o->status, sizeof o->status, "%s", cols[2]);
}

struct event_state {
	int rows;
	int unprocessed;
};

static void event_on_row(void *arg, const char *const *cols, int ncols)
{
	struct event_state *e = arg;
	ck_assert_int_eq(ncols, 4);
	e->rows++;
	if (cols[3] == NULL)
		e->unprocessed++;
}

/* exactly-once at the database: whatever the interleaving, the dying
 * connections and the failed handlers, the order is paid at most once, once
 * if any claiming delivery committed, with one effect row per payment, and
 * every committed event is processed. */
START_TEST(test_pg_hardened_webhook_interleavings_pay_at_most_once)
{
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	struct wh_run run = {0};
	run.m = pg_model_create(WH_SESSIONS_MAX, wh_on_wake, &run);
	ck_assert_ptr_nonnull(run.m);
	pg_model_seed_order(run.m, "o1", "pi_1");
	run.n = 2 + (int)prng_below(&rng, 2);
	static const char *const events[] = {"evt_a", "evt_b"};
	for (int i = 0; i < run.n; i++) {
		struct delivery *d = &run.d[i];
		ck_assert(pg_model_open(run.m, &d->sid));
		d->event_id = events[prng_below(&rng, 2)];
		d->pc = WH_BEGIN;
		d->will_die = prng_chance(&rng, 0.2);
		d->die_at = (enum wh_pc)prng_below(&rng, WH_COMMIT + 1);
		d->rollback_at_end = prng_chance(&rng, 0.15);
	}

	for (int round = 0; round < WH_ROUNDS_MAX; round++) {
		int runnable[WH_SESSIONS_MAX], nr = 0;
		for (int i = 0; i < run.n; i++) {
			if (delivery_runnable(&run.d[i]))
				runnable[nr++] = i;
		}
		if (nr == 0)
			break;
		struct delivery *d = &run.d[runnable[prng_below(&rng, (uint64_t)nr)]];
		uint64_t now_us = (uint64_t)round * 1000;
		if (d->will_die && d->pc == d->die_at && !d->woken) {
			pg_model_close(run.m, d->sid);
			d->pc = WH_DONE;
			continue;
		}
		struct sql_result r;
		if (delivery_step(&run, d, now_us, &r) == PG_EXEC_BLOCKED) {
			d->blocked = true;
			continue;
		}
		delivery_advance(d, &r);
	}
	int committed_payers = 0, committed_claims = 0;
	for (int i = 0; i < run.n; i++) {
		ck_assert_msg(run.d[i].pc == WH_DONE, "delivery %d stuck (lost wake?)", i);
		committed_claims += run.d[i].committed && run.d[i].claimed;
		committed_payers += run.d[i].committed && run.d[i].paid;
	}

	struct order_state o = {0};
	pg_model_foreach(run.m, "orders", order_on_row, &o);
	ck_assert_int_eq(o.rows, 1);
	ck_assert_int_le(o.paid_count, 1);
	ck_assert_int_eq(o.paid_count, committed_payers);
	ck_assert_int_eq(o.paid_count, committed_claims > 0 ? 1 : 0);
	ck_assert_str_eq(o.status, o.paid_count == 1 ? "paid" : "pending");
	ck_assert_int_eq(count_rows(run.m, "order_payments"), o.paid_count);
	struct event_state e = {0};
	pg_model_foreach(run.m, "stripe_events", event_on_row, &e);
	ck_assert_int_eq(e.rows, committed_claims);
	ck_assert_int_eq(e.unprocessed, 0);
	pg_model_destroy(run.m);
}
END_TEST

Suite *check_pg_model_suite(void);
Suite *check_pg_model_suite(void)
{
	Suite *s = suite_create("pg_model");

	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_pg_read_committed_sees_only_committed_and_own_rows);
	tcase_add_test(tc, test_pg_insert_waits_for_uncommitted_conflict_then_conflicts_on_commit);
	tcase_add_test(tc, test_pg_insert_waits_for_uncommitted_conflict_then_inserts_on_rollback);
	tcase_add_test(tc, test_pg_plain_insert_waits_then_unique_violation_on_commit);
	tcase_add_test(tc, test_pg_plain_insert_waits_then_inserts_on_rollback);
	tcase_add_test(tc, test_pg_plain_insert_on_committed_key_23505_at_once);
	tcase_add_test(tc, test_pg_second_unique_key_is_enforced);
	tcase_add_test(tc, test_pg_upsert_waits_for_uncommitted_insert_then_updates);
	tcase_add_test(tc, test_pg_upsert_waits_for_row_locked_by_update);
	tcase_add_test(tc, test_pg_insert_waits_for_uncommitted_delete_then_inserts);
	tcase_add_test(tc, test_pg_insert_waits_for_uncommitted_delete_then_conflicts_on_rollback);
	tcase_add_test(tc, test_pg_update_rechecks_where_after_blocker_commits);
	tcase_add_test(tc, test_pg_update_proceeds_on_old_version_after_blocker_rolls_back);
	tcase_add_test(tc, test_pg_update_applies_to_newest_version_after_blocker_commits);
	tcase_add_test(tc, test_pg_update_ignores_uncommitted_insert_without_waiting);
	tcase_add_test(tc, test_pg_delete_waits_then_skips_row_deleted_by_blocker);
	tcase_add_test(tc, test_pg_close_rolls_back_and_wakes_waiter);
	tcase_add_test(tc, test_pg_deadlock_detected_40P01);
	tcase_add_test(tc, test_pg_deadlock_through_three_sessions_40P01);
	tcase_add_test(tc, test_pg_aborted_transaction_25P02);
	tcase_add_test(tc, test_pg_autocommit_error_does_not_abort_session);
	tcase_add_test(tc, test_pg_begin_commit_rollback_out_of_place_are_noops);
	tcase_add_test(tc, test_pg_now_is_transaction_start);
	tcase_add_test(tc, test_pg_null_into_not_null_column_23502);
	tcase_add_test(tc, test_pg_woken_waiter_blocks_again_on_new_holder);
	tcase_add_test(tc, test_pg_legacy_webhook_statements_pay_twice);
	tcase_add_test(tc, test_pg_hardened_webhook_statements_pay_once);
	tcase_add_loop_test(tc, test_pg_every_listed_script_replays, 0, PG_SCRIPTS_ALL_COUNT);
	suite_add_tcase(s, tc);

	tc = tcase_create("contract");
	tcase_add_test(tc, test_pg_max_connections_53300);
	tcase_add_test(tc, test_pg_foreach_lists_committed_rows_in_insertion_order);
	tcase_add_test(tc, test_pg_statements_counts_each_exec_not_resumes);
	tcase_add_test(tc, test_pg_epoch_select_rounds_half_away_from_zero);
	tcase_add_test(tc, test_pg_in_transaction_follows_the_block);
	tcase_add_test(tc, test_pg_close_of_blocked_session_drops_statement_and_transaction);
	tcase_add_test(tc, test_pg_waiters_wake_in_session_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_pg_full_table_53100_until_dead_rows_reclaimed);
	tcase_add_test(tc, test_pg_transaction_row_limit_53200_aborts);
	tcase_add_test(tc, test_pg_key_longer_than_btree_entry_54000);
	tcase_add_test(tc, test_pg_many_rows_stay_consistent_through_compaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("death");
	tcase_add_test_raise_signal(tc, test_pg_exec_on_blocked_session_asserts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_pg_resume_before_wake_asserts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_pg_foreach_of_unknown_table_asserts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_pg_wrong_param_count_asserts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("interleavings");
	tcase_add_loop_test(tc, test_pg_hardened_webhook_interleavings_pay_at_most_once, 0, 300);
	suite_add_tcase(s, tc);
	return s;
}
