/* tests/support/fake_env.c - the scripted port implementation behind the
 * core unit tests: one queue of deferred completions on a virtual clock,
 * a call log, rules that override answers, and just enough state (keys,
 * tables, Stripe customers, an outbox) for flows to run unscripted. */
#include "tests/support/fake_env.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "sim/prng.h"

enum fake_item_kind { FAKE_ITEM_TIMER, FAKE_ITEM_KV, FAKE_ITEM_ACQUIRE, FAKE_ITEM_SQL, FAKE_ITEM_STRIPE, FAKE_ITEM_MAIL };

/* One deferred completion. Replies point into the item itself, so an item
 * stays put (and taken) until its callback has returned. */
struct fake_item {
	bool used;
	bool running;
	uint64_t due_us;
	uint64_t seq;
	enum fake_item_kind kind;
	void *arg;
	clock_fn *timer_fn;
	kv_done_fn *kv_fn;
	sql_acquire_fn *acquire_fn;
	sql_done_fn *sql_fn;
	stripe_done_fn *stripe_fn;
	mail_done_fn *mail_fn;
	enum outcome oc;
	/* kv */
	bool has_reply;
	struct kv_reply reply;
	struct kv_reply elements[KV_TXN_MAX];
	char strs[KV_TXN_MAX + 1][FAKE_STR_MAX];
	/* acquire */
	struct sql_conn *conn;
	char sqlstate[6];
	/* sql */
	bool has_res;
	struct sql_result res;
	const char *values[1];
	char cell[FAKE_STR_MAX];
	/* stripe */
	struct stripe_reply sreply;
	char customer_id[FAKE_STR_MAX];
	char error_type[32];
	/* mail */
	int smtp_code;
};

struct fake_rule_slot {
	struct fake_rule r;
	char match[FAKE_TEXT_MAX];
	char error[64];
	int seen;
};

struct fake_key {
	bool used;
	char key[FAKE_STR_MAX];
	char value[FAKE_STR_MAX];
	uint64_t expire_at_us; /* 0: no TTL */
};

enum fake_table { FAKE_T_EVENTS, FAKE_T_ORDERS, FAKE_T_PAYMENTS, FAKE_T_CUSTOMERS, FAKE_T_QUOTES, FAKE_T_COUNT };

/* One generic row; what k, a, b, n, t1, t2 hold depends on the table:
 *   events:    k event_id, a type, t1 first_seen_s, t2 processed_s (-1 NULL)
 *   orders:    k order_id, a payment_intent_id, b status, n paid_count
 *   payments:  k event_id, a order_id
 *   customers: k user_id, a customer_id
 *   quotes:    k quote_ref, a claim_token, t1 sent_s (-1 NULL) */
struct fake_row {
	bool used;
	char k[FAKE_STR_MAX];
	char a[FAKE_STR_MAX];
	char b[FAKE_STR_MAX];
	long long n;
	int64_t t1;
	int64_t t2;
};

struct fake_undo {
	enum fake_table table;
	int index;
	struct fake_row old;
};

struct fake_conn {
	bool in_use;
	bool broken;
	bool in_txn;
	bool aborted;
	int nundo;
	struct fake_undo undo[FAKE_UNDO_MAX];
};

struct fake_customer {
	char id[FAKE_STR_MAX];
	char user_id[FAKE_STR_MAX];
	char email[FAKE_STR_MAX];
	uint64_t created_us;
};

struct fake_idem {
	char key[FAKE_STR_MAX];
	char user_id[FAKE_STR_MAX];
	char email[FAKE_STR_MAX];
	int customer;
	uint64_t created_us;
};

struct fake_mail {
	char to[FAKE_STR_MAX];
	char *data; /* NUL-terminated copy of len octets */
	size_t len;
};

struct fake_log {
	char tag[32];
	char line[FAKE_TEXT_MAX + CORE_LOG_MAX];
};

struct fake_env {
	struct core_env env;
	struct prng prng;
	uint64_t now_us;
	int64_t wall_base_s;
	uint64_t seq;
	struct fake_item queue[FAKE_QUEUE_MAX];

	struct fake_rule_slot rules[FAKE_RULES_MAX];
	int nrules;

	char calls[FAKE_CALLS_MAX][FAKE_TEXT_MAX];
	int ncalls;
	int nops;

	struct fake_log logs[FAKE_LOGS_MAX];
	int nlogs;

	struct fake_key keys[FAKE_KEYS_MAX];

	struct fake_row rows[FAKE_T_COUNT][FAKE_ROWS_MAX];
	int nrows[FAKE_T_COUNT];
	struct fake_conn conns[FAKE_CONNS_MAX];
	int misuse;

	struct fake_customer customers[FAKE_CUSTOMERS_MAX];
	int ncustomers;
	struct fake_idem idem[FAKE_CUSTOMERS_MAX];
	int nidem;

	struct fake_mail mails[FAKE_MAILS_MAX];
	int nmails;
};

static void fake_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* ---- queue ---------------------------------------------------------------- */

static struct fake_item *fake_enqueue(struct fake_env *fe, enum fake_item_kind kind, void *arg,
                                      uint64_t delay_us)
{
	for (int i = 0; i < FAKE_QUEUE_MAX; i++) {
		struct fake_item *it = &fe->queue[i];
		if (it->used)
			continue;
		memset(it, 0, sizeof *it);
		it->used = true;
		it->kind = kind;
		it->arg = arg;
		it->due_us = fe->now_us + delay_us;
		it->seq = fe->seq++;
		return it;
	}
	ASSERT(!"fake_env: FAKE_QUEUE_MAX pending completions");
	return NULL;
}

static void fake_dispatch(struct fake_item *it)
{
	switch (it->kind) {
	case FAKE_ITEM_TIMER:
		it->timer_fn(it->arg);
		break;
	case FAKE_ITEM_KV:
		it->kv_fn(it->arg, it->oc, it->has_reply ? &it->reply : NULL);
		break;
	case FAKE_ITEM_ACQUIRE:
		it->acquire_fn(it->arg, it->oc, it->conn, it->sqlstate);
		break;
	case FAKE_ITEM_SQL:
		it->sql_fn(it->arg, it->oc, it->has_res ? &it->res : NULL);
		break;
	case FAKE_ITEM_STRIPE:
		it->stripe_fn(it->arg, it->oc, it->oc == OUTCOME_OK || it->oc == OUTCOME_ERROR ?
		                                   &it->sreply : NULL);
		break;
	case FAKE_ITEM_MAIL:
		it->mail_fn(it->arg, it->oc, it->smtp_code);
		break;
	}
}

int fake_env_run(struct fake_env *fe)
{
	int steps = 0;

	for (;;) {
		struct fake_item *next = NULL;
		for (int i = 0; i < FAKE_QUEUE_MAX; i++) {
			struct fake_item *it = &fe->queue[i];
			if (!it->used || it->running)
				continue;
			if (next == NULL || it->due_us < next->due_us ||
			    (it->due_us == next->due_us && it->seq < next->seq))
				next = it;
		}
		if (next == NULL)
			return steps;
		ASSERT(steps < FAKE_RUN_STEPS_MAX);
		steps++;
		if (next->due_us > fe->now_us)
			fe->now_us = next->due_us;
		/* The slot stays taken while its callback runs: the reply it hands
		 * over lives inside it. */
		next->running = true;
		fake_dispatch(next);
		next->running = false;
		next->used = false;
	}
}

void fake_env_advance_ms(struct fake_env *fe, uint64_t ms)
{
	ASSERT(fake_env_pending(fe) == 0);
	fe->now_us += ms * 1000;
}

uint64_t fake_env_now_us(const struct fake_env *fe)
{
	return fe->now_us;
}

void fake_env_set_wall_s(struct fake_env *fe, int64_t wall_s)
{
	fe->wall_base_s = wall_s - (int64_t)(fe->now_us / 1000000);
}

int fake_env_pending(const struct fake_env *fe)
{
	int n = 0;
	for (int i = 0; i < FAKE_QUEUE_MAX; i++)
		n += fe->queue[i].used && !fe->queue[i].running;
	return n;
}

/* ---- call log and rules -------------------------------------------------- */

static void fake_record(struct fake_env *fe, const char *text)
{
	if (fe->ncalls < FAKE_CALLS_MAX)
		fake_copy(fe->calls[fe->ncalls++], FAKE_TEXT_MAX, text);
}

static bool fake_is_exec_rule(const struct fake_rule_slot *rs)
{
	return strncmp(rs->match, "exec ", 5) == 0;
}

/* The rule that fires on this call, or NULL. Every matching rule counts
 * the call, so rules on the same calls keep independent counts. */
static const struct fake_rule_slot *fake_match(struct fake_env *fe, const char *text, bool in_exec)
{
	const struct fake_rule_slot *fired = NULL;

	for (int i = 0; i < fe->nrules; i++) {
		struct fake_rule_slot *rs = &fe->rules[i];
		if (fake_is_exec_rule(rs) != in_exec)
			continue;
		if (strncmp(text, rs->match, strlen(rs->match)) != 0)
			continue;
		rs->seen++;
		bool on = rs->seen >= rs->r.nth &&
		          (rs->r.times == FAKE_FOREVER || rs->seen < rs->r.nth + rs->r.times);
		if (on && fired == NULL)
			fired = rs;
	}
	return fired;
}

/* Records a scriptable call and returns the rule that fires on it. */
static const struct fake_rule_slot *fake_op(struct fake_env *fe, const char *text)
{
	fake_record(fe, text);
	fe->nops++;
	return fake_match(fe, text, false);
}

void fake_env_script(struct fake_env *fe, const struct fake_rule *rule)
{
	ASSERT(fe->nrules < FAKE_RULES_MAX);
	ASSERT(rule->match != NULL);
	ASSERT(rule->nth >= 1);
	ASSERT(rule->times >= 1 || rule->times == FAKE_FOREVER);
	struct fake_rule_slot *rs = &fe->rules[fe->nrules++];
	memset(rs, 0, sizeof *rs);
	rs->r = *rule;
	fake_copy(rs->match, sizeof rs->match, rule->match);
	rs->r.match = rs->match;
	if (rule->error != NULL) {
		fake_copy(rs->error, sizeof rs->error, rule->error);
		rs->r.error = rs->error;
	}
}

void fake_env_heal(struct fake_env *fe)
{
	fe->nrules = 0;
}

void fake_env_fail(struct fake_env *fe, const char *match, int nth, int times, enum outcome oc)
{
	ASSERT(oc != OUTCOME_OK);
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times, .oc = oc});
}

void fake_env_fail_applied(struct fake_env *fe, const char *match, int nth, int times)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .oc = OUTCOME_TIMEOUT, .applied = true});
}

void fake_env_fail_kv(struct fake_env *fe, const char *match, int nth, int times, const char *message)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .oc = OUTCOME_ERROR, .error = message});
}

void fake_env_fail_sql(struct fake_env *fe, const char *match, int nth, int times, const char *sqlstate)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .oc = OUTCOME_ERROR, .error = sqlstate});
}

void fake_env_fail_stripe(struct fake_env *fe, const char *match, int nth, int times, int http_status)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .oc = OUTCOME_ERROR, .code = http_status});
}

void fake_env_fail_mail(struct fake_env *fe, const char *match, int nth, int times, int smtp_code)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .oc = OUTCOME_ERROR, .code = smtp_code});
}

void fake_env_answer_kv_integer(struct fake_env *fe, const char *match, int nth, int times,
                                long long value)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .reply = FAKE_REPLY_INTEGER, .integer = value});
}

void fake_env_answer_stripe_without_id(struct fake_env *fe, const char *match, int nth, int times)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .reply = FAKE_REPLY_NO_ID});
}

void fake_env_answer_kv_nil(struct fake_env *fe, const char *match, int nth, int times)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .reply = FAKE_REPLY_NIL});
}

void fake_env_delay(struct fake_env *fe, const char *match, int nth, int times, uint64_t delay_us)
{
	fake_env_script(fe, &(struct fake_rule){.match = match, .nth = nth, .times = times,
	                                        .delay_us = delay_us});
}

int fake_env_calls(const struct fake_env *fe)
{
	return fe->ncalls;
}

const char *fake_env_call(const struct fake_env *fe, int i)
{
	ASSERT(i >= 0);
	ASSERT(i < fe->ncalls);
	return fe->calls[i];
}

int fake_env_count(const struct fake_env *fe, const char *prefix)
{
	int n = 0;
	for (int i = 0; i < fe->ncalls; i++)
		n += strncmp(fe->calls[i], prefix, strlen(prefix)) == 0;
	return n;
}

int fake_env_ops(const struct fake_env *fe)
{
	return fe->nops;
}

/* ---- clock and log ------------------------------------------------------- */

static uint64_t fake_now_us(void *ctx)
{
	struct fake_env *fe = ctx;
	return fe->now_us;
}

static int64_t fake_wall_s(void *ctx)
{
	struct fake_env *fe = ctx;
	return fe->wall_base_s + (int64_t)(fe->now_us / 1000000);
}

static void fake_after(void *ctx, uint64_t delay_us, clock_fn *fn, void *arg)
{
	struct fake_env *fe = ctx;
	char text[64];
	snprintf(text, sizeof text, "clock after %" PRIu64, delay_us);
	fake_record(fe, text);
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_TIMER, arg, delay_us);
	it->timer_fn = fn;
}

static uint64_t fake_random(void *ctx)
{
	struct fake_env *fe = ctx;
	return prng_next(&fe->prng);
}

static void fake_log_write(void *ctx, enum log_level level, const char *tag, const char *msg)
{
	struct fake_env *fe = ctx;
	(void)level;
	if (fe->nlogs >= FAKE_LOGS_MAX)
		return;
	struct fake_log *l = &fe->logs[fe->nlogs++];
	fake_copy(l->tag, sizeof l->tag, tag);
	snprintf(l->line, sizeof l->line, "[%s] %s", tag, msg);
}

int fake_env_log_count(const struct fake_env *fe, const char *tag)
{
	int n = 0;
	for (int i = 0; i < fe->nlogs; i++)
		n += strcmp(fe->logs[i].tag, tag) == 0;
	return n;
}

bool fake_env_log_has(const struct fake_env *fe, const char *tag, const char *substring)
{
	for (int i = 0; i < fe->nlogs; i++) {
		if (strcmp(fe->logs[i].tag, tag) == 0 && strstr(fe->logs[i].line, substring) != NULL)
			return true;
	}
	return false;
}

int fake_env_logs(const struct fake_env *fe)
{
	return fe->nlogs;
}

const char *fake_env_log_line(const struct fake_env *fe, int i)
{
	ASSERT(i >= 0);
	ASSERT(i < fe->nlogs);
	return fe->logs[i].line;
}

/* ---- key-value ------------------------------------------------------------ */

static struct fake_key *fake_key_find(struct fake_env *fe, const char *key)
{
	for (int i = 0; i < FAKE_KEYS_MAX; i++) {
		struct fake_key *k = &fe->keys[i];
		if (!k->used || strcmp(k->key, key) != 0)
			continue;
		if (k->expire_at_us != 0 && fe->now_us >= k->expire_at_us) {
			k->used = false; /* expired: gone, as Redis sees it */
			return NULL;
		}
		return k;
	}
	return NULL;
}

static struct fake_key *fake_key_add(struct fake_env *fe, const char *key)
{
	for (int i = 0; i < FAKE_KEYS_MAX; i++) {
		struct fake_key *k = &fe->keys[i];
		if (k->used && k->expire_at_us != 0 && fe->now_us >= k->expire_at_us)
			k->used = false;
		if (k->used)
			continue;
		memset(k, 0, sizeof *k);
		k->used = true;
		fake_copy(k->key, sizeof k->key, key);
		return k;
	}
	ASSERT(!"fake_env: FAKE_KEYS_MAX keys");
	return NULL;
}

static void fake_reply_int(struct kv_reply *r, long long v)
{
	memset(r, 0, sizeof *r);
	r->type = KV_REPLY_INTEGER;
	r->integer = v;
}

static void fake_reply_str(struct kv_reply *r, enum kv_reply_type type, char *buf, const char *s)
{
	memset(r, 0, sizeof *r);
	r->type = type;
	fake_copy(buf, FAKE_STR_MAX, s);
	r->str = buf;
	r->len = strlen(buf);
}

static void fake_reply_nil(struct kv_reply *r)
{
	memset(r, 0, sizeof *r);
	r->type = KV_REPLY_NIL;
}

static bool fake_parse_ll(const char *s, long long *out)
{
	char *end;
	if (*s == '\0')
		return false;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0')
		return false;
	*out = v;
	return true;
}

/* Runs one command against the store. buf holds the reply's string. */
static void fake_kv_apply(struct fake_env *fe, const struct kv_cmd *cmd, struct kv_reply *r, char *buf)
{
	const char *name = cmd->argc > 0 ? cmd->argv[0] : "";
	int argc = cmd->argc;
	const char *const *argv = cmd->argv;

	if (strcmp(name, "GET") == 0 && argc == 2) {
		struct fake_key *k = fake_key_find(fe, argv[1]);
		if (k == NULL)
			fake_reply_nil(r);
		else
			fake_reply_str(r, KV_REPLY_BULK, buf, k->value);
	} else if (strcmp(name, "SET") == 0 && argc >= 3) {
		bool nx = false;
		uint64_t ttl_us = 0;
		for (int i = 3; i < argc; i++) {
			long long v;
			if (strcmp(argv[i], "NX") == 0) {
				nx = true;
			} else if ((strcmp(argv[i], "PX") == 0 || strcmp(argv[i], "EX") == 0) &&
			           i + 1 < argc && fake_parse_ll(argv[i + 1], &v) && v > 0) {
				ttl_us = (uint64_t)v * (argv[i][0] == 'P' ? 1000 : 1000000);
				i++;
			} else {
				fake_reply_str(r, KV_REPLY_ERROR, buf, "ERR syntax error");
				return;
			}
		}
		struct fake_key *k = fake_key_find(fe, argv[1]);
		if (k != NULL && nx) {
			fake_reply_nil(r);
			return;
		}
		if (k == NULL)
			k = fake_key_add(fe, argv[1]);
		fake_copy(k->value, sizeof k->value, argv[2]);
		k->expire_at_us = ttl_us != 0 ? fe->now_us + ttl_us : 0;
		fake_reply_str(r, KV_REPLY_STATUS, buf, "OK");
	} else if (strcmp(name, "INCR") == 0 && argc == 2) {
		struct fake_key *k = fake_key_find(fe, argv[1]);
		long long v = 0;
		if (k != NULL && !fake_parse_ll(k->value, &v)) {
			fake_reply_str(r, KV_REPLY_ERROR, buf, "ERR value is not an integer or out of range");
			return;
		}
		if (k == NULL)
			k = fake_key_add(fe, argv[1]);
		v++;
		snprintf(k->value, sizeof k->value, "%lld", v);
		fake_reply_int(r, v);
	} else if ((strcmp(name, "EXPIRE") == 0 || strcmp(name, "PEXPIRE") == 0) &&
	           (argc == 3 || (argc == 4 && strcmp(argv[3], "NX") == 0))) {
		long long v;
		if (!fake_parse_ll(argv[2], &v)) {
			fake_reply_str(r, KV_REPLY_ERROR, buf, "ERR value is not an integer or out of range");
			return;
		}
		struct fake_key *k = fake_key_find(fe, argv[1]);
		if (k == NULL || (argc == 4 && k->expire_at_us != 0)) {
			fake_reply_int(r, 0);
			return;
		}
		uint64_t unit_us = name[0] == 'P' ? 1000 : 1000000;
		if (v <= 0)
			k->used = false;
		else
			k->expire_at_us = fe->now_us + (uint64_t)v * unit_us;
		fake_reply_int(r, 1);
	} else if ((strcmp(name, "TTL") == 0 || strcmp(name, "PTTL") == 0) && argc == 2) {
		struct fake_key *k = fake_key_find(fe, argv[1]);
		if (k == NULL)
			fake_reply_int(r, -2);
		else if (k->expire_at_us == 0)
			fake_reply_int(r, -1);
		else
			fake_reply_int(r, (long long)((k->expire_at_us - fe->now_us) /
			                              (name[0] == 'P' ? 1000 : 1000000)));
	} else if (strcmp(name, "DEL") == 0 && argc == 2) {
		struct fake_key *k = fake_key_find(fe, argv[1]);
		if (k != NULL)
			k->used = false;
		fake_reply_int(r, k != NULL);
	} else {
		fake_reply_str(r, KV_REPLY_ERROR, buf, "ERR unknown command or wrong number of arguments");
	}
}

static void fake_kv_text(const struct kv_cmd *cmd, char *out, size_t size, const char *prefix)
{
	size_t pos = (size_t)snprintf(out, size, "%s", prefix);
	for (int i = 0; i < cmd->argc && pos < size; i++)
		pos += (size_t)snprintf(out + pos, size - pos, "%s%s", i > 0 ? " " : "", cmd->argv[i]);
}

/* The reply of one command under rule rs (NULL: from the state). */
static void fake_kv_answer(struct fake_env *fe, const struct fake_rule_slot *rs,
                           const struct kv_cmd *cmd, struct kv_reply *r, char *buf)
{
	if (rs != NULL && rs->r.oc == OUTCOME_ERROR)
		fake_reply_str(r, KV_REPLY_ERROR, buf, rs->r.error != NULL ? rs->r.error : "ERR injected fault");
	else if (rs != NULL && rs->r.reply == FAKE_REPLY_INTEGER)
		fake_reply_int(r, rs->r.integer);
	else if (rs != NULL && rs->r.reply == FAKE_REPLY_NIL)
		fake_reply_nil(r);
	else
		fake_kv_apply(fe, cmd, r, buf);
}

static bool fake_lost(const struct fake_rule_slot *rs)
{
	return rs != NULL && (rs->r.oc == OUTCOME_TIMEOUT || rs->r.oc == OUTCOME_CONN_LOST);
}

static void fake_kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done, void *arg)
{
	struct fake_env *fe = ctx;
	char text[FAKE_TEXT_MAX];

	ASSERT(cmd->argc >= 1);
	ASSERT(cmd->argc <= KV_ARGV_MAX);
	fake_kv_text(cmd, text, sizeof text, "kv ");
	const struct fake_rule_slot *rs = fake_op(fe, text);
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_KV, arg, rs != NULL ? rs->r.delay_us : 0);
	it->kv_fn = done;
	if (fake_lost(rs)) {
		if (rs->r.applied)
			fake_kv_apply(fe, cmd, &it->reply, it->strs[0]);
		it->oc = rs->r.oc;
		it->has_reply = false;
		return;
	}
	fake_kv_answer(fe, rs, cmd, &it->reply, it->strs[0]);
	it->has_reply = true;
	it->oc = it->reply.type == KV_REPLY_ERROR ? OUTCOME_ERROR : OUTCOME_OK;
}

static void fake_kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds, kv_done_fn *done,
                                void *arg)
{
	struct fake_env *fe = ctx;
	char text[FAKE_TEXT_MAX];
	size_t pos;

	ASSERT(ncmds >= 1);
	ASSERT(ncmds <= KV_TXN_MAX);
	pos = (size_t)snprintf(text, sizeof text, "kv MULTI");
	for (int i = 0; i < ncmds && pos < sizeof text; i++) {
		char one[FAKE_TEXT_MAX];
		fake_kv_text(&cmds[i], one, sizeof one, "");
		pos += (size_t)snprintf(text + pos, sizeof text - pos, "%s%s", i > 0 ? " | " : " ", one);
	}
	const struct fake_rule_slot *rs = fake_op(fe, text);
	const struct fake_rule_slot *sub[KV_TXN_MAX] = {0};
	const struct fake_rule_slot *lost = fake_lost(rs) ? rs : NULL;
	for (int i = 0; i < ncmds; i++) {
		char one[FAKE_TEXT_MAX];
		fake_kv_text(&cmds[i], one, sizeof one, "exec ");
		sub[i] = fake_match(fe, one, true);
		if (lost == NULL && fake_lost(sub[i]))
			lost = sub[i];
	}
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_KV, arg, rs != NULL ? rs->r.delay_us : 0);
	it->kv_fn = done;
	if (lost != NULL) {
		for (int i = 0; lost->r.applied && i < ncmds; i++)
			fake_kv_apply(fe, &cmds[i], &it->elements[i], it->strs[i]);
		it->oc = lost->r.oc;
		it->has_reply = false;
		return;
	}
	it->has_reply = true;
	if (rs != NULL) {
		/* A rule on the whole transaction answers for EXEC itself. */
		fake_kv_answer(fe, rs, &(struct kv_cmd){.argc = 1, .argv = {"EXEC"}}, &it->reply,
		               it->strs[KV_TXN_MAX]);
		it->oc = it->reply.type == KV_REPLY_ERROR ? OUTCOME_ERROR : OUTCOME_OK;
		return;
	}
	for (int i = 0; i < ncmds; i++)
		fake_kv_answer(fe, sub[i], &cmds[i], &it->elements[i], it->strs[i]);
	memset(&it->reply, 0, sizeof it->reply);
	it->reply.type = KV_REPLY_ARRAY;
	it->reply.elements = (size_t)ncmds;
	it->reply.element = it->elements;
	it->oc = OUTCOME_OK;
}

void fake_env_kv_set(struct fake_env *fe, const char *key, const char *value, uint64_t ttl_ms)
{
	struct fake_key *k = fake_key_find(fe, key);
	if (k == NULL)
		k = fake_key_add(fe, key);
	fake_copy(k->value, sizeof k->value, value);
	k->expire_at_us = ttl_ms != 0 ? fe->now_us + ttl_ms * 1000 : 0;
}

const char *fake_env_kv_get(struct fake_env *fe, const char *key)
{
	struct fake_key *k = fake_key_find(fe, key);
	return k != NULL ? k->value : NULL;
}

long long fake_env_kv_pttl_ms(struct fake_env *fe, const char *key)
{
	struct fake_key *k = fake_key_find(fe, key);
	if (k == NULL)
		return -2;
	if (k->expire_at_us == 0)
		return -1;
	return (long long)((k->expire_at_us - fe->now_us) / 1000);
}

/* ---- SQL ---------------------------------------------------------------------- */

static struct fake_conn *fake_conn_of(struct fake_env *fe, struct sql_conn *conn)
{
	struct fake_conn *c = (struct fake_conn *)(void *)conn;
	ASSERT(c >= &fe->conns[0]);
	ASSERT(c < &fe->conns[FAKE_CONNS_MAX]);
	return c;
}

static int fake_row_find(const struct fake_env *fe, enum fake_table t, const char *k)
{
	for (int i = 0; i < fe->nrows[t]; i++) {
		if (fe->rows[t][i].used && strcmp(fe->rows[t][i].k, k) == 0)
			return i;
	}
	return -1;
}

static int fake_row_find_a(const struct fake_env *fe, enum fake_table t, const char *a)
{
	for (int i = 0; i < fe->nrows[t]; i++) {
		if (fe->rows[t][i].used && strcmp(fe->rows[t][i].a, a) == 0)
			return i;
	}
	return -1;
}

/* The row about to be written, its old value kept for ROLLBACK when c is
 * inside a transaction. */
static struct fake_row *fake_row_write(struct fake_env *fe, struct fake_conn *c, enum fake_table t,
                                       int index)
{
	if (c != NULL && c->in_txn) {
		ASSERT(c->nundo < FAKE_UNDO_MAX);
		struct fake_undo *u = &c->undo[c->nundo++];
		u->table = t;
		u->index = index;
		u->old = fe->rows[t][index];
	}
	return &fe->rows[t][index];
}

/* A new row; slots are never reused so an undo cannot clobber another
 * connection's row. */
static struct fake_row *fake_row_insert(struct fake_env *fe, struct fake_conn *c, enum fake_table t,
                                        const char *k)
{
	ASSERT(fe->nrows[t] < FAKE_ROWS_MAX);
	int index = fe->nrows[t]++;
	struct fake_row *row = fake_row_write(fe, c, t, index);
	memset(row, 0, sizeof *row);
	row->used = true;
	fake_copy(row->k, sizeof row->k, k);
	return row;
}

static void fake_txn_undo(struct fake_env *fe, struct fake_conn *c)
{
	for (int i = c->nundo - 1; i >= 0; i--)
		fe->rows[c->undo[i].table][c->undo[i].index] = c->undo[i].old;
	c->nundo = 0;
	c->in_txn = false;
	c->aborted = false;
}

static void fake_res_row(struct fake_item *it, const char *value)
{
	it->res.nrows = 1;
	it->res.ncols = 1;
	if (value != NULL) {
		fake_copy(it->cell, sizeof it->cell, value);
		it->values[0] = it->cell;
	} else {
		it->values[0] = NULL;
	}
	it->res.values = it->values;
}

static void fake_res_error(struct fake_item *it, const char *sqlstate, const char *message)
{
	it->oc = OUTCOME_ERROR;
	fake_copy(it->res.sqlstate, sizeof it->res.sqlstate, sqlstate);
	it->res.message = message;
}

/* Runs one catalogue statement; fills it->res, or fails it with an
 * SQLSTATE. */
static void fake_sql_apply(struct fake_env *fe, struct fake_conn *c, enum sql_stmt stmt,
                           const char *const *p, struct fake_item *it)
{
	int64_t now_s = fake_wall_s(fe);
	int i;
	struct fake_row *row;
	char num[32];

	switch (stmt) {
	case SQL_BEGIN:
		c->in_txn = true;
		c->nundo = 0;
		break;
	case SQL_COMMIT:
		if (c->aborted)
			fake_txn_undo(fe, c); /* Postgres answers COMMIT of a failed txn with ROLLBACK */
		c->in_txn = false;
		c->nundo = 0;
		break;
	case SQL_ROLLBACK:
		fake_txn_undo(fe, c);
		break;
	case SQL_EVENT_UPSERT:
		i = fake_row_find(fe, FAKE_T_EVENTS, p[0]);
		if (i < 0) {
			row = fake_row_insert(fe, c, FAKE_T_EVENTS, p[0]);
			row->t1 = now_s;
			row->t2 = -1;
		} else {
			row = fake_row_write(fe, c, FAKE_T_EVENTS, i);
		}
		fake_copy(row->a, sizeof row->a, p[1]);
		it->res.affected = 1;
		break;
	case SQL_EVENT_SELECT:
	case SQL_EVENT_FIRST_SEEN:
		i = fake_row_find(fe, FAKE_T_EVENTS, p[0]);
		if (i >= 0) {
			int64_t t = stmt == SQL_EVENT_SELECT ? fe->rows[FAKE_T_EVENTS][i].t2 : fe->rows[FAKE_T_EVENTS][i].t1;
			snprintf(num, sizeof num, "%" PRId64, t);
			fake_res_row(it, t >= 0 ? num : NULL);
		}
		break;
	case SQL_EVENT_INSERT_NEW:
		if (fake_row_find(fe, FAKE_T_EVENTS, p[0]) >= 0)
			break;
		row = fake_row_insert(fe, c, FAKE_T_EVENTS, p[0]);
		fake_copy(row->a, sizeof row->a, p[1]);
		row->t1 = now_s;
		row->t2 = -1;
		it->res.affected = 1;
		fake_res_row(it, p[0]);
		break;
	case SQL_EVENT_MARK_PROCESSED:
		i = fake_row_find(fe, FAKE_T_EVENTS, p[0]);
		if (i >= 0) {
			fake_row_write(fe, c, FAKE_T_EVENTS, i)->t2 = now_s;
			it->res.affected = 1;
		}
		break;
	case SQL_ORDER_MARK_PAID:
	case SQL_ORDER_MARK_PAID_IF_PENDING:
		i = fake_row_find_a(fe, FAKE_T_ORDERS, p[0]);
		if (i < 0 || (stmt == SQL_ORDER_MARK_PAID_IF_PENDING &&
		              strcmp(fe->rows[FAKE_T_ORDERS][i].b, "pending") != 0))
			break;
		row = fake_row_write(fe, c, FAKE_T_ORDERS, i);
		fake_copy(row->b, sizeof row->b, "paid");
		row->n++;
		it->res.affected = 1;
		fake_res_row(it, row->k);
		break;
	case SQL_PAYMENT_EFFECT_INSERT:
		if (fake_row_find(fe, FAKE_T_PAYMENTS, p[0]) >= 0) {
			fake_res_error(it, SQLSTATE_UNIQUE_VIOLATION, "duplicate key order_payments_pkey");
			break;
		}
		fake_copy(fake_row_insert(fe, c, FAKE_T_PAYMENTS, p[0])->a, FAKE_STR_MAX, p[1]);
		it->res.affected = 1;
		break;
	case SQL_CUSTOMER_SELECT:
		i = fake_row_find(fe, FAKE_T_CUSTOMERS, p[0]);
		if (i >= 0)
			fake_res_row(it, fe->rows[FAKE_T_CUSTOMERS][i].a);
		break;
	case SQL_CUSTOMER_INSERT:
		if (fake_row_find(fe, FAKE_T_CUSTOMERS, p[0]) >= 0 || fake_row_find_a(fe, FAKE_T_CUSTOMERS, p[1]) >= 0) {
			fake_res_error(it, SQLSTATE_UNIQUE_VIOLATION, "duplicate key stripe_customers");
			break;
		}
		fake_copy(fake_row_insert(fe, c, FAKE_T_CUSTOMERS, p[0])->a, FAKE_STR_MAX, p[1]);
		it->res.affected = 1;
		break;
	case SQL_QUOTE_CLAIM:
		if (fake_row_find(fe, FAKE_T_QUOTES, p[0]) >= 0)
			break;
		row = fake_row_insert(fe, c, FAKE_T_QUOTES, p[0]);
		fake_copy(row->a, sizeof row->a, p[1]);
		row->t1 = -1;
		it->res.affected = 1;
		fake_res_row(it, p[0]);
		break;
	case SQL_QUOTE_RELEASE:
	case SQL_QUOTE_MARK_SENT:
		i = fake_row_find(fe, FAKE_T_QUOTES, p[0]);
		if (i < 0 || strcmp(fe->rows[FAKE_T_QUOTES][i].a, p[1]) != 0)
			break;
		row = fake_row_write(fe, c, FAKE_T_QUOTES, i);
		if (stmt == SQL_QUOTE_RELEASE)
			row->used = false;
		else
			row->t1 = now_s;
		it->res.affected = 1;
		break;
	case SQL_QUOTE_SENT_SELECT:
		i = fake_row_find(fe, FAKE_T_QUOTES, p[0]);
		if (i >= 0) {
			int64_t t = fe->rows[FAKE_T_QUOTES][i].t1;
			snprintf(num, sizeof num, "%" PRId64, t);
			fake_res_row(it, t >= 0 ? num : NULL);
		}
		break;
	case SQL_STMT_COUNT:
		ASSERT(!"fake_env: bad statement");
	}
	if (it->oc == OUTCOME_ERROR && c->in_txn)
		c->aborted = true;
}

static void fake_sql_acquire(void *ctx, sql_acquire_fn *done, void *arg)
{
	struct fake_env *fe = ctx;
	const struct fake_rule_slot *rs = fake_op(fe, "sql acquire");
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_ACQUIRE, arg, rs != NULL ? rs->r.delay_us : 0);
	it->acquire_fn = done;
	if (fake_lost(rs)) {
		it->oc = rs->r.oc;
		return;
	}
	if (rs != NULL && rs->r.oc == OUTCOME_ERROR) {
		it->oc = OUTCOME_ERROR;
		fake_copy(it->sqlstate, sizeof it->sqlstate,
		          rs->r.error != NULL ? rs->r.error : SQLSTATE_TOO_MANY_CONNECTIONS);
		return;
	}
	for (int i = 0; i < FAKE_CONNS_MAX; i++) {
		struct fake_conn *c = &fe->conns[i];
		if (c->in_use)
			continue;
		memset(c, 0, sizeof *c);
		c->in_use = true;
		it->oc = OUTCOME_OK;
		it->conn = (struct sql_conn *)(void *)c;
		fake_copy(it->sqlstate, sizeof it->sqlstate, "00000");
		return;
	}
	it->oc = OUTCOME_ERROR;
	fake_copy(it->sqlstate, sizeof it->sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS);
}

static void fake_sql_exec(void *ctx, struct sql_conn *conn, enum sql_stmt stmt, int nparams,
                          const char *const *params, sql_done_fn *done, void *arg)
{
	struct fake_env *fe = ctx;
	struct fake_conn *c = fake_conn_of(fe, conn);
	const struct sql_stmt_def *def = sql_stmt_get(stmt);
	char text[FAKE_TEXT_MAX];

	ASSERT(nparams == def->nparams);
	size_t pos = (size_t)snprintf(text, sizeof text, "sql %s", def->name);
	for (int i = 0; i < nparams && pos < sizeof text; i++) {
		ASSERT(params[i] != NULL);
		pos += (size_t)snprintf(text + pos, sizeof text - pos, " %s", params[i]);
	}
	const struct fake_rule_slot *rs = fake_op(fe, text);
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_SQL, arg, rs != NULL ? rs->r.delay_us : 0);
	it->sql_fn = done;
	fake_copy(it->res.sqlstate, sizeof it->res.sqlstate, "00000");
	it->res.message = "";
	it->has_res = true;

	if (!c->in_use || c->broken) {
		fe->misuse++;
		it->oc = OUTCOME_CONN_LOST;
		it->has_res = false;
		return;
	}
	if (fake_lost(rs)) {
		if (rs->r.applied)
			fake_sql_apply(fe, c, stmt, params, it);
		/* A broken connection loses its open transaction (a cut COMMIT that
		 * was applied has already closed it). */
		if (c->in_txn)
			fake_txn_undo(fe, c);
		c->broken = true;
		it->oc = rs->r.oc;
		it->has_res = false;
		return;
	}
	if (rs != NULL && rs->r.oc == OUTCOME_ERROR) {
		fake_res_error(it, rs->r.error != NULL ? rs->r.error : "XX000", "injected fault");
		if (c->in_txn)
			c->aborted = true;
		return;
	}
	if (c->aborted && stmt != SQL_ROLLBACK && stmt != SQL_COMMIT) {
		fake_res_error(it, "25P02", "current transaction is aborted");
		return;
	}
	it->oc = OUTCOME_OK;
	fake_sql_apply(fe, c, stmt, params, it);
}

static void fake_sql_release(void *ctx, struct sql_conn *conn)
{
	struct fake_env *fe = ctx;
	struct fake_conn *c = fake_conn_of(fe, conn);

	fake_record(fe, "sql release");
	if (!c->in_use) {
		fe->misuse++;
		return;
	}
	if (c->in_txn)
		fake_txn_undo(fe, c);
	c->in_use = false;
}

void fake_env_add_order(struct fake_env *fe, const char *order_id, const char *payment_intent_id)
{
	struct fake_row *row = fake_row_insert(fe, NULL, FAKE_T_ORDERS, order_id);
	fake_copy(row->a, sizeof row->a, payment_intent_id);
	fake_copy(row->b, sizeof row->b, "pending");
}

int fake_env_order_paid_count(const struct fake_env *fe, const char *payment_intent_id)
{
	int i = fake_row_find_a(fe, FAKE_T_ORDERS, payment_intent_id);
	return i < 0 ? -1 : (int)fe->rows[FAKE_T_ORDERS][i].n;
}

const char *fake_env_order_status(const struct fake_env *fe, const char *payment_intent_id)
{
	int i = fake_row_find_a(fe, FAKE_T_ORDERS, payment_intent_id);
	return i < 0 ? NULL : fe->rows[FAKE_T_ORDERS][i].b;
}

bool fake_env_event_exists(const struct fake_env *fe, const char *event_id)
{
	return fake_row_find(fe, FAKE_T_EVENTS, event_id) >= 0;
}

bool fake_env_event_processed(const struct fake_env *fe, const char *event_id)
{
	int i = fake_row_find(fe, FAKE_T_EVENTS, event_id);
	return i >= 0 && fe->rows[FAKE_T_EVENTS][i].t2 >= 0;
}

int fake_env_payment_effects(const struct fake_env *fe)
{
	int n = 0;
	for (int i = 0; i < fe->nrows[FAKE_T_PAYMENTS]; i++)
		n += fe->rows[FAKE_T_PAYMENTS][i].used;
	return n;
}

void fake_env_set_mapping(struct fake_env *fe, const char *user_id, const char *customer_id)
{
	fake_copy(fake_row_insert(fe, NULL, FAKE_T_CUSTOMERS, user_id)->a, FAKE_STR_MAX, customer_id);
}

const char *fake_env_mapping(const struct fake_env *fe, const char *user_id)
{
	int i = fake_row_find(fe, FAKE_T_CUSTOMERS, user_id);
	return i < 0 ? NULL : fe->rows[FAKE_T_CUSTOMERS][i].a;
}

bool fake_env_quote_claimed(const struct fake_env *fe, const char *quote_ref)
{
	return fake_row_find(fe, FAKE_T_QUOTES, quote_ref) >= 0;
}

int fake_env_conns_in_use(const struct fake_env *fe)
{
	int n = 0;
	for (int i = 0; i < FAKE_CONNS_MAX; i++)
		n += fe->conns[i].in_use;
	return n;
}

int fake_env_sql_misuse(const struct fake_env *fe)
{
	return fe->misuse;
}

/* ---- Stripe ------------------------------------------------------------------ */

static const char *fake_stripe_error_type(int status)
{
	if (status == 409)
		return "idempotency_error";
	if (status == 429)
		return "rate_limit_error";
	if (status >= 500)
		return "api_error";
	return "invalid_request_error";
}

/* Creates or replays a customer; false with a 400 when the key was used
 * with other parameters. */
static void fake_stripe_apply(struct fake_env *fe, const struct stripe_customer_params *p,
                              struct fake_item *it)
{
	const char *email = p->email != NULL ? p->email : "";
	const char *user = p->user_id != NULL ? p->user_id : "";

	it->sreply.http_status = 200;
	it->sreply.error_type = "";
	it->sreply.customer_id = it->customer_id;
	if (p->idempotency_key != NULL) {
		for (int i = 0; i < fe->nidem; i++) {
			struct fake_idem *k = &fe->idem[i];
			if (strcmp(k->key, p->idempotency_key) != 0 ||
			    fe->now_us - k->created_us >= FAKE_STRIPE_KEY_TTL_US)
				continue;
			if (strcmp(k->email, email) != 0 || strcmp(k->user_id, user) != 0) {
				it->oc = OUTCOME_ERROR;
				it->sreply.http_status = 400;
				it->sreply.error_type = "idempotency_error";
				return;
			}
			fake_copy(it->customer_id, sizeof it->customer_id, fe->customers[k->customer].id);
			it->sreply.idempotent_replay = true;
			return;
		}
	}
	ASSERT(fe->ncustomers < FAKE_CUSTOMERS_MAX);
	int n = fe->ncustomers++;
	struct fake_customer *cu = &fe->customers[n];
	snprintf(cu->id, sizeof cu->id, "cus_fake%03d", n + 1);
	fake_copy(cu->user_id, sizeof cu->user_id, user);
	fake_copy(cu->email, sizeof cu->email, email);
	cu->created_us = fe->now_us;
	if (p->idempotency_key != NULL) {
		struct fake_idem *k = &fe->idem[fe->nidem++];
		k->created_us = fe->now_us;
		fake_copy(k->key, sizeof k->key, p->idempotency_key);
		fake_copy(k->user_id, sizeof k->user_id, user);
		fake_copy(k->email, sizeof k->email, email);
		k->customer = n;
	}
	fake_copy(it->customer_id, sizeof it->customer_id, cu->id);
}

static void fake_stripe_customer_create(void *ctx, const struct stripe_customer_params *p,
                                        stripe_done_fn *done, void *arg)
{
	struct fake_env *fe = ctx;
	char text[FAKE_TEXT_MAX];

	snprintf(text, sizeof text, "stripe customer_create user=%s email=%s key=%s",
	         p->user_id != NULL ? p->user_id : "-", p->email != NULL ? p->email : "-",
	         p->idempotency_key != NULL ? p->idempotency_key : "-");
	const struct fake_rule_slot *rs = fake_op(fe, text);
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_STRIPE, arg, rs != NULL ? rs->r.delay_us : 0);
	it->stripe_fn = done;
	it->oc = OUTCOME_OK;
	if (fake_lost(rs)) {
		if (rs->r.applied)
			fake_stripe_apply(fe, p, it);
		it->oc = rs->r.oc;
		return;
	}
	if (rs != NULL && rs->r.oc == OUTCOME_ERROR) {
		int status = rs->r.code != 0 ? rs->r.code : 500;
		it->oc = OUTCOME_ERROR;
		fake_copy(it->error_type, sizeof it->error_type, fake_stripe_error_type(status));
		it->sreply.http_status = status;
		it->sreply.error_type = it->error_type;
		it->sreply.customer_id = "";
		return;
	}
	fake_stripe_apply(fe, p, it);
	if (rs != NULL && rs->r.reply == FAKE_REPLY_NO_ID && it->sreply.http_status == 200)
		it->customer_id[0] = '\0'; /* made at Stripe, the id lost on the way */
}

/* A search by metadata[user_id]: the oldest customer of the user, once
 * FAKE_STRIPE_SEARCH_LAG_US old. */
static void fake_stripe_customer_find(void *ctx, const char *user_id, stripe_done_fn *done,
                                      void *arg)
{
	struct fake_env *fe = ctx;
	char text[FAKE_TEXT_MAX];

	snprintf(text, sizeof text, "stripe customer_find user=%s", user_id != NULL ? user_id : "-");
	const struct fake_rule_slot *rs = fake_op(fe, text);
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_STRIPE, arg, rs != NULL ? rs->r.delay_us : 0);
	it->stripe_fn = done;
	it->oc = OUTCOME_OK;
	if (fake_lost(rs)) {
		it->oc = rs->r.oc;
		return;
	}
	it->sreply.customer_id = "";
	if (rs != NULL && rs->r.oc == OUTCOME_ERROR) {
		int status = rs->r.code != 0 ? rs->r.code : 500;
		it->oc = OUTCOME_ERROR;
		fake_copy(it->error_type, sizeof it->error_type, fake_stripe_error_type(status));
		it->sreply.http_status = status;
		it->sreply.error_type = it->error_type;
		return;
	}
	it->sreply.http_status = 200;
	it->sreply.error_type = "";
	for (int i = 0; user_id != NULL && i < fe->ncustomers; i++) {
		const struct fake_customer *cu = &fe->customers[i];
		if (strcmp(cu->user_id, user_id) == 0) {
			if (fe->now_us - cu->created_us >= FAKE_STRIPE_SEARCH_LAG_US) {
				fake_copy(it->customer_id, sizeof it->customer_id, cu->id);
				it->sreply.customer_id = it->customer_id;
			}
			break;
		}
	}
}

int fake_env_stripe_customers(const struct fake_env *fe)
{
	return fe->ncustomers;
}

int fake_env_stripe_orphans(const struct fake_env *fe)
{
	int n = 0;
	for (int i = 0; i < fe->ncustomers; i++)
		n += fake_row_find_a(fe, FAKE_T_CUSTOMERS, fe->customers[i].id) < 0;
	return n;
}

/* ---- mail ---------------------------------------------------------------- */

static void fake_mail_store(struct fake_env *fe, const struct mail_message *m)
{
	ASSERT(fe->nmails < FAKE_MAILS_MAX);
	ASSERT(m->len <= FAKE_MAIL_DATA_MAX);
	struct fake_mail *ml = &fe->mails[fe->nmails++];
	fake_copy(ml->to, sizeof ml->to, m->to);
	ml->data = malloc(m->len + 1);
	ASSERT(ml->data != NULL);
	memcpy(ml->data, m->data, m->len);
	ml->data[m->len] = '\0';
	ml->len = m->len;
}

static void fake_mail_send(void *ctx, const struct mail_message *m, mail_done_fn *done, void *arg)
{
	struct fake_env *fe = ctx;
	char text[FAKE_TEXT_MAX];

	snprintf(text, sizeof text, "mail send to=%s", m->to);
	const struct fake_rule_slot *rs = fake_op(fe, text);
	struct fake_item *it = fake_enqueue(fe, FAKE_ITEM_MAIL, arg, rs != NULL ? rs->r.delay_us : 0);
	it->mail_fn = done;
	if (fake_lost(rs)) {
		if (rs->r.applied)
			fake_mail_store(fe, m);
		it->oc = rs->r.oc;
		return;
	}
	if (rs != NULL && rs->r.oc == OUTCOME_ERROR) {
		it->oc = OUTCOME_ERROR;
		it->smtp_code = rs->r.code != 0 ? rs->r.code : 451;
		return;
	}
	fake_mail_store(fe, m);
	it->oc = OUTCOME_OK;
	it->smtp_code = 250;
}

int fake_env_mails(const struct fake_env *fe)
{
	return fe->nmails;
}

const char *fake_env_mail_data(const struct fake_env *fe, int i)
{
	ASSERT(i >= 0);
	ASSERT(i < fe->nmails);
	return fe->mails[i].data;
}

size_t fake_env_mail_len(const struct fake_env *fe, int i)
{
	ASSERT(i >= 0);
	ASSERT(i < fe->nmails);
	return fe->mails[i].len;
}

const char *fake_env_mail_to(const struct fake_env *fe, int i)
{
	ASSERT(i >= 0);
	ASSERT(i < fe->nmails);
	return fe->mails[i].to;
}

/* ---- life cycle ------------------------------------------------------------ */

struct fake_env *fake_env_create(uint64_t seed)
{
	struct fake_env *fe = calloc(1, sizeof *fe);
	ASSERT(fe != NULL);
	prng_init(&fe->prng, seed);
	fe->wall_base_s = FAKE_WALL_S_DEFAULT;
	fe->env.kv = (struct kv_port){fe, fake_kv_command, fake_kv_transaction};
	fe->env.sql = (struct sql_port){fe, fake_sql_acquire, fake_sql_exec, fake_sql_release};
	fe->env.stripe = (struct stripe_port){fe, fake_stripe_customer_create, fake_stripe_customer_find};
	fe->env.mail = (struct mail_port){fe, fake_mail_send};
	fe->env.clock = (struct clock_port){fe, fake_now_us, fake_wall_s, fake_after, fake_random};
	fe->env.log = (struct log_port){fe, fake_log_write};
	return fe;
}

void fake_env_destroy(struct fake_env *fe)
{
	if (fe == NULL)
		return;
	for (int i = 0; i < fe->nmails; i++)
		free(fe->mails[i].data);
	free(fe);
}

const struct core_env *fake_env_core(struct fake_env *fe)
{
	return &fe->env;
}
