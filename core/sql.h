/* core/sql.h - the SQL catalogue: every statement the fixes run, by name.
 * The Postgres text lives in core/sql.c beside the logic that depends on it;
 * the simulator's Postgres model (sim/models/pg_model.c) implements each
 * statement by its id with the same semantics, and the conformance suite
 * checks that both agree. Parameters are text ($1, $2 ...). */
#ifndef CORE_SQL_H
#define CORE_SQL_H

enum sql_stmt {
	SQL_BEGIN,
	SQL_COMMIT,
	SQL_ROLLBACK,

	/* webhook: stripe_events(event_id PK, event_type, first_seen_at,
	 * processed_at) */
	SQL_EVENT_UPSERT,          /* legacy: $1 event_id, $2 type; insert or
	                            * touch; affected = 1 */
	SQL_EVENT_SELECT,          /* $1 -> (processed_at) or no row */
	SQL_EVENT_INSERT_NEW,      /* $1, $2; ON CONFLICT DO NOTHING RETURNING
	                            * event_id: 1 row when new, 0 on conflict */
	SQL_EVENT_FIRST_SEEN,      /* $1 -> (first_seen_at) or no row */
	SQL_EVENT_MARK_PROCESSED,  /* $1; sets processed_at = now() */

	/* orders(order_id PK, payment_intent_id UNIQUE, status, paid_count) */
	SQL_ORDER_MARK_PAID,            /* $1 payment_intent_id; unconditional:
	                                 * status = 'paid', paid_count + 1;
	                                 * RETURNING order_id */
	SQL_ORDER_MARK_PAID_IF_PENDING, /* $1; only WHERE status = 'pending';
	                                 * RETURNING order_id */
	/* order_payments(event_id PK, order_id): the effect record */
	SQL_PAYMENT_EFFECT_INSERT,      /* $1 event_id, $2 order_id */

	/* stripe_customers(user_id PK, customer_id UNIQUE) */
	SQL_CUSTOMER_SELECT,       /* $1 user_id -> (customer_id) or no row */
	SQL_CUSTOMER_INSERT,       /* $1 user_id, $2 customer_id; 23505 when
	                            * the user already has a mapping */

	/* quote_emails(quote_ref PK, sent_at, claim_token): at most one mail
	 * per quote. A row is a claim; sent_at stays NULL until the mail went
	 * (or may have gone), so a claim whose owner never mailed is not taken
	 * for a sent quote. claim_token names the attempt that owns the row. */
	SQL_QUOTE_CLAIM,           /* $1 quote_ref, $2 token; ON CONFLICT DO
	                            * NOTHING RETURNING quote_ref: 1 row when
	                            * claimed */
	SQL_QUOTE_RELEASE,         /* $1 quote_ref, $2 token; DELETE of our own
	                            * claim (nothing was sent) */
	SQL_QUOTE_MARK_SENT,       /* $1 quote_ref, $2 token; sent_at = now() on
	                            * our own claim */
	SQL_QUOTE_SENT_SELECT,     /* $1 -> (sent_at), NULL while only claimed,
	                            * or no row */

	SQL_STMT_COUNT
};

struct sql_stmt_def {
	const char *name;  /* prepared statement name, e.g. "event_upsert" */
	const char *text;  /* PostgreSQL text */
	int nparams;
};

/* The definition of stmt; stmt < SQL_STMT_COUNT. */
const struct sql_stmt_def *sql_stmt_get(enum sql_stmt stmt);

/* The schema the fixes need, as one PostgreSQL script (CREATE TABLE IF NOT
 * EXISTS ...), for live mode and the conformance suite. */
extern const char SQL_SCHEMA[];

/* SQLSTATE helpers. */
#define SQLSTATE_UNIQUE_VIOLATION "23505"
#define SQLSTATE_SERIALIZATION "40001"
#define SQLSTATE_DEADLOCK "40P01"
#define SQLSTATE_TOO_MANY_CONNECTIONS "53300"
#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
#define SQLSTATE_ADMIN_SHUTDOWN "57P01"
#define SQLSTATE_CONNECTION_FAILURE "08006"

/* True for the transient classes a retry may cure: class 08, 40001, 40P01,
 * 53300, 55P03 and 57P0x. */
_Bool sqlstate_is_transient(const char *sqlstate);

#endif
