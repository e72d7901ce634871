/* tests/check_pg_live.c - the SQL port on a real PostgreSQL: the catalogue's
 * statements with exact rows and SQLSTATEs, the pool's bounds (53300),
 * release rolling back, statement deadlines on a lock wait, lost and
 * refused connections. Needs FAULTLINE_PG_URL (tests/live_test.sh starts a
 * server); without it only the configuration checks run. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "core/sql.h"
#include "live/pg_live.h"
#include "sim/sched.h"

#define LOOP_PASSES_MAX 100000
#define CELL_MAX 64
#define ROWS_MAX 4
#define COLS_MAX 2

struct fixture {
	struct event_base *base;
	struct sched *s;
	struct pg_live *pl;
	struct sql_port sql;
};

struct got_conn {
	int calls;
	enum outcome oc;
	struct sql_conn *conn;
	char sqlstate[6];
	uint64_t at_us;
	struct sched *s;
};

/* What one exec callback saw, copied out of the borrowed result. */
struct got_rows {
	int calls;
	enum outcome oc;
	bool had_result;
	int nrows, ncols;
	bool isnull[ROWS_MAX][COLS_MAX];
	char cell[ROWS_MAX][COLS_MAX][CELL_MAX];
	long long affected;
	char sqlstate[6];
	char message[256];
	uint64_t at_us;
	struct sched *s;
};

static void on_acquired(void *arg, enum outcome oc, struct sql_conn *conn,
                        const char *sqlstate)
{
	struct got_conn *g = arg;
	g->calls++;
	g->oc = oc;
	g->conn = conn;
	snprintf(g->sqlstate, sizeof g->sqlstate, "%s", sqlstate);
	g->at_us = sched_now_us(g->s);
}

static void on_rows(void *arg, enum outcome oc, const struct sql_result *r)
{
	struct got_rows *g = arg;
	g->calls++;
	g->oc = oc;
	g->at_us = sched_now_us(g->s);
	g->had_result = r != NULL;
	if (r == NULL)
		return;
	g->nrows = r->nrows;
	g->ncols = r->ncols;
	for (int i = 0; i < r->nrows && i < ROWS_MAX; i++) {
		for (int j = 0; j < r->ncols && j < COLS_MAX; j++) {
			const char *v = r->values[i * r->ncols + j];
			g->isnull[i][j] = v == NULL;
			snprintf(g->cell[i][j], CELL_MAX, "%s", v != NULL ? v : "");
		}
	}
	g->affected = r->affected;
	snprintf(g->sqlstate, sizeof g->sqlstate, "%s", r->sqlstate);
	snprintf(g->message, sizeof g->message, "%s", r->message);
}

static void on_guard(void *arg)
{
	*(bool *)arg = true;
}

static void loop_until(struct fixture *f, const int *calls, uint64_t max_us)
{
	bool expired = false;
	struct sched_timer guard = sched_after(f->s, max_us, on_guard, &expired);
	for (int n = 0; n < LOOP_PASSES_MAX && *calls == 0 && !expired; n++)
		event_base_loop(f->base, EVLOOP_ONCE);
	sched_cancel(f->s, guard);
}

static struct pg_live_config config(const char *conninfo, int pool, int queue,
                                    uint64_t acquire_us, uint64_t stmt_us)
{
	return (struct pg_live_config){
		.conninfo = conninfo,
		.pool_size = pool,
		.wait_queue_max = queue,
		.acquire_timeout_us = acquire_us,
		.statement_timeout_us = stmt_us,
		.connect_timeout_us = 2000000,
	};
}

static void fixture_init_cfg(struct fixture *f, const struct pg_live_config *cfg)
{
	char err[256];
	f->base = sched_base_new(SCHED_REAL);
	ck_assert_ptr_nonnull(f->base);
	f->s = sched_create(f->base, SCHED_REAL, NULL);
	ck_assert_ptr_nonnull(f->s);
	f->pl = pg_live_create(f->base, f->s, cfg, err, sizeof err);
	ck_assert_msg(f->pl != NULL, "pg_live_create: %s", err);
	pg_live_port(f->pl, &f->sql);
}

/* A pool on the test server with a clean schema. */
static void fixture_init(struct fixture *f, int pool, int queue,
                         uint64_t acquire_us, uint64_t stmt_us)
{
	const char *url = getenv("FAULTLINE_PG_URL");
	char err[256];
	ck_assert_msg(pg_live_setup_schema(url, err, sizeof err) == RESULT_OK,
	              "schema: %s", err);
	ck_assert_msg(pg_live_truncate(url, err, sizeof err) == RESULT_OK,
	              "truncate: %s", err);
	struct pg_live_config cfg = config(url, pool, queue, acquire_us, stmt_us);
	fixture_init_cfg(f, &cfg);
}

static void fixture_fini(struct fixture *f)
{
	ck_assert_uint_eq(pg_live_pending(f->pl), 0);
	pg_live_destroy(f->pl);
	sched_destroy(f->s);
	event_base_free(f->base);
}

static struct got_conn acquire(struct fixture *f)
{
	struct got_conn g = {.s = f->s};
	f->sql.acquire(f->sql.ctx, on_acquired, &g);
	ck_assert_int_eq(g.calls, 0); /* never before the call returns */
	loop_until(f, &g.calls, 3000000);
	ck_assert_int_eq(g.calls, 1);
	return g;
}

static struct sql_conn *acquire_ok(struct fixture *f)
{
	struct got_conn g = acquire(f);
	ck_assert_int_eq(g.oc, OUTCOME_OK);
	ck_assert_str_eq(g.sqlstate, "00000");
	ck_assert_ptr_nonnull(g.conn);
	return g.conn;
}

static struct got_rows exec2(struct fixture *f, struct sql_conn *c,
                             enum sql_stmt stmt, const char *p1, const char *p2)
{
	const char *params[2] = {p1, p2};
	int n = p1 == NULL ? 0 : p2 == NULL ? 1 : 2;
	struct got_rows g = {.s = f->s};
	f->sql.exec(f->sql.ctx, c, stmt, n, params, on_rows, &g);
	ck_assert_int_eq(g.calls, 0);
	loop_until(f, &g.calls, 3000000);
	ck_assert_int_eq(g.calls, 1);
	return g;
}

/* Runs one statement, expects OUTCOME_OK with nrows rows. */
static struct got_rows exec_ok(struct fixture *f, struct sql_conn *c,
                               enum sql_stmt stmt, const char *p1,
                               const char *p2, int nrows)
{
	struct got_rows g = exec2(f, c, stmt, p1, p2);
	ck_assert_msg(g.oc == OUTCOME_OK, "%s: %s %s", sql_stmt_get(stmt)->name,
	              g.sqlstate, g.message);
	ck_assert_str_eq(g.sqlstate, "00000");
	ck_assert_int_eq(g.nrows, nrows);
	return g;
}

/* A blocking query on a separate connection; returns the first cell. */
static void psql(const char *sql, char *out, size_t outsize)
{
	PGconn *pg = PQconnectdb(getenv("FAULTLINE_PG_URL"));
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	PGresult *res = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(res);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s",
	              sql, PQresultErrorMessage(res));
	if (out != NULL) {
		ck_assert_int_ge(PQntuples(res), 1);
		snprintf(out, outsize, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	PQfinish(pg);
}

START_TEST(test_pg_live_webhook_statements_return_exact_rows)
{
	struct fixture f;
	fixture_init(&f, 2, 4, 1000000, 2000000);
	struct sql_conn *c = acquire_ok(&f);

	struct got_rows g = exec_ok(&f, c, SQL_EVENT_INSERT_NEW, "evt_1",
	                            "payment_intent.succeeded", 1);
	ck_assert_int_eq(g.ncols, 1);
	ck_assert_str_eq(g.cell[0][0], "evt_1");
	ck_assert_int_eq(g.affected, 1);
	g = exec_ok(&f, c, SQL_EVENT_INSERT_NEW, "evt_1",
	            "payment_intent.succeeded", 0);
	ck_assert_int_eq(g.affected, 0);

	g = exec_ok(&f, c, SQL_EVENT_SELECT, "evt_1", NULL, 1);
	ck_assert(g.isnull[0][0]); /* not processed yet */
	ck_assert_int_eq(g.affected, 0); /* a SELECT changes no row (core/sql.h) */
	g = exec_ok(&f, c, SQL_EVENT_FIRST_SEEN, "evt_1", NULL, 1);
	ck_assert(!g.isnull[0][0]);
	ck_assert_int_gt(atoll(g.cell[0][0]), 1600000000);
	g = exec_ok(&f, c, SQL_EVENT_MARK_PROCESSED, "evt_1", NULL, 0);
	ck_assert_int_eq(g.affected, 1);
	g = exec_ok(&f, c, SQL_EVENT_SELECT, "evt_1", NULL, 1);
	ck_assert(!g.isnull[0][0]);
	exec_ok(&f, c, SQL_EVENT_SELECT, "evt_missing", NULL, 0);

	g = exec_ok(&f, c, SQL_EVENT_UPSERT, "evt_2", "charge.refunded", 0);
	ck_assert_int_eq(g.affected, 1);
	g = exec_ok(&f, c, SQL_EVENT_UPSERT, "evt_2", "charge.refunded", 0);
	ck_assert_int_eq(g.affected, 1); /* touched, not inserted */
	f.sql.release(f.sql.ctx, c);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_customer_insert_twice_is_23505)
{
	struct fixture f;
	fixture_init(&f, 1, 4, 1000000, 2000000);
	struct sql_conn *c = acquire_ok(&f);
	struct got_rows g = exec_ok(&f, c, SQL_CUSTOMER_INSERT, "user_1",
	                            "cus_A", 0);
	ck_assert_int_eq(g.affected, 1);
	g = exec2(&f, c, SQL_CUSTOMER_INSERT, "user_1", "cus_B");
	ck_assert_int_eq(g.oc, OUTCOME_ERROR);
	ck_assert(g.had_result);
	ck_assert_str_eq(g.sqlstate, SQLSTATE_UNIQUE_VIOLATION);
	ck_assert_ptr_nonnull(strstr(g.message, "duplicate key"));
	g = exec_ok(&f, c, SQL_CUSTOMER_SELECT, "user_1", NULL, 1);
	ck_assert_str_eq(g.cell[0][0], "cus_A");
	exec_ok(&f, c, SQL_CUSTOMER_SELECT, "user_2", NULL, 0);
	f.sql.release(f.sql.ctx, c);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_order_and_quote_statements_return_exact_rows)
{
	struct fixture f;
	fixture_init(&f, 1, 4, 1000000, 2000000);
	psql("INSERT INTO orders (order_id, payment_intent_id) "
	     "VALUES ('ord_1', 'pi_1')", NULL, 0);
	struct sql_conn *c = acquire_ok(&f);

	struct got_rows g = exec_ok(&f, c, SQL_ORDER_MARK_PAID_IF_PENDING,
	                            "pi_1", NULL, 1);
	ck_assert_str_eq(g.cell[0][0], "ord_1");
	exec_ok(&f, c, SQL_ORDER_MARK_PAID_IF_PENDING, "pi_1", NULL, 0);
	g = exec_ok(&f, c, SQL_ORDER_MARK_PAID, "pi_1", NULL, 1);
	ck_assert_str_eq(g.cell[0][0], "ord_1");
	char paid[16];
	psql("SELECT paid_count FROM orders WHERE order_id = 'ord_1'", paid,
	     sizeof paid);
	ck_assert_str_eq(paid, "2");

	g = exec_ok(&f, c, SQL_PAYMENT_EFFECT_INSERT, "evt_9", "ord_1", 0);
	ck_assert_int_eq(g.affected, 1);
	g = exec2(&f, c, SQL_PAYMENT_EFFECT_INSERT, "evt_9", "ord_1");
	ck_assert_int_eq(g.oc, OUTCOME_ERROR);
	ck_assert_str_eq(g.sqlstate, "23505");

	g = exec_ok(&f, c, SQL_QUOTE_CLAIM, "Q-7", "tok-a", 1);
	ck_assert_str_eq(g.cell[0][0], "Q-7");
	exec_ok(&f, c, SQL_QUOTE_CLAIM, "Q-7", "tok-b", 0);
	g = exec_ok(&f, c, SQL_QUOTE_SENT_SELECT, "Q-7", NULL, 1);
	ck_assert_str_eq(g.cell[0][0], ""); /* NULL: claimed, not sent */
	g = exec_ok(&f, c, SQL_QUOTE_RELEASE, "Q-7", "tok-b", 0);
	ck_assert_int_eq(g.affected, 0); /* not b's claim */
	g = exec_ok(&f, c, SQL_QUOTE_RELEASE, "Q-7", "tok-a", 0);
	ck_assert_int_eq(g.affected, 1);
	exec_ok(&f, c, SQL_QUOTE_CLAIM, "Q-7", "tok-c", 1);
	g = exec_ok(&f, c, SQL_QUOTE_MARK_SENT, "Q-7", "tok-c", 0);
	ck_assert_int_eq(g.affected, 1);
	g = exec_ok(&f, c, SQL_QUOTE_SENT_SELECT, "Q-7", NULL, 1);
	ck_assert_str_ne(g.cell[0][0], "");
	f.sql.release(f.sql.ctx, c);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_commit_keeps_and_release_rolls_back)
{
	struct fixture f;
	fixture_init(&f, 1, 4, 1000000, 2000000);
	struct sql_conn *c = acquire_ok(&f);
	exec_ok(&f, c, SQL_BEGIN, NULL, NULL, 0);
	exec_ok(&f, c, SQL_CUSTOMER_INSERT, "user_kept", "cus_K", 0);
	exec_ok(&f, c, SQL_COMMIT, NULL, NULL, 0);
	exec_ok(&f, c, SQL_BEGIN, NULL, NULL, 0);
	exec_ok(&f, c, SQL_CUSTOMER_INSERT, "user_open", "cus_O", 0);
	f.sql.release(f.sql.ctx, c); /* inside the transaction */

	struct sql_conn *again = acquire_ok(&f);
	ck_assert_ptr_eq(again, c); /* same slot, after its ROLLBACK */
	ck_assert_uint_eq(pg_live_connects(f.pl), 1);
	exec_ok(&f, again, SQL_CUSTOMER_SELECT, "user_open", NULL, 0);
	struct got_rows g = exec_ok(&f, again, SQL_CUSTOMER_SELECT, "user_kept",
	                            NULL, 1);
	ck_assert_str_eq(g.cell[0][0], "cus_K");
	f.sql.release(f.sql.ctx, again);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_pool_exhaustion_is_53300)
{
	struct fixture f;
	/* The deadline also covers opening the first connection: generous
	 * enough for a loaded machine. */
	fixture_init(&f, 1, 1, 500000, 2000000);
	struct sql_conn *held = acquire_ok(&f);

	struct got_conn waiting = {.s = f.s}, refused = {.s = f.s};
	uint64_t t0 = sched_now_us(f.s);
	f.sql.acquire(f.sql.ctx, on_acquired, &waiting);
	f.sql.acquire(f.sql.ctx, on_acquired, &refused); /* queue full */
	ck_assert_int_eq(refused.calls, 0);
	loop_until(&f, &refused.calls, 1000000);
	ck_assert_int_eq(refused.oc, OUTCOME_ERROR);
	ck_assert_str_eq(refused.sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS);
	ck_assert_uint_lt(refused.at_us - t0, 400000);
	ck_assert_int_eq(waiting.calls, 0);

	loop_until(&f, &waiting.calls, 1000000);
	ck_assert_int_eq(waiting.oc, OUTCOME_ERROR);
	ck_assert_str_eq(waiting.sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS);
	ck_assert_ptr_null(waiting.conn);
	ck_assert_uint_ge(waiting.at_us - t0, 500000);

	f.sql.release(f.sql.ctx, held);
	struct sql_conn *next = acquire_ok(&f);
	ck_assert_ptr_eq(next, held);
	ck_assert_uint_eq(pg_live_connects(f.pl), 1);
	f.sql.release(f.sql.ctx, next);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_waiter_gets_released_connection)
{
	struct fixture f;
	fixture_init(&f, 1, 2, 2000000, 2000000);
	struct sql_conn *held = acquire_ok(&f);
	struct got_conn waiting = {.s = f.s};
	f.sql.acquire(f.sql.ctx, on_acquired, &waiting);
	struct got_rows g = exec_ok(&f, held, SQL_QUOTE_CLAIM, "Q-1", "tok", 1);
	(void)g;
	ck_assert_int_eq(waiting.calls, 0);
	f.sql.release(f.sql.ctx, held);
	ck_assert_int_eq(waiting.calls, 0); /* release never calls back */
	loop_until(&f, &waiting.calls, 1000000);
	ck_assert_int_eq(waiting.oc, OUTCOME_OK);
	ck_assert_ptr_eq(waiting.conn, held);
	f.sql.release(f.sql.ctx, waiting.conn);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_lock_wait_past_deadline_times_out_and_breaks)
{
	struct fixture f;
	fixture_init(&f, 2, 2, 2000000, 300000);
	struct sql_conn *a = acquire_ok(&f);
	struct sql_conn *b = acquire_ok(&f);
	ck_assert_ptr_ne(a, b);
	exec_ok(&f, a, SQL_BEGIN, NULL, NULL, 0);
	exec_ok(&f, a, SQL_CUSTOMER_INSERT, "user_lock", "cus_L1", 0);

	/* b's insert of the same key waits on a's open transaction. */
	uint64_t t0 = sched_now_us(f.s);
	struct got_rows g = exec2(&f, b, SQL_CUSTOMER_INSERT, "user_lock",
	                          "cus_L2");
	ck_assert_int_eq(g.oc, OUTCOME_TIMEOUT);
	ck_assert(!g.had_result);
	ck_assert_uint_ge(g.at_us - t0, 300000);
	ck_assert_uint_lt(g.at_us - t0, 2000000);

	/* b is broken now: its next statement fails without being sent. */
	g = exec2(&f, b, SQL_CUSTOMER_SELECT, "user_lock", NULL);
	ck_assert_int_eq(g.oc, OUTCOME_CONN_LOST);
	ck_assert_str_eq(g.sqlstate, SQLSTATE_CONNECTION_FAILURE);
	f.sql.release(f.sql.ctx, b);

	exec_ok(&f, a, SQL_COMMIT, NULL, NULL, 0);
	f.sql.release(f.sql.ctx, a);
	/* b's slot reopens: two connections can be held again. */
	struct sql_conn *c1 = acquire_ok(&f);
	struct sql_conn *c2 = acquire_ok(&f);
	g = exec_ok(&f, c2, SQL_CUSTOMER_SELECT, "user_lock", NULL, 1);
	ck_assert_str_eq(g.cell[0][0], "cus_L1");
	ck_assert_uint_eq(pg_live_connects(f.pl), 3);
	f.sql.release(f.sql.ctx, c1);
	f.sql.release(f.sql.ctx, c2);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_terminated_backend_is_conn_lost)
{
	struct fixture f;
	fixture_init(&f, 1, 2, 1000000, 2000000);
	struct sql_conn *c = acquire_ok(&f);
	exec_ok(&f, c, SQL_CUSTOMER_SELECT, "nobody", NULL, 0);
	char n[16];
	psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	     "WHERE datname = 'faultline' AND pid <> pg_backend_pid() "
	     "AND backend_type = 'client backend'", n, sizeof n);
	/* Ours at least; on a loaded machine the backend of the previous
	 * test's connection may still be on its way out and count too. */
	ck_assert_int_ge(atoi(n), 1);
	struct got_rows g = exec2(&f, c, SQL_CUSTOMER_SELECT, "nobody", NULL);
	ck_assert_int_eq(g.oc, OUTCOME_CONN_LOST);
	ck_assert_msg(strcmp(g.sqlstate, SQLSTATE_ADMIN_SHUTDOWN) == 0 ||
	              strcmp(g.sqlstate, SQLSTATE_CONNECTION_FAILURE) == 0,
	              "sqlstate %s", g.sqlstate);
	f.sql.release(f.sql.ctx, c);
	struct sql_conn *again = acquire_ok(&f);
	exec_ok(&f, again, SQL_CUSTOMER_SELECT, "nobody", NULL, 0);
	ck_assert_uint_eq(pg_live_connects(f.pl), 2);
	f.sql.release(f.sql.ctx, again);
	fixture_fini(&f);
}
END_TEST

/* A loopback port with nothing listening on it. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(test_pg_live_refused_connection_is_conn_lost_08006)
{
	char conninfo[128];
	snprintf(conninfo, sizeof conninfo,
	         "host=127.0.0.1 port=%d dbname=x user=x", closed_port());
	struct pg_live_config cfg = config(conninfo, 1, 2, 1000000, 1000000);
	struct fixture f;
	fixture_init_cfg(&f, &cfg);
	struct got_conn g = acquire(&f);
	ck_assert_int_eq(g.oc, OUTCOME_CONN_LOST);
	ck_assert_str_eq(g.sqlstate, SQLSTATE_CONNECTION_FAILURE);
	ck_assert_ptr_null(g.conn);
	ck_assert_uint_lt(g.at_us, 900000); /* refused, not timed out */
	fixture_fini(&f);
}
END_TEST

START_TEST(test_pg_live_rejects_bad_config)
{
	struct event_base *base = sched_base_new(SCHED_REAL);
	struct sched *s = sched_create(base, SCHED_REAL, NULL);
	char err[256] = "";
	struct pg_live_config cfg = config("host=127.0.0.1", 0, 1, 1, 1);
	ck_assert_ptr_null(pg_live_create(base, s, &cfg, err, sizeof err));
	ck_assert_str_eq(err, "PostgreSQL pool size or wait queue out of range");
	cfg = config("host=127.0.0.1", 1, 1, 0, 1);
	ck_assert_ptr_null(pg_live_create(base, s, &cfg, err, sizeof err));
	ck_assert_str_eq(err, "PostgreSQL timeouts must be positive");
	cfg = config("nonsense", 1, 1, 1, 1);
	ck_assert_ptr_null(pg_live_create(base, s, &cfg, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "bad PostgreSQL connection string"));
	pg_live_destroy(NULL);
	sched_destroy(s);
	event_base_free(base);
}
END_TEST

Suite *check_pg_live_suite(void);
Suite *check_pg_live_suite(void)
{
	Suite *s = suite_create("pg_live");
	TCase *cfg = tcase_create("config");
	tcase_add_test(cfg, test_pg_live_rejects_bad_config);
	suite_add_tcase(s, cfg);
	const char *only = getenv("CK_RUN_SUITE");
	if (getenv("FAULTLINE_PG_URL") == NULL) {
		if (only == NULL || strcmp(only, "pg_live") == 0)
			printf("pg_live: server tests skipped, FAULTLINE_PG_URL is "
			       "not set (tests/live_test.sh runs them)\n");
		return s;
	}
	TCase *tc = tcase_create("catalogue");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_pg_live_webhook_statements_return_exact_rows);
	tcase_add_test(tc, test_pg_live_customer_insert_twice_is_23505);
	tcase_add_test(tc, test_pg_live_order_and_quote_statements_return_exact_rows);
	tcase_add_test(tc, test_pg_live_commit_keeps_and_release_rolls_back);
	suite_add_tcase(s, tc);

	TCase *pool = tcase_create("pool");
	tcase_set_timeout(pool, 10);
	tcase_add_test(pool, test_pg_live_pool_exhaustion_is_53300);
	tcase_add_test(pool, test_pg_live_waiter_gets_released_connection);
	suite_add_tcase(s, pool);

	TCase *faults = tcase_create("faults");
	tcase_set_timeout(faults, 10);
	tcase_add_test(faults, test_pg_live_lock_wait_past_deadline_times_out_and_breaks);
	tcase_add_test(faults, test_pg_live_terminated_backend_is_conn_lost);
	tcase_add_test(faults, test_pg_live_refused_connection_is_conn_lost_08006);
	suite_add_tcase(s, faults);
	return s;
}
