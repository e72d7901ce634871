/* sim/models/pg_model.c - the PostgreSQL model: rows with one committed and
 * at most one uncommitted version, hash indexes on the unique keys, sessions
 * with READ COMMITTED transactions, a wait-for graph for deadlocks.
 * Each catalogue statement is implemented by its id, after its PostgreSQL
 * text in core/sql.c; there is no SQL parser here. */
#include "sim/models/pg_model.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/fmt.h"

#define PG_COLS_MAX 4          /* columns in the widest table */
#define PG_KEYS_MAX 2          /* unique constraints on one table */
#define PG_NO_SESSION UINT32_MAX
#define PG_BUCKETS_MIN 64u     /* hash buckets of an empty table */
#define PG_COMPACT_MIN 1024u   /* dead rows before a table is worth compacting */
#define PG_TIME_TEXT_MAX 24u   /* decimal uint64 and its NUL */

enum pg_table_id {
	PG_TABLE_EVENTS,
	PG_TABLE_ORDERS,
	PG_TABLE_PAYMENTS,
	PG_TABLE_CUSTOMERS,
	PG_TABLE_QUOTES,
	PG_TABLE_COUNT
};

/* One table of SQL_SCHEMA. Constraint names are the ones PostgreSQL derives
 * (table_pkey, table_column_key), so messages match a real server's. */
struct pg_table_def {
	const char *name;
	int ncols;
	const char *cols[PG_COLS_MAX];
	bool not_null[PG_COLS_MAX];
	int nkeys;
	int key_col[PG_KEYS_MAX];          /* in the order PG checks them */
	const char *key_name[PG_KEYS_MAX];
};

static const struct pg_table_def pg_table_defs[PG_TABLE_COUNT] = {
	[PG_TABLE_EVENTS] = {"stripe_events", 4,
		{"event_id", "event_type", "first_seen_at", "processed_at"},
		{true, true, true, false}, 1, {0}, {"stripe_events_pkey"}},
	[PG_TABLE_ORDERS] = {"orders", 4,
		{"order_id", "payment_intent_id", "status", "paid_count"},
		{true, true, true, true}, 2, {0, 1},
		{"orders_pkey", "orders_payment_intent_id_key"}},
	[PG_TABLE_PAYMENTS] = {"order_payments", 2, {"event_id", "order_id"},
		{true, true}, 1, {0}, {"order_payments_pkey"}},
	[PG_TABLE_CUSTOMERS] = {"stripe_customers", 2, {"user_id", "customer_id"},
		{true, true}, 2, {0, 1},
		{"stripe_customers_pkey", "stripe_customers_customer_id_key"}},
	[PG_TABLE_QUOTES] = {"quote_emails", 3, {"quote_ref", "sent_at", "claim_token"},
		{true, false, false}, 1, {0}, {"quote_emails_pkey"}},
};

/* Column numbers the statements use. */
enum {
	EV_ID = 0, EV_TYPE = 1, EV_FIRST_SEEN = 2, EV_PROCESSED = 3,
	ORD_ID = 0, ORD_PI = 1, ORD_STATUS = 2, ORD_PAID_COUNT = 3,
	QE_REF = 0, QE_SENT_AT = 1, QE_TOKEN = 2,
};

struct pg_version {
	bool exists;                /* false: not inserted yet, or deleted */
	char *val[PG_COLS_MAX];     /* owned; NULL is SQL NULL */
};

/* A row. Writers block each other, so besides the committed version there is
 * at most one uncommitted one, owned by the locker's open transaction. */
struct pg_row {
	uint64_t id;                       /* increasing in insertion order */
	enum pg_table_id table;
	char *key[PG_KEYS_MAX];            /* unique key values, owned; no
	                                    * statement changes a key */
	struct pg_version committed;       /* what other transactions see */
	struct pg_version pending;         /* the locker's version */
	uint32_t locker;                   /* session whose open transaction
	                                    * inserted, updated or deleted the
	                                    * row, or PG_NO_SESSION */
	struct pg_row *hnext[PG_KEYS_MAX]; /* hash chains, one per key */
};

struct pg_table {
	const struct pg_table_def *def;
	struct pg_row **rows;              /* insertion order */
	uint32_t nrows, cap;               /* slots used, allocated */
	uint32_t ndead;                    /* slots with no version left */
	struct pg_row **buckets[PG_KEYS_MAX];
	uint32_t nbuckets;                 /* power of two, shared by the keys */
};

/* The statement a session waits with. */
struct pg_blocked {
	bool active;
	bool woken;                        /* the holder ended; resume may run */
	uint32_t waits_for;                /* holder session while !woken */
	enum sql_stmt stmt;
	int nparams;
	char *params[SQL_PARAMS_MAX];      /* owned copies */
	uint64_t target_row;               /* UPDATE/DELETE: row id chosen at
	                                    * statement start, 0 before */
};

struct pg_session {
	bool open;
	bool in_block;                     /* between BEGIN and COMMIT/ROLLBACK */
	bool aborted;                      /* in_block, and an error rolled the
	                                    * transaction back */
	bool in_txn;                       /* a transaction (explicit or the
	                                    * implicit one of a statement) is open */
	bool commit_rolled_back;           /* last statement: COMMIT -> ROLLBACK */
	uint64_t txn_start_us;             /* now() of the transaction */
	struct pg_row *changed[PG_MODEL_TXN_ROWS_MAX]; /* rows it locks */
	uint32_t nchanged;
	struct pg_blocked blocked;
	/* The last statement's answer. */
	int res_nrows, res_ncols;
	long long res_affected;
	char *cells[PG_MODEL_RESULT_CELLS_MAX];        /* owned copies */
	const char *values[PG_MODEL_RESULT_CELLS_MAX];
	char sqlstate[6];
	char message[PG_MODEL_MESSAGE_MAX];
};

struct pg_model {
	uint32_t max_sessions;
	uint32_t nopen;
	/* Sessions are made on first use, lowest index first: a run opens a
	 * handful, and making all max_sessions at creation cost more than the
	 * rest of a short seed. [0, nsessions) exist. */
	struct pg_session **sessions;      /* max_sessions pointers */
	uint32_t nsessions;
	struct pg_table tables[PG_TABLE_COUNT];
	uint32_t rows_max;                 /* row slots per table */
	uint64_t next_row_id;
	uint64_t statements;
	pg_model_wake_fn *wake;
	void *wake_arg;
};

/* Outcome of running one statement inside its transaction. */
enum pg_run { PG_RUN_DONE, PG_RUN_WAIT, PG_RUN_FAIL };

/* One execution (or resumption) of a statement. */
struct pg_ctx {
	struct pg_model *m;
	struct pg_session *s;
	uint32_t sid;
	enum sql_stmt stmt;
	const char *const *params;
	uint64_t target_row;               /* in and out, see pg_blocked */
	uint32_t wait_for;                 /* out, on PG_RUN_WAIT */
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t pg_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void version_free(struct pg_version *v)
{
	for (int i = 0; i < PG_COLS_MAX; i++)
		free(v->val[i]);
	memset(v, 0, sizeof *v);
}

/* Sets column col of v to a copy of text (NULL: SQL NULL). */
static bool version_set(struct pg_version *v, int col, const char *text)
{
	ASSERT(col >= 0 && col < PG_COLS_MAX);
	char *copy = NULL;
	if (text != NULL) {
		copy = strdup(text);
		if (copy == NULL)
			return false;
	}
	free(v->val[col]);
	v->val[col] = copy;
	return true;
}

static bool version_copy(struct pg_version *dst, const struct pg_version *src)
{
	struct pg_version tmp = {.exists = src->exists};
	for (int i = 0; i < PG_COLS_MAX; i++) {
		if (!version_set(&tmp, i, src->val[i])) {
			version_free(&tmp);
			return false;
		}
	}
	*dst = tmp;
	return true;
}

static void row_free(struct pg_row *r)
{
	if (r == NULL)
		return;
	version_free(&r->committed);
	version_free(&r->pending);
	for (int k = 0; k < PG_KEYS_MAX; k++)
		free(r->key[k]);
	free(r);
}

/* The version session sid sees: its own change, else the committed one. */
static const struct pg_version *row_visible(const struct pg_row *r, uint32_t sid)
{
	bool own = r->locker != PG_NO_SESSION && r->locker == sid;
	return own ? &r->pending : &r->committed;
}

static bool row_is_dead(const struct pg_row *r)
{
	return r->locker == PG_NO_SESSION && !r->committed.exists;
}

static void time_text(uint64_t us, char buf[PG_TIME_TEXT_MAX])
{
	struct fmt f;
	fmt_init(&f, buf, PG_TIME_TEXT_MAX);
	fmt_u64(&f, us);
	ASSERT(!f.cut);
}

/* ---- tables and their unique indexes ---------------------------------- */

static void table_link(struct pg_table *t, struct pg_row *r)
{
	for (int k = 0; k < t->def->nkeys; k++) {
		uint32_t b = (uint32_t)(pg_hash(r->key[k]) & (t->nbuckets - 1));
		r->hnext[k] = t->buckets[k][b];
		t->buckets[k][b] = r;
	}
}

static void table_relink_all(struct pg_table *t)
{
	for (int k = 0; k < t->def->nkeys; k++)
		memset(t->buckets[k], 0, (size_t)t->nbuckets * sizeof t->buckets[k][0]);
	for (uint32_t i = 0; i < t->nrows; i++)
		table_link(t, t->rows[i]);
}

static bool table_init(struct pg_table *t, const struct pg_table_def *def)
{
	memset(t, 0, sizeof *t);
	t->def = def;
	t->nbuckets = PG_BUCKETS_MIN;
	for (int k = 0; k < def->nkeys; k++) {
		t->buckets[k] = calloc(t->nbuckets, sizeof t->buckets[k][0]);
		if (t->buckets[k] == NULL)
			return false;
	}
	return true;
}

static void table_fini(struct pg_table *t)
{
	for (uint32_t i = 0; i < t->nrows; i++)
		row_free(t->rows[i]);
	free(t->rows);
	for (int k = 0; k < PG_KEYS_MAX; k++)
		free(t->buckets[k]);
	memset(t, 0, sizeof *t);
}

/* Frees the rows no version is left of, keeping insertion order. A blocked
 * statement that still names one by id finds it gone, which is what a
 * deleted row means to it anyway. */
static void table_compact(struct pg_table *t)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < t->nrows; i++) {
		struct pg_row *r = t->rows[i];
		if (row_is_dead(r))
			row_free(r);
		else
			t->rows[kept++] = r;
	}
	t->nrows = kept;
	t->ndead = 0;
	table_relink_all(t);
}

/* Room for one more row slot: grows the arrays, doubling, up to rows_max. */
static bool table_reserve(struct pg_table *t, uint32_t rows_max)
{
	ASSERT(t->nrows < rows_max);
	if (t->nrows == t->cap) {
		uint32_t cap = t->cap == 0 ? 64 : t->cap * 2;
		if (cap > PG_MODEL_ROWS_MAX)
			cap = PG_MODEL_ROWS_MAX;
		struct pg_row **rows = realloc(t->rows, (size_t)cap * sizeof *rows);
		if (rows == NULL)
			return false;
		t->rows = rows;
		t->cap = cap;
	}
	if (t->nrows + 1 > t->nbuckets) {
		/* Load factor at most one keeps the chains short. */
		uint32_t n = t->nbuckets * 2;
		struct pg_row **nb[PG_KEYS_MAX] = {NULL, NULL};
		for (int k = 0; k < t->def->nkeys; k++) {
			nb[k] = calloc(n, sizeof nb[k][0]);
			if (nb[k] == NULL) {
				for (int j = 0; j < k; j++)
					free(nb[j]);
				return false;
			}
		}
		for (int k = 0; k < t->def->nkeys; k++) {
			free(t->buckets[k]);
			t->buckets[k] = nb[k];
		}
		t->nbuckets = n;
		table_relink_all(t);
	}
	return true;
}

/* Binary search: ids grow with the slot index. */
static struct pg_row *table_find_id(const struct pg_table *t, uint64_t id)
{
	uint32_t lo = 0, hi = t->nrows;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->rows[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->nrows && t->rows[lo]->id == id ? t->rows[lo] : NULL;
}

/* The row with key value key in unique key k that session sid sees, or
 * NULL. A key never has two visible rows. */
static struct pg_row *table_find_visible(const struct pg_table *t, int k, const char *key,
                                         uint32_t sid)
{
	if (key == NULL)
		return NULL; /* "col = NULL" matches nothing */
	uint32_t b = (uint32_t)(pg_hash(key) & (t->nbuckets - 1));
	uint32_t hops = 0;
	for (struct pg_row *r = t->buckets[k][b]; r != NULL; r = r->hnext[k]) {
		ASSERT(hops++ < t->nrows);
		if (strcmp(r->key[k], key) == 0 && row_visible(r, sid)->exists)
			return r;
	}
	return NULL;
}

enum pg_probe {
	PG_KEY_FREE,  /* no row holds the key */
	PG_KEY_LIVE,  /* a committed row, or one of sid's own, holds it */
	PG_KEY_HELD,  /* another open transaction inserted, updated or deleted a
	               * row with this key: its outcome decides */
};

/* What a unique check of key value key in key k finds for session sid, as
 * PostgreSQL's check with a dirty snapshot: rows of open transactions count,
 * so the inserter must wait for them. */
static enum pg_probe table_probe_key(const struct pg_table *t, int k, const char *key,
                                     uint32_t sid, struct pg_row **row)
{
	ASSERT(key != NULL);
	uint32_t b = (uint32_t)(pg_hash(key) & (t->nbuckets - 1));
	uint32_t hops = 0;
	for (struct pg_row *r = t->buckets[k][b]; r != NULL; r = r->hnext[k]) {
		ASSERT(hops++ < t->nrows);
		if (strcmp(r->key[k], key) != 0)
			continue;
		if (r->locker != PG_NO_SESSION && r->locker != sid) {
			*row = r;
			return PG_KEY_HELD;
		}
		if (row_visible(r, sid)->exists) {
			*row = r;
			return PG_KEY_LIVE;
		}
	}
	return PG_KEY_FREE;
}

/* A new row slot with the values vals in version *into (committed or
 * pending). Returns NULL when out of memory. The caller checked rows_max. */
static struct pg_row *table_add_row(struct pg_model *m, enum pg_table_id tid,
                                    const char *const *vals, bool committed)
{
	struct pg_table *t = &m->tables[tid];
	if (!table_reserve(t, m->rows_max))
		return NULL;
	struct pg_row *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->table = tid;
	r->locker = PG_NO_SESSION;
	struct pg_version *v = committed ? &r->committed : &r->pending;
	v->exists = true;
	for (int c = 0; c < t->def->ncols; c++) {
		if (!version_set(v, c, vals[c]))
			goto fail_row;
	}
	for (int k = 0; k < t->def->nkeys; k++) {
		r->key[k] = strdup(vals[t->def->key_col[k]]);
		if (r->key[k] == NULL)
			goto fail_row;
	}
	r->id = ++m->next_row_id;
	t->rows[t->nrows++] = r;
	table_link(t, r);
	return r;

fail_row:
	row_free(r);
	return NULL;
}

/* True when one more row fits in table tid, after dead rows are freed. */
static bool table_has_room(struct pg_model *m, enum pg_table_id tid)
{
	struct pg_table *t = &m->tables[tid];
	if (t->nrows < m->rows_max)
		return true;
	if (t->ndead > 0)
		table_compact(t);
	return t->nrows < m->rows_max;
}

static enum pg_table_id table_by_name(const char *name)
{
	for (int i = 0; i < PG_TABLE_COUNT; i++) {
		if (strcmp(pg_table_defs[i].name, name) == 0)
			return (enum pg_table_id)i;
	}
	ASSERT(!"pg_model: unknown table name");
	return PG_TABLE_COUNT;
}

/* ---- sessions and transactions ---------------------------------------- */

static struct pg_session *session_get(const struct pg_model *m, uint32_t sid)
{
	ASSERT(m != NULL);
	ASSERT(sid < m->nsessions);
	struct pg_session *s = m->sessions[sid];
	ASSERT(s->open);
	return s;
}

static void result_reset(struct pg_session *s)
{
	for (unsigned i = 0; i < PG_MODEL_RESULT_CELLS_MAX; i++) {
		free(s->cells[i]);
		s->cells[i] = NULL;
		s->values[i] = NULL;
	}
	s->res_nrows = 0;
	s->res_ncols = 0;
	s->res_affected = 0;
	memcpy(s->sqlstate, "00000", 6);
	s->message[0] = '\0';
}

static void result_fill(struct pg_session *s, struct sql_result *out)
{
	int ncells = s->res_nrows * s->res_ncols;
	ASSERT(ncells >= 0 && (unsigned)ncells <= PG_MODEL_RESULT_CELLS_MAX);
	for (int i = 0; i < ncells; i++)
		s->values[i] = s->cells[i];
	out->nrows = s->res_nrows;
	out->ncols = s->res_ncols;
	out->values = s->values;
	out->affected = s->res_affected;
	memcpy(out->sqlstate, s->sqlstate, sizeof out->sqlstate);
	out->message = s->message;
}

static enum pg_run ctx_fail(struct pg_ctx *c, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The statement fails with sqlstate: no rows, no count. */
static enum pg_run ctx_fail(struct pg_ctx *c, const char *sqlstate, const char *fmt, ...)
{
	ASSERT(strlen(sqlstate) == 5);
	result_reset(c->s);
	memcpy(c->s->sqlstate, sqlstate, 6);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->s->message, sizeof c->s->message, fmt, ap);
	va_end(ap);
	return PG_RUN_FAIL;
}

static enum pg_run ctx_out_of_memory(struct pg_ctx *c)
{
	return ctx_fail(c, "53200", "out of memory");
}

/* Appends a one-column row holding a copy of text (NULL: SQL NULL). */
static enum pg_run ctx_add_row(struct pg_ctx *c, const char *text)
{
	struct pg_session *s = c->s;
	ASSERT(s->res_ncols == 0 || s->res_ncols == 1);
	ASSERT((unsigned)s->res_nrows < PG_MODEL_RESULT_CELLS_MAX);
	char *copy = NULL;
	if (text != NULL && (copy = strdup(text)) == NULL)
		return ctx_out_of_memory(c);
	s->cells[s->res_nrows++] = copy;
	s->res_ncols = 1;
	return PG_RUN_DONE;
}

/* The holder's transaction ended: every statement waiting for it may go on. */
static void sessions_wake_waiters(struct pg_model *m, uint32_t holder)
{
	for (uint32_t i = 0; i < m->nsessions; i++) {
		struct pg_session *w = m->sessions[i];
		if (!w->open || !w->blocked.active || w->blocked.woken ||
		    w->blocked.waits_for != holder)
			continue;
		w->blocked.woken = true;
		w->blocked.waits_for = PG_NO_SESSION;
		if (m->wake != NULL)
			m->wake(m->wake_arg, i);
	}
}

/* Ends session sid's open transaction: its versions become the committed
 * ones (commit) or vanish (rollback); its locks go; its waiters wake. */
static void txn_end(struct pg_model *m, uint32_t sid, bool commit)
{
	ASSERT(sid < m->nsessions);
	struct pg_session *s = m->sessions[sid];
	ASSERT(s->in_txn);
	for (uint32_t i = 0; i < s->nchanged; i++) {
		struct pg_row *r = s->changed[i];
		ASSERT(r->locker == sid);
		if (commit) {
			version_free(&r->committed);
			r->committed = r->pending;
			memset(&r->pending, 0, sizeof r->pending);
		} else {
			version_free(&r->pending);
		}
		r->locker = PG_NO_SESSION;
		if (!r->committed.exists)
			m->tables[r->table].ndead++;
	}
	s->nchanged = 0;
	s->in_txn = false;
	for (int i = 0; i < PG_TABLE_COUNT; i++) {
		struct pg_table *t = &m->tables[i];
		if (t->ndead >= PG_COMPACT_MIN && t->ndead * 2 >= t->nrows)
			table_compact(t);
	}
	sessions_wake_waiters(m, sid);
}

/* Session c->sid must wait for holder's transaction to end, unless that wait
 * would close a cycle of waits: then this waiter, the one closing it, fails
 * with 40P01 (PG detects it after deadlock_timeout and also aborts one
 * waiter; here the choice is immediate and deterministic). */
static enum pg_run ctx_wait(struct pg_ctx *c, uint32_t holder)
{
	struct pg_model *m = c->m;
	ASSERT(holder != c->sid);
	ASSERT(holder < m->nsessions);
	uint32_t x = holder;
	for (uint32_t hops = 0;; hops++) {
		ASSERT(hops <= m->max_sessions); /* no cycle exists yet */
		if (x == c->sid)
			return ctx_fail(c, SQLSTATE_DEADLOCK, "deadlock detected");
		ASSERT(x < m->nsessions);
		const struct pg_session *h = m->sessions[x];
		if (!h->blocked.active || h->blocked.woken)
			break;
		x = h->blocked.waits_for;
	}
	c->wait_for = holder;
	return PG_RUN_WAIT;
}

/* Makes row r part of c's transaction: r gets an uncommitted version, a copy
 * of the committed one, locked by c->sid. */
static enum pg_run ctx_lock_row(struct pg_ctx *c, struct pg_row *r)
{
	if (r->locker == c->sid)
		return PG_RUN_DONE;
	ASSERT(r->locker == PG_NO_SESSION);
	if (c->s->nchanged == PG_MODEL_TXN_ROWS_MAX)
		return ctx_fail(c, "53200",
		                "out of memory: more than %u rows changed in one transaction "
		                "(model limit)", PG_MODEL_TXN_ROWS_MAX);
	if (!version_copy(&r->pending, &r->committed))
		return ctx_out_of_memory(c);
	r->locker = c->sid;
	c->s->changed[c->s->nchanged++] = r;
	return PG_RUN_DONE;
}

/* ---- statements ------------------------------------------------------- */

/* SELECT col FROM table WHERE key = $1, on what c's session sees. epoch:
 * the column is a timestamp read as extract(epoch FROM col)::bigint, whose
 * cast from numeric rounds half away from zero. */
static enum pg_run run_select(struct pg_ctx *c, enum pg_table_id tid, int col, bool epoch)
{
	const struct pg_row *r =
		table_find_visible(&c->m->tables[tid], 0, c->params[0], c->sid);
	c->s->res_ncols = 1;
	if (r == NULL)
		return PG_RUN_DONE;
	const char *v = row_visible(r, c->sid)->val[col];
	if (!epoch || v == NULL)
		return ctx_add_row(c, v);
	char buf[PG_TIME_TEXT_MAX];
	uint64_t us = strtoull(v, NULL, 10);
	time_text((us + 500000) / 1000000, buf);
	return ctx_add_row(c, buf);
}

enum pg_on_conflict {
	PG_CONFLICT_ERROR,   /* plain INSERT: 23505 */
	PG_CONFLICT_NOTHING, /* ON CONFLICT (arbiter) DO NOTHING */
	PG_CONFLICT_UPDATE,  /* ON CONFLICT (arbiter) DO UPDATE SET update_col */
};

struct pg_insert {
	enum pg_table_id table;
	const char *vals[PG_COLS_MAX];
	enum pg_on_conflict on_conflict;
	int update_col;      /* PG_CONFLICT_UPDATE: takes EXCLUDED's value */
	int returning_col;   /* -1: no RETURNING */
};

/* INSERT: checks in PostgreSQL's order (NOT NULL, then the arbiter key for
 * ON CONFLICT, then every other unique key). A key held by an open
 * transaction makes the statement wait and, resumed, start over: conflict
 * if that transaction committed the key, insert if it rolled back. */
static enum pg_run run_insert(struct pg_ctx *c, const struct pg_insert *ins)
{
	struct pg_model *m = c->m;
	struct pg_table *t = &m->tables[ins->table];
	const struct pg_table_def *def = t->def;

	for (int col = 0; col < def->ncols; col++) {
		if (def->not_null[col] && ins->vals[col] == NULL)
			return ctx_fail(c, "23502",
			                "null value in column \"%s\" of relation \"%s\" violates "
			                "not-null constraint", def->cols[col], def->name);
	}
	for (int col = 0; col < def->ncols; col++) {
		size_t len = ins->vals[col] == NULL ? 0 : strlen(ins->vals[col]);
		bool is_key = false;
		for (int k = 0; k < def->nkeys; k++)
			is_key = is_key || def->key_col[k] == col;
		if (is_key && len > PG_MODEL_KEY_MAX)
			return ctx_fail(c, "54000",
			                "index row size %zu exceeds btree maximum 2704 for "
			                "index on \"%s\"", len + 12, def->name);
		if (len > PG_MODEL_VALUE_MAX)
			return ctx_fail(c, "54000", "value of %zu bytes exceeds %u (model limit)",
			                len, PG_MODEL_VALUE_MAX);
	}

	/* A plain INSERT writes the heap tuple before it checks the indexes, so
	 * a full disk shows first. */
	bool plain = ins->on_conflict == PG_CONFLICT_ERROR;
	if (plain && !table_has_room(m, ins->table))
		goto disk_full;

	int arbiter = plain ? -1 : 0;
	if (!plain) {
		struct pg_row *r = NULL;
		switch (table_probe_key(t, 0, ins->vals[def->key_col[0]], c->sid, &r)) {
		case PG_KEY_HELD:
			return ctx_wait(c, r->locker);
		case PG_KEY_LIVE:
			if (ins->on_conflict == PG_CONFLICT_NOTHING) {
				c->s->res_ncols = ins->returning_col >= 0 ? 1 : 0;
				return PG_RUN_DONE;
			}
			/* DO UPDATE: lock the conflicting row and update it, even
			 * when it committed after this statement began. */
			if (ctx_lock_row(c, r) != PG_RUN_DONE)
				return PG_RUN_FAIL;
			if (!version_set(&r->pending, ins->update_col, ins->vals[ins->update_col]))
				return ctx_out_of_memory(c);
			c->s->res_affected = 1;
			if (ins->returning_col >= 0)
				return ctx_add_row(c, r->pending.val[ins->returning_col]);
			return PG_RUN_DONE;
		case PG_KEY_FREE:
			break;
		}
	}
	for (int k = 0; k < def->nkeys; k++) {
		if (k == arbiter)
			continue;
		struct pg_row *r = NULL;
		switch (table_probe_key(t, k, ins->vals[def->key_col[k]], c->sid, &r)) {
		case PG_KEY_HELD:
			return ctx_wait(c, r->locker);
		case PG_KEY_LIVE:
			return ctx_fail(c, SQLSTATE_UNIQUE_VIOLATION,
			                "duplicate key value violates unique constraint \"%s\"",
			                def->key_name[k]);
		case PG_KEY_FREE:
			break;
		}
	}
	if (!plain && !table_has_room(m, ins->table))
		goto disk_full;
	if (c->s->nchanged == PG_MODEL_TXN_ROWS_MAX)
		return ctx_fail(c, "53200",
		                "out of memory: more than %u rows changed in one transaction "
		                "(model limit)", PG_MODEL_TXN_ROWS_MAX);
	struct pg_row *r = table_add_row(m, ins->table, ins->vals, false);
	if (r == NULL)
		return ctx_out_of_memory(c);
	r->locker = c->sid;
	c->s->changed[c->s->nchanged++] = r;
	c->s->res_affected = 1;
	if (ins->returning_col >= 0)
		return ctx_add_row(c, r->pending.val[ins->returning_col]);
	return PG_RUN_DONE;

disk_full:
	return ctx_fail(c, "53100",
	                "could not extend relation \"%s\": no space left on device "
	                "(model limit of %u rows)", def->name, m->rows_max);
}

enum pg_change {
	PG_CHANGE_MARK_PROCESSED, /* SET processed_at = now() */
	PG_CHANGE_MARK_PAID,      /* SET status = 'paid', paid_count + 1 */
	PG_CHANGE_MARK_SENT,      /* SET sent_at = now() */
	PG_CHANGE_DELETE,
};

struct pg_update {
	enum pg_table_id table;
	int key;                 /* WHERE keys[key] = $1 */
	bool only_pending;       /* AND status = 'pending' */
	enum pg_change change;
	int returning_col;       /* -1: no RETURNING */
	bool own_claim;          /* AND claim_token = $2 */
};

static bool update_where_holds(const struct pg_update *up, const struct pg_version *v,
                               const char *const *params)
{
	if (!v->exists)
		return false;
	if (up->own_claim)
		return v->val[QE_TOKEN] != NULL && params[1] != NULL &&
		       strcmp(v->val[QE_TOKEN], params[1]) == 0; /* NULL = x is never true */
	if (!up->only_pending)
		return true;
	return v->val[ORD_STATUS] != NULL && strcmp(v->val[ORD_STATUS], "pending") == 0;
}

/* UPDATE or DELETE of the row with a unique key. It finds its row among
 * what the session sees at statement start (an open transaction's insert is
 * not there: no wait). A row locked by another open transaction makes it
 * wait; resumed, it looks at the newest version of that same row: deleted,
 * it is skipped; else the WHERE is evaluated again (READ COMMITTED). */
static enum pg_run run_update(struct pg_ctx *c, const struct pg_update *up)
{
	struct pg_table *t = &c->m->tables[up->table];
	struct pg_row *r;
	if (up->returning_col >= 0)
		c->s->res_ncols = 1;
	if (c->target_row == 0) {
		r = table_find_visible(t, up->key, c->params[0], c->sid);
		if (r == NULL || !update_where_holds(up, row_visible(r, c->sid), c->params))
			return PG_RUN_DONE;
		c->target_row = r->id;
	} else {
		r = table_find_id(t, c->target_row);
		if (r == NULL)
			return PG_RUN_DONE; /* deleted and already reclaimed */
	}
	if (r->locker != PG_NO_SESSION && r->locker != c->sid)
		return ctx_wait(c, r->locker);
	if (!update_where_holds(up, row_visible(r, c->sid), c->params))
		return PG_RUN_DONE;
	if (ctx_lock_row(c, r) != PG_RUN_DONE)
		return PG_RUN_FAIL;

	struct pg_version *v = &r->pending;
	switch (up->change) {
	case PG_CHANGE_MARK_PROCESSED:
	case PG_CHANGE_MARK_SENT: {
		char now[PG_TIME_TEXT_MAX];
		time_text(c->s->txn_start_us, now);
		if (!version_set(v, up->change == PG_CHANGE_MARK_SENT ? QE_SENT_AT : EV_PROCESSED, now))
			return ctx_out_of_memory(c);
		break;
	}
	case PG_CHANGE_MARK_PAID: {
		long long n = strtoll(v->val[ORD_PAID_COUNT], NULL, 10);
		if (n >= INT_MAX)
			return ctx_fail(c, "22003", "integer out of range");
		char buf[PG_TIME_TEXT_MAX];
		snprintf(buf, sizeof buf, "%lld", n + 1);
		if (!version_set(v, ORD_STATUS, "paid") || !version_set(v, ORD_PAID_COUNT, buf))
			return ctx_out_of_memory(c);
		break;
	}
	case PG_CHANGE_DELETE:
		version_free(v);
		break;
	}
	c->s->res_affected = 1;
	if (up->returning_col >= 0)
		return ctx_add_row(c, v->val[up->returning_col]);
	return PG_RUN_DONE;
}

static enum pg_run stmt_dispatch(struct pg_ctx *c)
{
	const char *const *p = c->params;
	char now[PG_TIME_TEXT_MAX];
	time_text(c->s->txn_start_us, now); /* now() is the transaction's start */

	switch (c->stmt) {
	case SQL_EVENT_UPSERT: {
		struct pg_insert ins = {PG_TABLE_EVENTS, {p[0], p[1], now, NULL},
		                        PG_CONFLICT_UPDATE, EV_TYPE, -1};
		return run_insert(c, &ins);
	}
	case SQL_EVENT_SELECT:
		return run_select(c, PG_TABLE_EVENTS, EV_PROCESSED, true);
	case SQL_EVENT_INSERT_NEW: {
		struct pg_insert ins = {PG_TABLE_EVENTS, {p[0], p[1], now, NULL},
		                        PG_CONFLICT_NOTHING, 0, EV_ID};
		return run_insert(c, &ins);
	}
	case SQL_EVENT_FIRST_SEEN:
		return run_select(c, PG_TABLE_EVENTS, EV_FIRST_SEEN, true);
	case SQL_EVENT_MARK_PROCESSED: {
		struct pg_update up = {PG_TABLE_EVENTS, 0, false, PG_CHANGE_MARK_PROCESSED, -1, false};
		return run_update(c, &up);
	}
	case SQL_ORDER_MARK_PAID: {
		struct pg_update up = {PG_TABLE_ORDERS, 1, false, PG_CHANGE_MARK_PAID, ORD_ID, false};
		return run_update(c, &up);
	}
	case SQL_ORDER_MARK_PAID_IF_PENDING: {
		struct pg_update up = {PG_TABLE_ORDERS, 1, true, PG_CHANGE_MARK_PAID, ORD_ID, false};
		return run_update(c, &up);
	}
	case SQL_PAYMENT_EFFECT_INSERT: {
		struct pg_insert ins = {PG_TABLE_PAYMENTS, {p[0], p[1], NULL, NULL},
		                        PG_CONFLICT_ERROR, 0, -1};
		return run_insert(c, &ins);
	}
	case SQL_CUSTOMER_SELECT:
		return run_select(c, PG_TABLE_CUSTOMERS, 1, false);
	case SQL_CUSTOMER_INSERT: {
		struct pg_insert ins = {PG_TABLE_CUSTOMERS, {p[0], p[1], NULL, NULL},
		                        PG_CONFLICT_ERROR, 0, -1};
		return run_insert(c, &ins);
	}
	case SQL_QUOTE_CLAIM: {
		struct pg_insert ins = {PG_TABLE_QUOTES, {p[0], NULL, p[1], NULL},
		                        PG_CONFLICT_NOTHING, 0, QE_REF};
		return run_insert(c, &ins);
	}
	case SQL_QUOTE_RELEASE: {
		struct pg_update up = {PG_TABLE_QUOTES, 0, false, PG_CHANGE_DELETE, -1, true};
		return run_update(c, &up);
	}
	case SQL_QUOTE_MARK_SENT: {
		struct pg_update up = {PG_TABLE_QUOTES, 0, false, PG_CHANGE_MARK_SENT, -1, true};
		return run_update(c, &up);
	}
	case SQL_QUOTE_SENT_SELECT:
		return run_select(c, PG_TABLE_QUOTES, QE_SENT_AT, true);
	case SQL_BEGIN:
	case SQL_COMMIT:
	case SQL_ROLLBACK:
	case SQL_STMT_COUNT:
		break;
	}
	ASSERT(!"pg_model: not a data statement");
	return PG_RUN_FAIL;
}

static void blocked_clear(struct pg_blocked *b)
{
	for (int i = 0; i < SQL_PARAMS_MAX; i++)
		free(b->params[i]);
	memset(b, 0, sizeof *b);
	b->waits_for = PG_NO_SESSION;
}

/* Runs c's statement in the session's transaction and settles the outcome:
 * an implicit transaction commits on success; an error rolls the transaction
 * back (inside BEGIN the block stays, aborted); a wait parks the statement. */
static enum pg_exec_status ctx_run(struct pg_ctx *c, struct sql_result *out)
{
	struct pg_session *s = c->s;
	struct pg_blocked *b = &s->blocked;
	enum pg_run r = stmt_dispatch(c);

	if (r == PG_RUN_WAIT && !b->active) {
		/* First wait: keep the statement, params copied. */
		b->stmt = c->stmt;
		b->nparams = sql_stmt_get(c->stmt)->nparams;
		for (int i = 0; i < b->nparams; i++) {
			if (c->params[i] != NULL && (b->params[i] = strdup(c->params[i])) == NULL) {
				blocked_clear(b);
				r = ctx_out_of_memory(c);
				break;
			}
		}
	}
	if (r == PG_RUN_WAIT) {
		result_reset(s);
		b->active = true;
		b->woken = false;
		b->waits_for = c->wait_for;
		b->target_row = c->target_row;
		return PG_EXEC_BLOCKED;
	}
	if (b->active)
		blocked_clear(b);
	if (r == PG_RUN_DONE && !s->in_block)
		txn_end(c->m, c->sid, true);
	if (r == PG_RUN_FAIL) {
		if (s->in_txn)
			txn_end(c->m, c->sid, false);
		if (s->in_block)
			s->aborted = true;
	}
	result_fill(s, out);
	return PG_EXEC_DONE;
}

/* ---- the public face -------------------------------------------------- */

struct pg_model *pg_model_create(uint32_t max_connections, pg_model_wake_fn *wake,
                                 void *wake_arg)
{
	ASSERT(max_connections >= 1);
	ASSERT(max_connections <= PG_MODEL_SESSIONS_MAX);
	struct pg_model *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->max_sessions = max_connections;
	m->rows_max = PG_MODEL_ROWS_MAX;
	m->wake = wake;
	m->wake_arg = wake_arg;
	m->sessions = calloc(max_connections, sizeof m->sessions[0]);
	if (m->sessions == NULL)
		goto fail_model;
	for (int i = 0; i < PG_TABLE_COUNT; i++) {
		if (!table_init(&m->tables[i], &pg_table_defs[i]))
			goto fail_model;
	}
	return m;

fail_model:
	pg_model_destroy(m);
	return NULL;
}

void pg_model_destroy(struct pg_model *m)
{
	if (m == NULL)
		return;
	if (m->sessions != NULL) {
		for (uint32_t i = 0; i < m->nsessions; i++) {
			result_reset(m->sessions[i]);
			blocked_clear(&m->sessions[i]->blocked);
			free(m->sessions[i]);
		}
	}
	free(m->sessions);
	for (int i = 0; i < PG_TABLE_COUNT; i++)
		table_fini(&m->tables[i]);
	free(m);
}

void pg_model_set_rows_max(struct pg_model *m, uint32_t rows_max)
{
	ASSERT(m != NULL);
	ASSERT(rows_max >= 1);
	ASSERT(rows_max <= PG_MODEL_ROWS_MAX);
	m->rows_max = rows_max;
}

bool pg_model_open(struct pg_model *m, uint32_t *session)
{
	ASSERT(m != NULL);
	ASSERT(session != NULL);
	if (m->nopen == m->max_sessions)
		return false;
	for (uint32_t i = 0; i < m->max_sessions; i++) {
		if (i == m->nsessions) {
			struct pg_session *n = calloc(1, sizeof *n);
			if (n == NULL)
				return false;
			blocked_clear(&n->blocked);
			m->sessions[m->nsessions++] = n;
		}
		struct pg_session *s = m->sessions[i];
		if (s->open)
			continue;
		ASSERT(!s->in_txn);
		ASSERT(s->nchanged == 0);
		s->open = true;
		s->in_block = false;
		s->aborted = false;
		s->commit_rolled_back = false;
		result_reset(s);
		m->nopen++;
		*session = i;
		return true;
	}
	ASSERT(!"pg_model: open count out of step with the sessions");
	return false;
}

void pg_model_close(struct pg_model *m, uint32_t session)
{
	struct pg_session *s = session_get(m, session);
	blocked_clear(&s->blocked);
	if (s->in_txn)
		txn_end(m, session, false);
	s->in_block = false;
	s->aborted = false;
	s->commit_rolled_back = false;
	result_reset(s);
	s->open = false;
	ASSERT(m->nopen > 0);
	m->nopen--;
}

enum pg_exec_status pg_model_exec(struct pg_model *m, uint32_t session, uint64_t now_us,
                                  enum sql_stmt stmt, int nparams,
                                  const char *const *params, struct sql_result *out)
{
	struct pg_session *s = session_get(m, session);
	ASSERT(!s->blocked.active);
	ASSERT((unsigned)stmt < SQL_STMT_COUNT);
	ASSERT(nparams == sql_stmt_get(stmt)->nparams);
	ASSERT(nparams == 0 || params != NULL);
	ASSERT(out != NULL);

	m->statements++;
	result_reset(s);
	s->commit_rolled_back = false;
	struct pg_ctx c = {.m = m, .s = s, .sid = session, .stmt = stmt, .params = params};

	switch (stmt) {
	case SQL_BEGIN:
		/* BEGIN inside a block is only a warning (25001) in PG. */
		if (s->aborted) {
			ctx_fail(&c, "25P02", "current transaction is aborted, commands ignored "
			                      "until end of transaction block");
		} else if (!s->in_block) {
			s->in_block = true;
			s->in_txn = true;
			s->txn_start_us = now_us;
		}
		break;
	case SQL_COMMIT:
		/* Outside a block: a warning (25P01) and success. In an aborted
		 * block the work is already undone: PG answers "ROLLBACK". */
		if (s->in_block && s->aborted)
			s->commit_rolled_back = true;
		else if (s->in_block)
			txn_end(m, session, true);
		s->in_block = false;
		s->aborted = false;
		break;
	case SQL_ROLLBACK:
		if (s->in_block && !s->aborted)
			txn_end(m, session, false);
		s->in_block = false;
		s->aborted = false;
		break;
	default:
		if (s->aborted) {
			ctx_fail(&c, "25P02", "current transaction is aborted, commands ignored "
			                      "until end of transaction block");
			break;
		}
		if (!s->in_block) {
			ASSERT(!s->in_txn);
			s->in_txn = true;
			s->txn_start_us = now_us;
		}
		return ctx_run(&c, out);
	}
	result_fill(s, out);
	return PG_EXEC_DONE;
}

enum pg_exec_status pg_model_resume(struct pg_model *m, uint32_t session, uint64_t now_us,
                                    struct sql_result *out)
{
	struct pg_session *s = session_get(m, session);
	ASSERT(s->blocked.active);
	ASSERT(s->blocked.woken);
	ASSERT(s->in_txn);
	ASSERT(out != NULL);
	(void)now_us; /* now() stays the transaction's start */

	struct pg_ctx c = {
		.m = m, .s = s, .sid = session, .stmt = s->blocked.stmt,
		.params = (const char *const *)s->blocked.params,
		.target_row = s->blocked.target_row,
	};
	result_reset(s);
	return ctx_run(&c, out);
}

bool pg_model_in_transaction(const struct pg_model *m, uint32_t session)
{
	return session_get(m, session)->in_block;
}

bool pg_model_last_commit_rolled_back(const struct pg_model *m, uint32_t session)
{
	return session_get(m, session)->commit_rolled_back;
}

void pg_model_seed_order(struct pg_model *m, const char *order_id,
                         const char *payment_intent_id)
{
	ASSERT(m != NULL);
	ASSERT(order_id != NULL);
	ASSERT(payment_intent_id != NULL);
	struct pg_table *t = &m->tables[PG_TABLE_ORDERS];
	const char *vals[PG_COLS_MAX] = {order_id, payment_intent_id, "pending", "0"};
	for (int k = 0; k < t->def->nkeys; k++) {
		struct pg_row *r = NULL;
		ASSERT(table_probe_key(t, k, vals[t->def->key_col[k]], PG_NO_SESSION, &r) ==
		       PG_KEY_FREE);
	}
	ASSERT(table_has_room(m, PG_TABLE_ORDERS));
	struct pg_row *r = table_add_row(m, PG_TABLE_ORDERS, vals, true);
	ASSERT(r != NULL);
}

void pg_model_foreach(const struct pg_model *m, const char *table, pg_model_row_fn *fn,
                      void *arg)
{
	ASSERT(m != NULL);
	ASSERT(table != NULL);
	ASSERT(fn != NULL);
	const struct pg_table *t = &m->tables[table_by_name(table)];
	for (uint32_t i = 0; i < t->nrows; i++) {
		const struct pg_row *r = t->rows[i];
		if (r->committed.exists)
			fn(arg, (const char *const *)r->committed.val, t->def->ncols);
	}
}

uint64_t pg_model_statements(const struct pg_model *m)
{
	ASSERT(m != NULL);
	return m->statements;
}

bool pg_model_lookup(const struct pg_model *m, const char *table, const char *key,
                     pg_model_row_fn *fn, void *arg)
{
	ASSERT(m != NULL);
	ASSERT(table != NULL);
	ASSERT(fn != NULL);
	const struct pg_table *t = &m->tables[table_by_name(table)];
	/* PG_NO_SESSION owns no row: the committed version is what it sees. */
	const struct pg_row *r = table_find_visible(t, 0, key, PG_NO_SESSION);
	if (r == NULL)
		return false;
	fn(arg, (const char *const *)r->committed.val, t->def->ncols);
	return true;
}
