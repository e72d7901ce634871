/* tests/support/fake_env.h - a scripted struct core_env for unit tests of
 * core/. Small in-memory state (keys with TTL, the fixes' tables, Stripe
 * customers with idempotency keys, an outbox) plus scripts that override
 * the answer of chosen calls. Not a model of the real servers: no blocking,
 * no isolation between connections (see sim/models/ for those). */
#ifndef TESTS_SUPPORT_FAKE_ENV_H
#define TESTS_SUPPORT_FAKE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

#define FAKE_FOREVER (-1)          /* rule.times: every matching call from nth */
#define FAKE_QUEUE_MAX 64          /* completions and timers pending at once */
#define FAKE_RULES_MAX 16          /* scripted rules */
#define FAKE_CALLS_MAX 512         /* calls kept in the call log */
#define FAKE_TEXT_MAX 256          /* octets of one call-log or log line */
#define FAKE_LOGS_MAX 128          /* log lines kept */
#define FAKE_STR_MAX 256           /* octets of one stored key, value or id,
                                    * NUL included: any id core accepts
                                    * (WEBHOOK_ID_MAX) fits whole */
#define FAKE_KEYS_MAX 32           /* keys in the key-value store */
#define FAKE_ROWS_MAX 32           /* rows in each table (never reused) */
#define FAKE_STRIPE_KEY_TTL_US (24ULL * 3600 * 1000000) /* an Idempotency-Key's life */
#define FAKE_STRIPE_SEARCH_LAG_US (60ULL * 1000000)     /* until a customer is searchable */
#define FAKE_CONNS_MAX 4           /* SQL pool; acquire beyond it: 53300 */
#define FAKE_UNDO_MAX 8            /* row writes in one transaction */
#define FAKE_CUSTOMERS_MAX 32      /* Stripe customers */
#define FAKE_MAILS_MAX 8           /* outbox */
#define FAKE_MAIL_DATA_MAX 8192    /* octets of one stored message */
#define FAKE_RUN_STEPS_MAX 100000  /* completions in one fake_env_run */
#define FAKE_WALL_S_DEFAULT 1700000000

struct fake_env;

/* seed drives clock.random. The virtual clock starts at 0 us and wall time
 * at FAKE_WALL_S_DEFAULT. */
struct fake_env *fake_env_create(uint64_t seed);
void fake_env_destroy(struct fake_env *fe); /* accepts NULL */
const struct core_env *fake_env_core(struct fake_env *fe);

/* Runs queued completions and timers in due order (ties in call order),
 * moving the virtual clock to each, until nothing is left. Returns how many
 * ran. */
int fake_env_run(struct fake_env *fe);
/* Moves the virtual clock forward; nothing may be queued. */
void fake_env_advance_ms(struct fake_env *fe, uint64_t ms);
uint64_t fake_env_now_us(const struct fake_env *fe);
void fake_env_set_wall_s(struct fake_env *fe, int64_t wall_s);
int fake_env_pending(const struct fake_env *fe);

/* ---- scripts ----------------------------------------------------------
 * Every port call has a text, kept in the call log:
 *   "kv INCR ratelimit:u1"           one key-value command, argv joined
 *   "kv MULTI INCR k | PEXPIRE k 60000 NX"   a transaction
 *   "sql acquire", "sql customer_insert u1 cus_1" (catalogue name, params)
 *   "stripe customer_create user=u1 email=a@b.c key=customer-create-u1"
 *   "stripe customer_find user=u1"  (a search: the user's oldest customer
 *                                    once FAKE_STRIPE_SEARCH_LAG_US old)
 *   "mail send to=a@b.c"
 * and, not scriptable, "sql release" and "clock after <us>".
 * A rule fires on the calls whose text starts with match ("" matches every
 * scriptable call), from the nth such call (1-based) for `times` calls.
 * Rules whose match starts with "exec " are tried on each command inside a
 * transaction instead ("exec PEXPIRE k 60000 NX"): an ERROR there becomes
 * that element of the EXEC reply, a TIMEOUT or CONN_LOST fails the whole
 * transaction. When several rules fire, the first added wins. */
enum fake_reply {
	FAKE_REPLY_STATE,   /* OUTCOME_OK: answer from the in-memory state */
	FAKE_REPLY_INTEGER, /* OUTCOME_OK, kv: integer instead (not applied) */
	FAKE_REPLY_NIL,     /* OUTCOME_OK, kv: nil instead (not applied) */
	FAKE_REPLY_NO_ID,   /* OUTCOME_OK, Stripe create: applied, and the 200
	                     * carries no customer id */
};

struct fake_rule {
	const char *match;   /* copied */
	int nth;             /* >= 1 */
	int times;           /* >= 1 or FAKE_FOREVER */
	enum outcome oc;     /* what the caller sees */
	bool applied;        /* TIMEOUT, CONN_LOST: the server applied it first */
	const char *error;   /* ERROR: kv message, SQLSTATE; NULL: port default */
	int code;            /* ERROR: Stripe HTTP status, SMTP code; 0: default */
	enum fake_reply reply;
	long long integer;   /* FAKE_REPLY_INTEGER */
	uint64_t delay_us;   /* the answer comes this much later */
};

void fake_env_script(struct fake_env *fe, const struct fake_rule *rule);
/* Drops every rule: the faults are over. */
void fake_env_heal(struct fake_env *fe);
/* Shorthands. fail: TIMEOUT, CONN_LOST (not applied) or ERROR with the port
 * default (kv "ERR injected fault", SQL XX000 or 53300 on acquire, Stripe
 * 500, SMTP 451). */
void fake_env_fail(struct fake_env *fe, const char *match, int nth, int times, enum outcome oc);
/* A timeout after the server applied the call: the reply is lost. */
void fake_env_fail_applied(struct fake_env *fe, const char *match, int nth, int times);
void fake_env_fail_kv(struct fake_env *fe, const char *match, int nth, int times, const char *message);
void fake_env_fail_sql(struct fake_env *fe, const char *match, int nth, int times, const char *sqlstate);
void fake_env_fail_stripe(struct fake_env *fe, const char *match, int nth, int times, int http_status);
void fake_env_fail_mail(struct fake_env *fe, const char *match, int nth, int times, int smtp_code);
void fake_env_answer_kv_integer(struct fake_env *fe, const char *match, int nth, int times,
                                long long value);
void fake_env_answer_kv_nil(struct fake_env *fe, const char *match, int nth, int times);
void fake_env_answer_stripe_without_id(struct fake_env *fe, const char *match, int nth, int times);
void fake_env_delay(struct fake_env *fe, const char *match, int nth, int times, uint64_t delay_us);

/* ---- call log ---------------------------------------------------------- */
int fake_env_calls(const struct fake_env *fe);
const char *fake_env_call(const struct fake_env *fe, int i);
int fake_env_count(const struct fake_env *fe, const char *prefix);
/* Scriptable calls made so far (what a sweep counts). */
int fake_env_ops(const struct fake_env *fe);

/* ---- log lines, kept as "[Tag] message" -------------------------------- */
int fake_env_log_count(const struct fake_env *fe, const char *tag);
bool fake_env_log_has(const struct fake_env *fe, const char *tag, const char *substring);
int fake_env_logs(const struct fake_env *fe);
const char *fake_env_log_line(const struct fake_env *fe, int i);

/* ---- key-value state --------------------------------------------------- */
void fake_env_kv_set(struct fake_env *fe, const char *key, const char *value, uint64_t ttl_ms);
const char *fake_env_kv_get(struct fake_env *fe, const char *key); /* NULL: none */
/* -2 no such key, -1 no TTL, else milliseconds left. */
long long fake_env_kv_pttl_ms(struct fake_env *fe, const char *key);

/* ---- SQL state ----------------------------------------------------------- */
void fake_env_add_order(struct fake_env *fe, const char *order_id, const char *payment_intent_id);
/* -1 when there is no such order. */
int fake_env_order_paid_count(const struct fake_env *fe, const char *payment_intent_id);
const char *fake_env_order_status(const struct fake_env *fe, const char *payment_intent_id);
bool fake_env_event_exists(const struct fake_env *fe, const char *event_id);
bool fake_env_event_processed(const struct fake_env *fe, const char *event_id);
int fake_env_payment_effects(const struct fake_env *fe); /* rows in order_payments */
void fake_env_set_mapping(struct fake_env *fe, const char *user_id, const char *customer_id);
const char *fake_env_mapping(const struct fake_env *fe, const char *user_id); /* NULL: none */
bool fake_env_quote_claimed(const struct fake_env *fe, const char *quote_ref);
int fake_env_conns_in_use(const struct fake_env *fe);
/* Misuse of the SQL port seen so far: exec on a broken or free connection,
 * release of a free one. Tests expect 0. */
int fake_env_sql_misuse(const struct fake_env *fe);

/* ---- Stripe and mail state --------------------------------------------- */
int fake_env_stripe_customers(const struct fake_env *fe);
/* Customers that no stripe_customers row points at. */
int fake_env_stripe_orphans(const struct fake_env *fe);
int fake_env_mails(const struct fake_env *fe);
const char *fake_env_mail_data(const struct fake_env *fe, int i); /* NUL-terminated copy */
size_t fake_env_mail_len(const struct fake_env *fe, int i);
const char *fake_env_mail_to(const struct fake_env *fe, int i);

#endif
