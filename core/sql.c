/* core/sql.c - the PostgreSQL text of the SQL catalogue and the schema.
 * Semantics that sim/models/pg_model.c must match are stated in core/sql.h. */
#include "core/sql.h"

#include <string.h>

#include "core/assert.h"

const char SQL_SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS stripe_events (\n"
	"  event_id text PRIMARY KEY,\n"
	"  event_type text NOT NULL,\n"
	"  first_seen_at timestamptz NOT NULL DEFAULT now(),\n"
	"  processed_at timestamptz\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS orders (\n"
	"  order_id text PRIMARY KEY,\n"
	"  payment_intent_id text NOT NULL UNIQUE,\n"
	"  status text NOT NULL DEFAULT 'pending',\n"
	"  paid_count integer NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS order_payments (\n"
	"  event_id text PRIMARY KEY,\n"
	"  order_id text NOT NULL\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS stripe_customers (\n"
	"  user_id text PRIMARY KEY,\n"
	"  customer_id text NOT NULL UNIQUE\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS quote_emails (\n"
	"  quote_ref text PRIMARY KEY,\n"
	"  sent_at timestamptz,\n"
	"  claim_token text\n"
	");\n"
	/* a database made before claims had owners: its rows were all sent */
	"ALTER TABLE quote_emails ADD COLUMN IF NOT EXISTS claim_token text;\n"
	"ALTER TABLE quote_emails ALTER COLUMN sent_at DROP NOT NULL, ALTER COLUMN sent_at DROP DEFAULT;\n";

static const struct sql_stmt_def sql_catalogue[SQL_STMT_COUNT] = {
	[SQL_BEGIN] = {"begin", "BEGIN", 0},
	[SQL_COMMIT] = {"commit", "COMMIT", 0},
	[SQL_ROLLBACK] = {"rollback", "ROLLBACK", 0},
	[SQL_EVENT_UPSERT] = {"event_upsert",
		"INSERT INTO stripe_events (event_id, event_type) VALUES ($1, $2) "
		"ON CONFLICT (event_id) DO UPDATE SET event_type = EXCLUDED.event_type", 2},
	[SQL_EVENT_SELECT] = {"event_select",
		"SELECT extract(epoch FROM processed_at)::bigint "
		"FROM stripe_events WHERE event_id = $1", 1},
	[SQL_EVENT_INSERT_NEW] = {"event_insert_new",
		"INSERT INTO stripe_events (event_id, event_type) VALUES ($1, $2) "
		"ON CONFLICT (event_id) DO NOTHING RETURNING event_id", 2},
	[SQL_EVENT_FIRST_SEEN] = {"event_first_seen",
		"SELECT extract(epoch FROM first_seen_at)::bigint "
		"FROM stripe_events WHERE event_id = $1", 1},
	[SQL_EVENT_MARK_PROCESSED] = {"event_mark_processed",
		"UPDATE stripe_events SET processed_at = now() WHERE event_id = $1", 1},
	[SQL_ORDER_MARK_PAID] = {"order_mark_paid",
		"UPDATE orders SET status = 'paid', paid_count = paid_count + 1 "
		"WHERE payment_intent_id = $1 RETURNING order_id", 1},
	[SQL_ORDER_MARK_PAID_IF_PENDING] = {"order_mark_paid_if_pending",
		"UPDATE orders SET status = 'paid', paid_count = paid_count + 1 "
		"WHERE payment_intent_id = $1 AND status = 'pending' RETURNING order_id", 1},
	[SQL_PAYMENT_EFFECT_INSERT] = {"payment_effect_insert",
		"INSERT INTO order_payments (event_id, order_id) VALUES ($1, $2)", 2},
	[SQL_CUSTOMER_SELECT] = {"customer_select",
		"SELECT customer_id FROM stripe_customers WHERE user_id = $1", 1},
	[SQL_CUSTOMER_INSERT] = {"customer_insert",
		"INSERT INTO stripe_customers (user_id, customer_id) VALUES ($1, $2)", 2},
	[SQL_QUOTE_CLAIM] = {"quote_claim",
		"INSERT INTO quote_emails (quote_ref, claim_token) VALUES ($1, $2) "
		"ON CONFLICT (quote_ref) DO NOTHING RETURNING quote_ref", 2},
	[SQL_QUOTE_RELEASE] = {"quote_release",
		"DELETE FROM quote_emails WHERE quote_ref = $1 AND claim_token = $2", 2},
	[SQL_QUOTE_MARK_SENT] = {"quote_mark_sent",
		"UPDATE quote_emails SET sent_at = now() WHERE quote_ref = $1 AND claim_token = $2", 2},
	[SQL_QUOTE_SENT_SELECT] = {"quote_sent_select",
		"SELECT extract(epoch FROM sent_at)::bigint FROM quote_emails WHERE quote_ref = $1", 1},
};

const struct sql_stmt_def *sql_stmt_get(enum sql_stmt stmt)
{
	ASSERT((unsigned)stmt < SQL_STMT_COUNT);
	return &sql_catalogue[stmt];
}

_Bool sqlstate_is_transient(const char *s)
{
	if (s == NULL || strlen(s) != 5)
		return 0;
	if (s[0] == '0' && s[1] == '8')
		return 1;
	if (strncmp(s, "57P0", 4) == 0)
		return 1;
	return strcmp(s, SQLSTATE_SERIALIZATION) == 0 ||
	       strcmp(s, SQLSTATE_DEADLOCK) == 0 ||
	       strcmp(s, SQLSTATE_TOO_MANY_CONNECTIONS) == 0 ||
	       strcmp(s, SQLSTATE_LOCK_NOT_AVAILABLE) == 0;
}
