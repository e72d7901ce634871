/* sim/world_live.c - the live backend: per seed, clean servers, fault proxies
 * before Redis and PostgreSQL, a fresh fake Stripe and SMTP sink, the live
 * adapters, and wrappers around their ports that apply the Stripe, mail and
 * pool faults, count what the proxies fired and fail everything at the end.
 * Blocking reads only at set-up and after the run; direct lines during it. */
#include "sim/world_live.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "core/assert.h"
#include "sim/live/curl_loop.h"
#include "sim/live/fake_stripe.h"
#include "sim/live/mail_live.h"
#include "sim/live/pg_live.h"
#include "sim/live/proxy.h"
#include "sim/live/redis_live.h"
#include "sim/live/smtp_sink.h"
#include "sim/live/stripe_live.h"
#include "sim/live_plan.h"
#include "sim/prng.h"
#include "sim/sched.h"

#define FAKE_STRIPE_KEY "sk_test_faultline_live"
#define LIVE_READ_TIMEOUT_US 1000000     /* a state read during the run */
#define LIVE_SPIN_SLICE_US 10000         /* loop slices while waiting */
#define LIVE_LIST_TIMEOUT_US 10000000    /* reading Stripe's customer list */
#define LIVE_LIST_PAGE 100               /* Stripe's largest page */
#define LIVE_PG_CONNECT_TIMEOUT_US 2000000
#define LIVE_PG_WAITERS 1024
#define LIVE_CURL_TRANSFERS 64
#define LIVE_SINK_MESSAGE_MAX (1u << 20)
#define LIVE_SINK_SESSIONS 64
#define LIVE_SINK_IDLE_US 10000000

enum proxy_id { PX_REDIS, PX_PG, PX_COUNT };

enum lop_type {
	LOP_KV, LOP_ACQUIRE, LOP_EXEC, LOP_STRIPE, LOP_MAIL, LOP_PTTL, LOP_ORDER, LOP_CLAIM,
};

/* One operation in flight through a wrapper or a read. */
struct lop {
	struct world_live *wl;
	enum lop_type type;
	struct lop *prev, *next;      /* wl->ops */
	struct lop *qnext;            /* LOP_ORDER: the reader's queue */
	bool answered;                /* the caller's callback ran */
	bool inner_pending;           /* an adapter will call back */
	bool timer_pending;           /* a scheduler timer will run */
	bool held;                    /* the shutdown is walking it */
	union {
		kv_done_fn *kv;
		sql_acquire_fn *acquire;
		sql_done_fn *sql;
		stripe_done_fn *stripe;
		mail_done_fn *mail;
		world_pttl_fn *pttl;
		world_order_fn *order;
	} done;
	void *arg;
	uint64_t sent_us;             /* scheduler time */
	/* LOP_KV and LOP_CLAIM: copies of the commands */
	int ncmds;
	bool txn;
	struct kv_cmd cmds[KV_TXN_MAX];
	char *argbuf;
	/* LOP_EXEC */
	struct sql_conn *conn;
	bool release_deferred;
	/* a fault the wrapper applies, and the answer it holds back */
	bool faulted;
	struct fault_decision fd;
	enum outcome oc;
	int code;                     /* smtp code */
	char sqlstate[6];
	struct stripe_reply sr;
	char sr_type[FAULT_TEXT_MAX];
	char sr_customer[128];
	uint64_t deliver_at_us;       /* scheduler time; 0 at once */
	char order_id[64];            /* LOP_ORDER */
};

/* An async reader of orders on a direct libpq connection of its own: one
 * query at a time, a deadline each, and a dead reader answers "unknown". */
struct pg_reader {
	PGconn *pg;
	struct event *ev;
	bool broken;
	struct lop *head, *tail;      /* queued reads, head in flight */
	bool in_flight;
	bool kick_pending;            /* a timer will send the next read */
	struct sched_timer deadline;
	bool deadline_pending;
};

struct fault_timer {
	struct world_live *wl;
	size_t rule;
	bool start;
};

struct row2 {
	char *a, *b;
	long long n;
};

struct customer_row {
	char id[64];
	char user[64];
	uint64_t created_us;
};

struct kept_mail {
	char *data;
	size_t len;
};

struct world_live {
	struct event_base *base;
	char redis_url[WORLD_LIVE_URL_MAX];
	char redis_host[256];
	int redis_port;
	char pg_conninfo[WORLD_LIVE_URL_MAX];
	char pg_host[256];
	int pg_port;
	char stripe_url[STRIPE_LIVE_URL_MAX];   /* "" : the fake */
	char stripe_key[STRIPE_LIVE_KEY_MAX];
	char smtp_url[MAIL_LIVE_URL_MAX];       /* "" : the sink */
	char describe[2048];
	const struct live_plan *lp;

	/* one seed */
	struct world_seed seed;
	const struct scenario *sc;
	struct sched *s;
	uint64_t t0_us;               /* scheduler time when the seed opened */
	struct proxy *px[PX_COUNT];
	bool px_down[PX_COUNT];
	uint64_t px_fired[PX_COUNT];  /* toxics_fired already counted */
	size_t px_last_rule[PX_COUNT];/* the rule that last had a toxic there */
	bool px_has_rule[PX_COUNT];
	bool installed[FAULT_RULES_MAX];
	bool redis_may_stall;
	struct fault_timer timers[2 * FAULT_RULES_MAX];
	struct redis_live *redis;     /* through the proxy */
	struct redis_live *redis_direct;
	struct kv_port kv, kv_direct;
	struct pg_live *pg;
	struct sql_port sql;
	struct pg_reader reader;
	struct curl_loop *cl;
	struct fake_stripe *fake;
	struct stripe_live *stripe;
	struct stripe_port stripe_port;
	struct smtp_sink *sink;
	struct mail_live *mail;
	struct mail_port mail_port;
	struct lop *ops;
	uint64_t nops;
	bool shutdown;
	uint64_t faults[FAULT_TARGET_COUNT];
	int64_t wall0_s;              /* Unix time at open (real Stripe) */
	char newest_before[64];       /* real Stripe: newest customer before */
	/* the snapshot */
	struct row2 *orders; size_t norders;
	struct row2 *maps; size_t nmaps;
	struct customer_row *custs; size_t ncusts;
	struct kept_mail *mails; size_t nmails;
	bool list_done, list_failed, list_more;
	char list_err[256];
	char setup_err[640];          /* a set-up step that failed, or "" */
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t now_us(const struct world_live *wl)
{
	return sched_now_us(wl->s);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s != NULL ? s : "");
	ASSERT(d != NULL);
	return d;
}

static void spin_on_slice(void *arg)
{
	struct world_live *wl = arg;
	sched_stop(wl->s);
}

/* Runs the loop until *flag or until limit_us passes, in slices bounded by
 * scheduler timers (sched_run's own bound would outlive an early stop). */
static void spin_until(struct world_live *wl, const bool *flag, uint64_t limit_us)
{
	uint64_t start = now_us(wl);
	for (uint64_t guard = 0; !*flag && now_us(wl) - start < limit_us; guard++) {
		ASSERT(guard <= limit_us / LIVE_SPIN_SLICE_US + 1000);
		struct sched_timer t = sched_after(wl->s, LIVE_SPIN_SLICE_US, spin_on_slice, wl);
		sched_run(wl->s, UINT64_MAX);
		sched_cancel(wl->s, t);
	}
}

static void note_fault(struct world_live *wl, enum fault_target t, enum fault_kind k,
                       const char *op)
{
	wl->faults[t]++;
	if (wl->seed.hooks.on_fault != NULL)
		wl->seed.hooks.on_fault(wl->seed.hooks.arg, t, k, op);
}

/* The emulated deadline of a wrapper's timeout: the client's own, scaled
 * like the scenario's durations so a fault does not stall the suite. */
static uint64_t emulated_timeout_us(const struct world_live *wl, enum fault_target t)
{
	const struct backend_settings *b = t == FAULT_TARGET_STRIPE ? &wl->sc->stripe
	                                 : t == FAULT_TARGET_MAIL ? &wl->sc->mail
	                                 : &wl->sc->postgres;
	double k = wl->lp != NULL ? wl->lp->time_scale : 1.0;
	uint64_t d = live_plan_scale_us(b->timeout_us, k, WORLD_LIVE_EMULATED_MIN_US);
	return d < b->timeout_us ? d : b->timeout_us;
}

/* ---- addresses --------------------------------------------------------------- */

enum result world_live_redis_addr(const char *url, char *host, size_t hostsize, int *port,
                                  char *err, size_t errsize)
{
	const char *p = url;
	if (strncmp(p, "redis://", 8) != 0) {
		snprintf(err, errsize, "redis URL '%s' does not start with redis://", url);
		return RESULT_REJECT;
	}
	p += 8;
	size_t n = strcspn(p, ":/@");
	if (p[n] == '@') {
		snprintf(err, errsize, "redis URL '%s': user names and passwords are not supported",
		         url);
		return RESULT_REJECT;
	}
	if (n == 0 || n >= hostsize) {
		snprintf(err, errsize, "redis URL '%s' names no host", url);
		return RESULT_REJECT;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	p += n;
	long v = 6379;
	if (*p == ':') {
		char *end;
		errno = 0;
		v = strtol(p + 1, &end, 10);
		if (errno != 0 || end == p + 1 || v < 1 || v > 65535 || (*end != '\0' && *end != '/')) {
			snprintf(err, errsize, "redis URL '%s' has a bad port", url);
			return RESULT_REJECT;
		}
		p = end;
	}
	if (*p != '\0' && *p != '/') {
		snprintf(err, errsize, "redis URL '%s' is malformed", url);
		return RESULT_REJECT;
	}
	*port = (int)v;
	return RESULT_OK;
}

/* Appends key='value' with libpq's quoting. */
static bool conninfo_append(char *out, size_t size, size_t *used, const char *key,
                            const char *val)
{
	int n = snprintf(out + *used, size - *used, "%s%s='", *used ? " " : "", key);
	if (n < 0 || (size_t)n >= size - *used)
		return false;
	*used += (size_t)n;
	for (const char *c = val; *c != '\0'; c++) {
		if (*used + 3 >= size)
			return false;
		if (*c == '\'' || *c == '\\')
			out[(*used)++] = '\\';
		out[(*used)++] = *c;
	}
	if (*used + 2 >= size)
		return false;
	out[(*used)++] = '\'';
	out[*used] = '\0';
	return true;
}

enum result world_live_pg_addr(const char *conninfo, int port, char *host, size_t hostsize,
                               int *pg_port, char *rewritten, size_t rewritten_size, char *err,
                               size_t errsize)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		snprintf(err, errsize, "postgres connection string does not parse: %s",
		         perr != NULL ? perr : "out of memory");
		PQfreemem(perr);
		return RESULT_REJECT;
	}
	const char *h = NULL, *ha = NULL, *pt = NULL;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			h = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			ha = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			pt = o->val;
	}
	const char *addr = ha != NULL ? ha : h;
	enum result rc = RESULT_REJECT;
	if (addr == NULL || addr[0] == '/' || strchr(addr, ',') != NULL ||
	    (pt != NULL && strchr(pt, ',') != NULL)) {
		snprintf(err, errsize, "postgres: the fault proxy needs one TCP server: give "
		                       "host=127.0.0.1 (or hostaddr=) and port= in the connection string");
		goto out_opts;
	}
	long v = 5432;
	if (pt != NULL) {
		char *end;
		v = strtol(pt, &end, 10);
		if (*end != '\0' || v < 1 || v > 65535) {
			snprintf(err, errsize, "postgres: bad port '%s'", pt);
			goto out_opts;
		}
	}
	if (strlen(addr) >= hostsize) {
		snprintf(err, errsize, "postgres: host name too long");
		goto out_opts;
	}
	snprintf(host, hostsize, "%s", addr);
	*pg_port = (int)v;
	if (port > 0) {
		size_t used = 0;
		rewritten[0] = '\0';
		bool ok = true;
		for (PQconninfoOption *o = opts; ok && o->keyword != NULL; o++) {
			if (o->val == NULL || strcmp(o->keyword, "host") == 0 ||
			    strcmp(o->keyword, "hostaddr") == 0 || strcmp(o->keyword, "port") == 0)
				continue;
			ok = conninfo_append(rewritten, rewritten_size, &used, o->keyword, o->val);
		}
		char portbuf[16];
		snprintf(portbuf, sizeof portbuf, "%d", port);
		ok = ok && conninfo_append(rewritten, rewritten_size, &used, "host", "127.0.0.1") &&
		     conninfo_append(rewritten, rewritten_size, &used, "port", portbuf);
		if (!ok) {
			snprintf(err, errsize, "postgres: connection string too long");
			goto out_opts;
		}
	}
	rc = RESULT_OK;
out_opts:
	PQconninfoFree(opts);
	return rc;
}

/* ---- start-up checks ------------------------------------------------------------ */

/* A blocking connection that cannot hang on a silent server: the string's
 * own settings (key=value or URI), with connect_timeout forced. */
static PGconn *pg_connect_bounded(const char *conninfo)
{
	char secs[16];
	snprintf(secs, sizeof secs, "%d", (WORLD_LIVE_CONNECT_TIMEOUT_MS + 999) / 1000);
	const char *const keys[] = {"dbname", "connect_timeout", NULL};
	const char *const vals[] = {conninfo, secs, NULL};
	return PQconnectdbParams(keys, vals, 1);
}

enum result world_live_check_servers(struct world_live *wl, char *err, size_t errsize)
{
	ASSERT(wl != NULL);
	return world_live_check(wl->redis_url, wl->pg_conninfo, err, errsize);
}

enum result world_live_check(const char *redis_url, const char *pg_conninfo, char *err,
                             size_t errsize)
{
	struct world_live probe;
	struct world_live *wl = &probe;
	memset(wl, 0, sizeof *wl);
	snprintf(wl->redis_url, sizeof wl->redis_url, "%s", redis_url);
	snprintf(wl->pg_conninfo, sizeof wl->pg_conninfo, "%s", pg_conninfo);
	if (world_live_redis_addr(wl->redis_url, wl->redis_host, sizeof wl->redis_host,
	                          &wl->redis_port, err, errsize) != RESULT_OK ||
	    world_live_pg_addr(wl->pg_conninfo, 0, wl->pg_host, sizeof wl->pg_host, &wl->pg_port,
	                       NULL, 0, err, errsize) != RESULT_OK)
		return RESULT_REJECT;
	struct timeval tv = {.tv_sec = WORLD_LIVE_CONNECT_TIMEOUT_MS / 1000,
	                     .tv_usec = (WORLD_LIVE_CONNECT_TIMEOUT_MS % 1000) * 1000};
	redisContext *rc = redisConnectWithTimeout(wl->redis_host, wl->redis_port, tv);
	if (rc == NULL || rc->err) {
		int e = rc != NULL ? errno : ENOMEM;
		const char *why = rc == NULL ? "out of memory" : rc->errstr;
		if (rc != NULL && strstr(rc->errstr, "refused") != NULL)
			snprintf(err, errsize, "redis at %s:%d refused the connection", wl->redis_host,
			         wl->redis_port);
		else if (rc != NULL && (e == ETIMEDOUT || e == EINPROGRESS ||
		                        strstr(rc->errstr, "timed out") != NULL))
			snprintf(err, errsize, "redis at %s:%d did not answer within %d ms",
			         wl->redis_host, wl->redis_port, WORLD_LIVE_CONNECT_TIMEOUT_MS);
		else
			snprintf(err, errsize, "redis at %s:%d: %s", wl->redis_host, wl->redis_port, why);
		redisFree(rc);
		return RESULT_ERROR;
	}
	redisSetTimeout(rc, tv);
	redisReply *r = redisCommand(rc, "PING");
	bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(err, errsize, "redis at %s:%d did not answer PING: %s", wl->redis_host,
		         wl->redis_port, r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(rc);
	if (!ok)
		return RESULT_ERROR;

	PGconn *pg = pg_connect_bounded(wl->pg_conninfo);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		const char *msg = pg != NULL ? PQerrorMessage(pg) : "out of memory";
		if (strstr(msg, "refused") != NULL) {
			snprintf(err, errsize, "postgres at %s:%d refused the connection", wl->pg_host,
			         wl->pg_port);
		} else {
			size_t n = strcspn(msg, "\n");
			snprintf(err, errsize, "postgres at %s:%d: %.*s", wl->pg_host, wl->pg_port,
			         (int)(n < 200 ? n : 200), msg);
		}
		PQfinish(pg);
		return RESULT_ERROR;
	}
	PQfinish(pg);
	char perr[256];
	if (pg_live_setup_schema(wl->pg_conninfo, perr, sizeof perr) != RESULT_OK) {
		snprintf(err, errsize, "postgres at %s:%d: could not create the schema: %s",
		         wl->pg_host, wl->pg_port, perr);
		return RESULT_ERROR;
	}
	return RESULT_OK;
}

/* ---- ops ---------------------------------------------------------------------- */

static struct lop *lop_new(struct world_live *wl, enum lop_type type, void *arg)
{
	ASSERT(wl->nops < WORLD_LIVE_OPS_MAX);
	struct lop *op = calloc(1, sizeof *op);
	ASSERT(op != NULL);
	op->wl = wl;
	op->type = type;
	op->arg = arg;
	op->sent_us = now_us(wl);
	op->next = wl->ops;
	if (wl->ops != NULL)
		wl->ops->prev = op;
	wl->ops = op;
	wl->nops++;
	return op;
}

static void lop_free(struct lop *op)
{
	struct world_live *wl = op->wl;
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		wl->ops = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	ASSERT(wl->nops > 0);
	wl->nops--;
	free(op->argbuf);
	free(op);
}

static void lop_maybe_free(struct lop *op)
{
	if (op->answered && !op->inner_pending && !op->timer_pending && !op->held)
		lop_free(op);
}

static void kv_copy(struct lop *op, int ncmds, const struct kv_cmd *cmds)
{
	size_t cap = 0;
	for (int c = 0; c < ncmds; c++) {
		for (int i = 0; i < cmds[c].argc; i++)
			cap += strlen(cmds[c].argv[i]) + 1;
	}
	op->argbuf = malloc(cap ? cap : 1);
	ASSERT(op->argbuf != NULL);
	size_t used = 0;
	op->ncmds = ncmds;
	for (int c = 0; c < ncmds; c++) {
		ASSERT(cmds[c].argc > 0 && cmds[c].argc <= KV_ARGV_MAX);
		op->cmds[c].argc = cmds[c].argc;
		for (int i = 0; i < cmds[c].argc; i++) {
			size_t n = strlen(cmds[c].argv[i]) + 1;
			memcpy(op->argbuf + used, cmds[c].argv[i], n);
			op->cmds[c].argv[i] = op->argbuf + used;
			used += n;
		}
	}
}

/* Answers the caller with what op holds (oc and the type's payload). */
static void lop_answer(struct lop *op)
{
	ASSERT(!op->answered);
	op->answered = true;
	switch (op->type) {
	case LOP_KV:
		op->done.kv(op->arg, op->oc, NULL);
		break;
	case LOP_ACQUIRE:
		op->done.acquire(op->arg, op->oc, NULL,
		                 op->sqlstate[0] ? op->sqlstate : SQLSTATE_CONNECTION_FAILURE);
		break;
	case LOP_EXEC:
		op->done.sql(op->arg, op->oc, NULL);
		break;
	case LOP_STRIPE:
		op->done.stripe(op->arg, op->oc,
		                op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR ? &op->sr : NULL);
		break;
	case LOP_MAIL:
		op->done.mail(op->arg, op->oc, op->code);
		break;
	case LOP_PTTL:
		op->done.pttl(op->arg, false, 0);
		break;
	case LOP_ORDER:
		op->done.order(op->arg, false, false);
		break;
	case LOP_CLAIM:
		break;
	}
}

static void lop_on_timer(void *arg)
{
	struct lop *op = arg;
	op->timer_pending = false;
	if (!op->answered)
		lop_answer(op);
	lop_maybe_free(op);
}

/* Answers op with its held outcome after delay_us, never inside the call. */
static void lop_answer_later(struct lop *op, uint64_t delay_us)
{
	ASSERT(!op->timer_pending);
	op->timer_pending = true;
	sched_after(op->wl->s, delay_us, lop_on_timer, op);
}

static void lop_fail(struct lop *op, enum outcome oc)
{
	op->oc = oc;
	op->sr = (struct stripe_reply){.error_type = "", .customer_id = ""};
	lop_answer_later(op, 0);
}

/* ---- counting what the proxies fired -------------------------------------------- */

static enum fault_target px_target(enum proxy_id i)
{
	return i == PX_REDIS ? FAULT_TARGET_REDIS : FAULT_TARGET_POSTGRES;
}

/* Toxics report only a total per proxy: each fire is put down to the rule
 * whose toxic is there (the first installed, else the last removed). */
static void px_poll(struct world_live *wl)
{
	for (int i = 0; i < PX_COUNT; i++) {
		if (wl->px[i] == NULL)
			continue;
		struct proxy_stats st;
		proxy_get_stats(wl->px[i], &st);
		if (st.toxics_fired <= wl->px_fired[i])
			continue;
		uint64_t delta = st.toxics_fired - wl->px_fired[i];
		wl->px_fired[i] = st.toxics_fired;
		enum fault_kind kind = FAULT_ERROR;
		bool found = false;
		for (size_t r = 0; r < wl->lp->nrules && !found; r++) {
			const struct live_rule *lr = &wl->lp->rules[r];
			if (wl->installed[r] && lr->target == px_target((enum proxy_id)i)) {
				kind = lr->kind;
				found = true;
			}
		}
		if (!found && wl->px_has_rule[i])
			kind = wl->lp->rules[wl->px_last_rule[i]].kind;
		for (uint64_t k = 0; k < delta; k++)
			note_fault(wl, px_target((enum proxy_id)i), kind, "*");
	}
}

/* Closes every connection through the proxy, so a client stuck behind a
 * stalled one reconnects (unless the server is "down" anyway). */
static void px_bounce(struct world_live *wl, enum proxy_id i)
{
	if (wl->px[i] == NULL || wl->px_down[i])
		return;
	proxy_set_enabled(wl->px[i], false);
	proxy_set_enabled(wl->px[i], true);
}

/* ---- kv wrapper ------------------------------------------------------------- */

static void kv_report_applied(struct lop *op, const struct kv_reply *reply, uint64_t age_us)
{
	struct world_live *wl = op->wl;
	if (wl->seed.hooks.on_kv_applied == NULL)
		return;
	if (!op->txn) {
		wl->seed.hooks.on_kv_applied(wl->seed.hooks.arg, &op->cmds[0], reply, age_us);
		return;
	}
	if (reply->type != KV_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < reply->elements && i < (size_t)op->ncmds; i++)
		wl->seed.hooks.on_kv_applied(wl->seed.hooks.arg, &op->cmds[i], &reply->element[i],
		                             age_us);
}

static bool kv_is_set_nx(const struct kv_cmd *c)
{
	if (c->argc < 4 || strcasecmp(c->argv[0], "SET") != 0)
		return false;
	for (int i = 3; i < c->argc; i++) {
		if (strcasecmp(c->argv[i], "NX") == 0)
			return true;
	}
	return false;
}

static void claim_on_get(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	op->inner_pending = false;
	if (!op->wl->shutdown && oc == OUTCOME_OK && reply->type == KV_REPLY_BULK &&
	    strcmp(reply->str, op->cmds[0].argv[2]) == 0) {
		struct kv_reply ok = {.type = KV_REPLY_STATUS, .str = "OK", .len = 2};
		kv_report_applied(op, &ok, now_us(op->wl) - op->sent_us);
	}
	op->answered = true;
	lop_maybe_free(op);
}

/* A SET NX whose reply was lost may have been applied: the value it wrote
 * says so (the key outlives a client deadline), read on the direct line. */
static void kv_check_lost_claim(struct lop *from)
{
	struct world_live *wl = from->wl;
	struct lop *op = lop_new(wl, LOP_CLAIM, NULL);
	op->sent_us = from->sent_us;
	kv_copy(op, 1, &from->cmds[0]);
	struct kv_cmd get = {.argc = 2, .argv = {"GET", op->cmds[0].argv[1]}};
	op->inner_pending = true;
	wl->kv_direct.command(wl->kv_direct.ctx, &get, claim_on_get, op);
}

static void kv_on_inner(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	px_poll(wl);
	if (op->answered) {
		lop_maybe_free(op);
		return;
	}
	if (oc == OUTCOME_OK)
		kv_report_applied(op, reply, now_us(wl) - op->sent_us);
	else if ((oc == OUTCOME_TIMEOUT || oc == OUTCOME_CONN_LOST) && !op->txn &&
	         kv_is_set_nx(&op->cmds[0]))
		kv_check_lost_claim(op);
	/* redis_live keeps a connection past a deadline: when the proxy may
	 * have stalled it, reset it so later commands do not queue behind. */
	if (oc == OUTCOME_TIMEOUT && wl->redis_may_stall)
		px_bounce(wl, PX_REDIS);
	op->answered = true;
	op->done.kv(op->arg, oc, reply);
	lop_maybe_free(op);
}

static void kv_start(struct world_live *wl, int ncmds, const struct kv_cmd *cmds, bool txn,
                     kv_done_fn *done, void *arg)
{
	struct lop *op = lop_new(wl, LOP_KV, arg);
	op->done.kv = done;
	op->txn = txn;
	kv_copy(op, ncmds, cmds);
	if (wl->shutdown) {
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	op->inner_pending = true;
	if (txn)
		wl->kv.transaction(wl->kv.ctx, ncmds, cmds, kv_on_inner, op);
	else
		wl->kv.command(wl->kv.ctx, &cmds[0], kv_on_inner, op);
}

static void kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done, void *arg)
{
	kv_start(ctx, 1, cmd, false, done, arg);
}

static void kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds, kv_done_fn *done,
                           void *arg)
{
	ASSERT(ncmds > 0 && ncmds <= KV_TXN_MAX);
	kv_start(ctx, ncmds, cmds, true, done, arg);
}

/* ---- fault decisions of the wrappers --------------------------------------------- */

static uint64_t run_us(const struct world_live *wl)
{
	return now_us(wl) - wl->t0_us;
}

/* The same decision the simulated network takes, on the wrapper-applied
 * rules (sim/live_plan.c keeps only those in the run's plan). */
static bool wrap_decide(struct world_live *wl, struct lop *op, enum fault_target t,
                        const char *opname)
{
	struct fault_decision fd;
	if (!fault_plan_decide(wl->seed.plan, wl->seed.net, t, opname, run_us(wl), &fd))
		return false;
	op->faulted = true;
	op->fd = fd;
	note_fault(wl, t, fd.rule->kind, opname);
	return true;
}

static bool wrap_down(struct world_live *wl, enum fault_target t)
{
	return fault_plan_down(wl->seed.plan, t, run_us(wl), NULL);
}

static enum fault_kind lop_kind(const struct lop *op)
{
	return op->faulted ? op->fd.rule->kind : FAULT_KIND_COUNT;
}

/* Delivers a held answer no earlier than deliver_at_us. */
static void lop_deliver(struct lop *op)
{
	uint64_t now = now_us(op->wl);
	lop_answer_later(op, op->deliver_at_us > now ? op->deliver_at_us - now : 0);
}

/* ---- sql wrapper --------------------------------------------------------------- */

static void sql_on_acquire(void *arg, enum outcome oc, struct sql_conn *conn,
                           const char *sqlstate)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	px_poll(wl);
	if (op->answered) {
		/* Answered by the shutdown: the connection goes straight back. */
		if (oc == OUTCOME_OK && conn != NULL)
			wl->sql.release(wl->sql.ctx, conn);
		lop_maybe_free(op);
		return;
	}
	op->answered = true;
	op->done.acquire(op->arg, oc, conn, sqlstate);
	lop_maybe_free(op);
}

static void sql_acquire(void *ctx, sql_acquire_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = lop_new(wl, LOP_ACQUIRE, arg);
	op->done.acquire = done;
	if (wl->shutdown || wrap_down(wl, FAULT_TARGET_POSTGRES)) {
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	wrap_decide(wl, op, FAULT_TARGET_POSTGRES, "acquire");
	switch (lop_kind(op)) {
	case FAULT_POOL_EXHAUSTED:
	case FAULT_SERVER_ERROR: {
		const char *st = lop_kind(op) == FAULT_SERVER_ERROR && strlen(op->fd.rule->error) == 5
		                 ? op->fd.rule->error : SQLSTATE_TOO_MANY_CONNECTIONS;
		memcpy(op->sqlstate, st, 5);
		op->sqlstate[5] = '\0';
		lop_fail(op, OUTCOME_ERROR);
		return;
	}
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_TIMEOUT_NOT_APPLIED:
	case FAULT_STALL:
		op->oc = OUTCOME_TIMEOUT;
		lop_answer_later(op, emulated_timeout_us(wl, FAULT_TARGET_POSTGRES));
		return;
	default:
		break;
	}
	op->inner_pending = true;
	wl->sql.acquire(wl->sql.ctx, sql_on_acquire, op);
}

static void sql_on_exec(void *arg, enum outcome oc, const struct sql_result *res)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	px_poll(wl);
	if (op->answered) {
		if (op->release_deferred)
			wl->sql.release(wl->sql.ctx, op->conn);
		lop_maybe_free(op);
		return;
	}
	op->answered = true;
	op->done.sql(op->arg, oc, res);
	lop_maybe_free(op);
}

static void sql_exec(void *ctx, struct sql_conn *conn, enum sql_stmt stmt, int nparams,
                     const char *const *params, sql_done_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = lop_new(wl, LOP_EXEC, arg);
	op->done.sql = done;
	op->conn = conn;
	if (wl->shutdown) {
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	op->inner_pending = true;
	wl->sql.exec(wl->sql.ctx, conn, stmt, nparams, params, sql_on_exec, op);
}

static void sql_release(void *ctx, struct sql_conn *conn)
{
	struct world_live *wl = ctx;
	/* After the shutdown answered a statement early, pg_live still runs
	 * it: the connection goes back when pg_live is done with it. */
	for (struct lop *op = wl->ops; op != NULL; op = op->next) {
		if (op->type == LOP_EXEC && op->conn == conn && op->inner_pending) {
			op->release_deferred = true;
			return;
		}
	}
	wl->sql.release(wl->sql.ctx, conn);
}

/* ---- stripe wrapper ---------------------------------------------------------------- */

static void stripe_hold(struct lop *op, enum outcome oc, const struct stripe_reply *r)
{
	op->oc = oc;
	op->sr = (struct stripe_reply){.error_type = op->sr_type, .customer_id = op->sr_customer};
	op->sr_type[0] = op->sr_customer[0] = '\0';
	if (r != NULL) {
		op->sr.http_status = r->http_status;
		op->sr.idempotent_replay = r->idempotent_replay;
		snprintf(op->sr_type, sizeof op->sr_type, "%s", r->error_type ? r->error_type : "");
		snprintf(op->sr_customer, sizeof op->sr_customer, "%s",
		         r->customer_id ? r->customer_id : "");
	}
}

static void stripe_on_inner(void *arg, enum outcome oc, const struct stripe_reply *r)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	fault_plan_note(wl->seed.plan, FAULT_TARGET_STRIPE, "customers.create");
	if (op->answered) {
		lop_maybe_free(op);
		return;
	}
	stripe_hold(op, oc, r);
	op->deliver_at_us = now_us(wl);
	switch (lop_kind(op)) {
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_STALL:
		/* Applied, and the client hears nothing before its deadline. */
		op->oc = OUTCOME_TIMEOUT;
		op->deliver_at_us = op->sent_us + emulated_timeout_us(wl, FAULT_TARGET_STRIPE);
		break;
	case FAULT_SERVER_ERROR:
		/* Stripe ran it (a 5xx), and answered an error. */
		op->oc = OUTCOME_ERROR;
		op->sr.http_status = op->fd.rule->status ? op->fd.rule->status : 500;
		snprintf(op->sr_type, sizeof op->sr_type, "%s",
		         op->fd.rule->error[0] ? op->fd.rule->error : "api_error");
		op->sr_customer[0] = '\0';
		break;
	case FAULT_LATENCY:
		op->deliver_at_us += op->fd.latency_us;
		break;
	default:
		break;
	}
	lop_deliver(op);
}

static void stripe_customer_create(void *ctx, const struct stripe_customer_params *p,
                                   stripe_done_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = lop_new(wl, LOP_STRIPE, arg);
	op->done.stripe = done;
	if (wl->shutdown || wrap_down(wl, FAULT_TARGET_STRIPE)) {
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	wrap_decide(wl, op, FAULT_TARGET_STRIPE, "customers.create");
	switch (lop_kind(op)) {
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	case FAULT_TIMEOUT_NOT_APPLIED:
		stripe_hold(op, OUTCOME_TIMEOUT, NULL);
		lop_answer_later(op, emulated_timeout_us(wl, FAULT_TARGET_STRIPE));
		return;
	case FAULT_STALL:
		if (!op->fd.rule->stall_applied) {
			stripe_hold(op, OUTCOME_TIMEOUT, NULL);
			lop_answer_later(op, emulated_timeout_us(wl, FAULT_TARGET_STRIPE));
			return;
		}
		break;
	case FAULT_SERVER_ERROR: {
		int status = op->fd.rule->status ? op->fd.rule->status : 500;
		if (status == 500 || status == 502 || status == 503)
			break;
		/* Refused before Stripe's API ran (429, 409, 400): nothing saved. */
		struct stripe_reply r = {
			.http_status = status,
			.error_type = op->fd.rule->error[0] ? op->fd.rule->error
			              : status == 429 ? "rate_limit_error" : "api_error",
			.customer_id = "",
		};
		stripe_hold(op, OUTCOME_ERROR, &r);
		lop_answer_later(op, 0);
		return;
	}
	default:
		break;
	}
	op->inner_pending = true;
	wl->stripe_port.customer_create(wl->stripe_port.ctx, p, stripe_on_inner, op);
}

/* ---- mail wrapper ------------------------------------------------------------------- */

static void mail_keep(struct world_live *wl, const struct mail_message *m)
{
	if (wl->nmails >= WORLD_LIVE_MAILS_MAX)
		return;
	if (wl->mails == NULL) {
		wl->mails = calloc(WORLD_LIVE_MAILS_MAX, sizeof *wl->mails);
		ASSERT(wl->mails != NULL);
	}
	struct kept_mail *k = &wl->mails[wl->nmails++];
	k->data = malloc(m->len + 1);
	ASSERT(k->data != NULL);
	memcpy(k->data, m->data, m->len);
	k->data[m->len] = '\0';
	k->len = m->len;
}

static void mail_on_inner(void *arg, enum outcome oc, int smtp_code)
{
	struct lop *op = arg;
	struct world_live *wl = op->wl;
	op->inner_pending = false;
	fault_plan_note(wl->seed.plan, FAULT_TARGET_MAIL, "send");
	if (op->answered) {
		lop_maybe_free(op);
		return;
	}
	op->oc = oc;
	op->code = smtp_code;
	op->deliver_at_us = now_us(wl);
	switch (lop_kind(op)) {
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_STALL:
		op->oc = OUTCOME_TIMEOUT;
		op->code = 0;
		op->deliver_at_us = op->sent_us + emulated_timeout_us(wl, FAULT_TARGET_MAIL);
		break;
	case FAULT_LATENCY:
		op->deliver_at_us += op->fd.latency_us;
		break;
	default:
		break;
	}
	lop_deliver(op);
}

static void mail_send(void *ctx, const struct mail_message *m, mail_done_fn *done, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = lop_new(wl, LOP_MAIL, arg);
	op->done.mail = done;
	if (wl->shutdown || wrap_down(wl, FAULT_TARGET_MAIL)) {
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	}
	wrap_decide(wl, op, FAULT_TARGET_MAIL, "send");
	switch (lop_kind(op)) {
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		lop_fail(op, OUTCOME_CONN_LOST);
		return;
	case FAULT_TIMEOUT_NOT_APPLIED:
		op->oc = OUTCOME_TIMEOUT;
		lop_answer_later(op, emulated_timeout_us(wl, FAULT_TARGET_MAIL));
		return;
	case FAULT_STALL:
		if (!op->fd.rule->stall_applied) {
			op->oc = OUTCOME_TIMEOUT;
			lop_answer_later(op, emulated_timeout_us(wl, FAULT_TARGET_MAIL));
			return;
		}
		break;
	case FAULT_SERVER_ERROR:
		op->code = op->fd.rule->status ? op->fd.rule->status : 451;
		lop_fail(op, OUTCOME_ERROR);
		return;
	default:
		break;
	}
	/* With a server of the user's, the outbox is what it accepted as the
	 * client saw it; the built-in sink records what really arrived. */
	if (wl->sink == NULL)
		mail_keep(wl, m);
	op->inner_pending = true;
	wl->mail_port.send(wl->mail_port.ctx, m, mail_on_inner, op);
}

/* ---- reads during the run --------------------------------------------------------- */

static void pttl_on_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	op->inner_pending = false;
	if (!op->answered) {
		op->answered = true;
		bool known = oc == OUTCOME_OK && reply->type == KV_REPLY_INTEGER;
		op->done.pttl(op->arg, known, known ? reply->integer : 0);
	}
	lop_maybe_free(op);
}

static void live_read_pttl(void *ctx, const char *key, world_pttl_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = lop_new(wl, LOP_PTTL, arg);
	op->done.pttl = fn;
	if (wl->shutdown) {
		lop_answer_later(op, 0);
		return;
	}
	struct kv_cmd c = {.argc = 2, .argv = {"PTTL", key}};
	op->inner_pending = true;
	wl->kv_direct.command(wl->kv_direct.ctx, &c, pttl_on_reply, op);
}

static void reader_next(struct world_live *wl);

static void reader_break(struct world_live *wl)
{
	struct pg_reader *rd = &wl->reader;
	rd->broken = true;
	if (rd->ev != NULL) {
		event_free(rd->ev);
		rd->ev = NULL;
	}
	if (rd->deadline_pending) {
		sched_cancel(wl->s, rd->deadline);
		rd->deadline_pending = false;
	}
	PQfinish(rd->pg);
	rd->pg = NULL;
}

/* Ends the read at the head of the queue. */
static void reader_finish(struct world_live *wl, bool known, bool paid)
{
	struct pg_reader *rd = &wl->reader;
	struct lop *op = rd->head;
	ASSERT(op != NULL);
	rd->head = op->qnext;
	if (rd->head == NULL)
		rd->tail = NULL;
	rd->in_flight = false;
	if (rd->deadline_pending) {
		sched_cancel(wl->s, rd->deadline);
		rd->deadline_pending = false;
	}
	op->inner_pending = false;
	if (!op->answered) {
		op->answered = true;
		op->done.order(op->arg, known, paid);
	}
	lop_maybe_free(op);
}

static void reader_on_deadline(void *arg)
{
	struct world_live *wl = arg;
	wl->reader.deadline_pending = false;
	reader_break(wl);
	reader_finish(wl, false, false);
	reader_next(wl);
}

static void reader_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct world_live *wl = arg;
	struct pg_reader *rd = &wl->reader;
	(void)fd;
	(void)what;
	if (!rd->in_flight || rd->pg == NULL)
		return;
	if (!PQconsumeInput(rd->pg)) {
		reader_break(wl);
		reader_finish(wl, false, false);
		reader_next(wl);
		return;
	}
	if (PQisBusy(rd->pg))
		return;
	bool known = false, paid = false;
	PGresult *res;
	/* A query gives one result then NULL; bounded all the same. */
	for (int i = 0; i < 8 && (res = PQgetResult(rd->pg)) != NULL; i++) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			known = true;
			paid = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "paid") == 0;
		}
		PQclear(res);
	}
	reader_finish(wl, known, paid);
	reader_next(wl);
}

/* Sends the read at the head of the queue, or answers every queued read
 * "unknown" once the reader is broken. */
static void reader_next(struct world_live *wl)
{
	struct pg_reader *rd = &wl->reader;
	for (size_t guard = 0; rd->head != NULL && !rd->in_flight; guard++) {
		ASSERT(guard <= WORLD_LIVE_READS_MAX);
		if (rd->broken || wl->shutdown) {
			reader_finish(wl, false, false);
			continue;
		}
		const char *params[1] = {rd->head->order_id};
		if (!PQsendQueryParams(rd->pg, "SELECT status FROM orders WHERE order_id = $1", 1,
		                       NULL, params, NULL, NULL, 0) ||
		    PQflush(rd->pg) != 0) {
			reader_break(wl);
			continue;
		}
		rd->in_flight = true;
		rd->deadline = sched_after(wl->s, LIVE_READ_TIMEOUT_US, reader_on_deadline, wl);
		rd->deadline_pending = true;
	}
}

static void reader_on_kick(void *arg)
{
	struct world_live *wl = arg;
	wl->reader.kick_pending = false;
	reader_next(wl);
}

static void live_read_order(void *ctx, const char *order_id, world_order_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	struct pg_reader *rd = &wl->reader;
	struct lop *op = lop_new(wl, LOP_ORDER, arg);
	op->done.order = fn;
	snprintf(op->order_id, sizeof op->order_id, "%s", order_id);
	if (rd->broken || wl->shutdown) {
		lop_answer_later(op, 0); /* "unknown" */
		return;
	}
	op->inner_pending = true;
	if (rd->tail != NULL)
		rd->tail->qnext = op;
	else
		rd->head = op;
	rd->tail = op;
	/* Sent from a timer, so that even a failure answers after the call. */
	if (!rd->kick_pending && !rd->in_flight) {
		rd->kick_pending = true;
		sched_after(wl->s, 0, reader_on_kick, wl);
	}
}

static enum result reader_open(struct world_live *wl, char *err, size_t errsize)
{
	struct pg_reader *rd = &wl->reader;
	memset(rd, 0, sizeof *rd);
	rd->pg = pg_connect_bounded(wl->pg_conninfo);
	if (rd->pg == NULL || PQstatus(rd->pg) != CONNECTION_OK) {
		snprintf(err, errsize, "postgres at %s:%d: %s", wl->pg_host, wl->pg_port,
		         rd->pg != NULL ? PQerrorMessage(rd->pg) : "out of memory");
		PQfinish(rd->pg);
		rd->pg = NULL;
		rd->broken = true;
		return RESULT_ERROR;
	}
	PQsetnonblocking(rd->pg, 1);
	rd->ev = event_new(wl->base, PQsocket(rd->pg), EV_READ | EV_PERSIST, reader_on_readable,
	                   wl);
	if (rd->ev == NULL || event_add(rd->ev, NULL) != 0) {
		reader_break(wl);
		return RESULT_NOMEM;
	}
	return RESULT_OK;
}

/* ---- timed faults -------------------------------------------------------------- */

static enum proxy_id rule_proxy(const struct live_rule *lr)
{
	return lr->target == FAULT_TARGET_REDIS ? PX_REDIS : PX_PG;
}

static void flush_on_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	(void)oc;
	(void)reply;
	op->inner_pending = false;
	op->answered = true;
	lop_maybe_free(op);
}

static void fault_timer_fire(void *arg)
{
	struct fault_timer *ft = arg;
	struct world_live *wl = ft->wl;
	const struct live_rule *lr = &wl->lp->rules[ft->rule];
	if (wl->shutdown)
		return;
	enum proxy_id px = rule_proxy(lr);
	char err[256];
	switch (lr->how) {
	case LIVE_RULE_PROXY:
		if (ft->start) {
			if (proxy_add_toxic(wl->px[px], &lr->toxic, err, sizeof err) != RESULT_OK)
				return; /* checked by live_plan: only a bug gets here */
			wl->installed[ft->rule] = true;
			wl->px_has_rule[px] = true;
			wl->px_last_rule[px] = ft->rule;
			if (lr->stalls)
				wl->redis_may_stall = true;
		} else {
			px_poll(wl); /* its fires so far go to it */
			proxy_remove_toxic(wl->px[px], lr->toxic.name);
			wl->installed[ft->rule] = false;
			/* A connection it stalled stays stalled: reset it. */
			if (lr->stalls)
				px_bounce(wl, px);
		}
		return;
	case LIVE_RULE_RESTART:
		if (ft->start) {
			wl->px_down[px] = true;
			proxy_set_enabled(wl->px[px], false);
			note_fault(wl, lr->target, FAULT_RESTART, "*");
			if (lr->flush_keys) {
				/* Redis without persistence comes back empty. */
				struct lop *op = lop_new(wl, LOP_CLAIM, NULL);
				struct kv_cmd c = {.argc = 1, .argv = {"FLUSHDB"}};
				op->inner_pending = true;
				wl->kv_direct.command(wl->kv_direct.ctx, &c, flush_on_reply, op);
			}
		} else {
			wl->px_down[px] = false;
			proxy_set_enabled(wl->px[px], true);
		}
		return;
	case LIVE_RULE_WRAPPER:
		/* A Stripe or mail restart: the wrappers see it through the plan;
		 * it is counted once, as the models count it. */
		note_fault(wl, lr->target, FAULT_RESTART, "*");
		return;
	case LIVE_RULE_NOT_APPLIED:
		return;
	}
}

static void fault_timer_arm(struct world_live *wl, size_t rule, bool start, uint64_t at_us,
                            size_t *k)
{
	ASSERT(*k < 2 * FAULT_RULES_MAX);
	struct fault_timer *ft = &wl->timers[(*k)++];
	*ft = (struct fault_timer){.wl = wl, .rule = rule, .start = start};
	uint64_t now = run_us(wl);
	if (start && at_us <= now) {
		fault_timer_fire(ft); /* before any request: at once */
		return;
	}
	sched_after(wl->s, at_us > now ? at_us - now : 0, fault_timer_fire, ft);
}

static void live_start_faults(void *ctx)
{
	struct world_live *wl = ctx;
	size_t k = 0;
	for (size_t i = 0; i < wl->lp->nrules; i++) {
		const struct live_rule *lr = &wl->lp->rules[i];
		bool timed = lr->how == LIVE_RULE_PROXY || lr->how == LIVE_RULE_RESTART ||
		             (lr->how == LIVE_RULE_WRAPPER && lr->kind == FAULT_RESTART);
		if (!timed)
			continue;
		fault_timer_arm(wl, i, true, lr->from_us, &k);
		if (lr->until_us != UINT64_MAX && lr->how != LIVE_RULE_WRAPPER)
			fault_timer_arm(wl, i, false, lr->until_us, &k);
	}
}

static uint64_t live_fault_count(void *ctx, enum fault_target target)
{
	struct world_live *wl = ctx;
	ASSERT((unsigned)target < FAULT_TARGET_COUNT);
	return wl->faults[target];
}

/* ---- set-up ----------------------------------------------------------------------- */

static enum result redis_flush_sync(struct world_live *wl, char *err, size_t errsize)
{
	struct timeval tv = {.tv_sec = WORLD_LIVE_CONNECT_TIMEOUT_MS / 1000,
	                     .tv_usec = (WORLD_LIVE_CONNECT_TIMEOUT_MS % 1000) * 1000};
	redisContext *rc = redisConnectWithTimeout(wl->redis_host, wl->redis_port, tv);
	if (rc == NULL || rc->err) {
		snprintf(err, errsize, "redis at %s:%d: %s", wl->redis_host, wl->redis_port,
		         rc != NULL ? rc->errstr : "out of memory");
		redisFree(rc);
		return RESULT_ERROR;
	}
	redisSetTimeout(rc, tv);
	redisReply *r = redisCommand(rc, "FLUSHDB");
	bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(err, errsize, "redis at %s:%d: FLUSHDB failed: %s", wl->redis_host,
		         wl->redis_port, r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(rc);
	return ok ? RESULT_OK : RESULT_ERROR;
}

static enum result live_list_page(struct world_live *wl, const char *base_url,
                                  const char *key, const char *after, size_t limit);

static void seed_state_reset(struct world_live *wl)
{
	memset(wl->px, 0, sizeof wl->px);
	memset(wl->px_down, 0, sizeof wl->px_down);
	memset(wl->px_fired, 0, sizeof wl->px_fired);
	memset(wl->px_has_rule, 0, sizeof wl->px_has_rule);
	memset(wl->installed, 0, sizeof wl->installed);
	memset(wl->faults, 0, sizeof wl->faults);
	wl->redis_may_stall = false;
	wl->shutdown = false;
	wl->setup_err[0] = '\0';
	wl->newest_before[0] = '\0';
}

static enum result live_open(void *ctx, const struct world_seed *seed, struct sched **s,
                             struct core_env *env, char *err, size_t errsize)
{
	struct world_live *wl = ctx;
	ASSERT(wl->lp != NULL);
	ASSERT(wl->s == NULL);
	seed_state_reset(wl);
	wl->seed = *seed;
	wl->sc = seed->sc;
	if ((wl->s = sched_create(wl->base, SCHED_REAL, NULL)) == NULL)
		return RESULT_NOMEM;
	/* Every seed starts from clean servers. */
	if (redis_flush_sync(wl, err, errsize) != RESULT_OK)
		return RESULT_ERROR;
	char perr[256];
	if (pg_live_truncate(wl->pg_conninfo, perr, sizeof perr) != RESULT_OK) {
		snprintf(err, errsize, "postgres at %s:%d: could not empty the tables: %s",
		         wl->pg_host, wl->pg_port, perr);
		return RESULT_ERROR;
	}
	/* The proxies; their toxics draw from the run's seed. */
	const char *names[PX_COUNT] = {"redis", "postgres"};
	for (int i = 0; i < PX_COUNT; i++) {
		char up[300];
		snprintf(up, sizeof up, "%s:%d", i == PX_REDIS ? wl->redis_host : wl->pg_host,
		         i == PX_REDIS ? wl->redis_port : wl->pg_port);
		struct proxy_config pc = {.name = names[i], .listen = "127.0.0.1:0", .upstream = up,
		                          .seed = seed->seed};
		char perr2[256];
		if ((wl->px[i] = proxy_create(wl->base, &pc, perr2, sizeof perr2)) == NULL) {
			snprintf(err, errsize, "fault proxy for %s: %s", names[i], perr2);
			return RESULT_ERROR;
		}
	}
	char url[WORLD_LIVE_URL_MAX + 64];
	snprintf(url, sizeof url, "redis://127.0.0.1:%u", proxy_listen_port(wl->px[PX_REDIS]));
	wl->redis = redis_live_create(wl->base, wl->s, url, wl->sc->redis.timeout_us, err, errsize);
	if (wl->redis == NULL)
		return RESULT_ERROR;
	wl->redis_direct = redis_live_create(wl->base, wl->s, wl->redis_url, LIVE_READ_TIMEOUT_US,
	                                     err, errsize);
	if (wl->redis_direct == NULL)
		return RESULT_ERROR;
	redis_live_port(wl->redis, &wl->kv);
	redis_live_port(wl->redis_direct, &wl->kv_direct);

	char ci[WORLD_LIVE_URL_MAX + 64], host[256];
	int pgp;
	if (world_live_pg_addr(wl->pg_conninfo, proxy_listen_port(wl->px[PX_PG]), host, sizeof host,
	                       &pgp, ci, sizeof ci, err, errsize) != RESULT_OK)
		return RESULT_ERROR;
	int pool = (int)wl->sc->pg_pool_size;
	struct pg_live_config pcfg = {
		.conninfo = ci,
		.pool_size = pool < 1 ? 1 : pool > PG_LIVE_POOL_MAX ? PG_LIVE_POOL_MAX : pool,
		.wait_queue_max = LIVE_PG_WAITERS,
		.acquire_timeout_us = wl->sc->postgres.timeout_us,
		.statement_timeout_us = wl->sc->postgres.timeout_us,
		.connect_timeout_us = LIVE_PG_CONNECT_TIMEOUT_US,
	};
	if ((wl->pg = pg_live_create(wl->base, wl->s, &pcfg, err, errsize)) == NULL)
		return RESULT_ERROR;
	pg_live_port(wl->pg, &wl->sql);
	enum result rrc = reader_open(wl, err, errsize);
	if (rrc != RESULT_OK)
		return rrc;

	if ((wl->cl = curl_loop_create(wl->base, LIVE_CURL_TRANSFERS)) == NULL)
		return RESULT_NOMEM;
	const char *stripe_base = wl->stripe_url;
	const char *stripe_key = wl->stripe_key;
	if (wl->stripe_url[0] == '\0') {
		struct fake_stripe_config fc = {.port = 0, .api_key = FAKE_STRIPE_KEY,
		                                .id_seed = seed->seed,
		                                .process_us = wl->sc->stripe.latency.min_us};
		if ((wl->fake = fake_stripe_create(wl->base, wl->s, &fc, err, errsize)) == NULL)
			return RESULT_ERROR;
		stripe_base = fake_stripe_url(wl->fake);
		stripe_key = FAKE_STRIPE_KEY;
	}
	struct stripe_live_config scfg = {.base_url = stripe_base, .api_key = stripe_key,
	                                  .timeout_us = wl->sc->stripe.timeout_us};
	if ((wl->stripe = stripe_live_create(wl->cl, wl->s, &scfg, err, errsize)) == NULL)
		return RESULT_ERROR;
	stripe_live_port(wl->stripe, &wl->stripe_port);

	const char *smtp = wl->smtp_url;
	char sink_url[64];
	if (wl->smtp_url[0] == '\0') {
		struct smtp_sink_config kc = {.port = 0, .message_max = LIVE_SINK_MESSAGE_MAX,
		                              .sessions_max = LIVE_SINK_SESSIONS,
		                              .idle_timeout_us = LIVE_SINK_IDLE_US};
		if ((wl->sink = smtp_sink_create(&kc, err, errsize)) == NULL)
			return RESULT_ERROR;
		snprintf(sink_url, sizeof sink_url, "smtp://127.0.0.1:%d", smtp_sink_port(wl->sink));
		smtp = sink_url;
	}
	struct mail_live_config mcfg = {.url = smtp, .timeout_us = wl->sc->mail.timeout_us};
	if ((wl->mail = mail_live_create(wl->cl, wl->s, &mcfg, err, errsize)) == NULL)
		return RESULT_ERROR;
	mail_live_port(wl->mail, &wl->mail_port);

	wl->t0_us = now_us(wl);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wl->wall0_s = (int64_t)ts.tv_sec;
	if (wl->stripe_url[0] != '\0') {
		/* A real account keeps its customers: only those created from now
		 * on belong to this seed. */
		if (live_list_page(wl, wl->stripe_url, wl->stripe_key, NULL, 1) != RESULT_OK) {
			snprintf(err, errsize, "stripe at %s: %s", wl->stripe_url, wl->list_err);
			return RESULT_ERROR;
		}
		if (wl->ncusts > 0)
			snprintf(wl->newest_before, sizeof wl->newest_before, "%s", wl->custs[0].id);
		wl->ncusts = 0;
	}
	env->kv = (struct kv_port){.ctx = wl, .command = kv_command,
	                           .transaction = kv_transaction};
	env->sql = (struct sql_port){.ctx = wl, .acquire = sql_acquire, .exec = sql_exec,
	                             .release = sql_release};
	env->stripe = (struct stripe_port){.ctx = wl, .customer_create = stripe_customer_create};
	env->mail = (struct mail_port){.ctx = wl, .send = mail_send};
	*s = wl->s;
	return RESULT_OK;
}

static void live_seed_order(void *ctx, const char *order_id, const char *payment_intent_id)
{
	struct world_live *wl = ctx;
	/* Set-up, before the run: a blocking insert on the reader's line. */
	const char *params[2] = {order_id, payment_intent_id};
	struct pg_reader *rd = &wl->reader;
	if (rd->pg == NULL) {
		if (wl->setup_err[0] == '\0')
			snprintf(wl->setup_err, sizeof wl->setup_err, "postgres at %s:%d: no connection "
			         "to insert order %s", wl->pg_host, wl->pg_port, order_id);
		return;
	}
	PQsetnonblocking(rd->pg, 0);
	PGresult *res = PQexecParams(rd->pg,
	                             "INSERT INTO orders (order_id, payment_intent_id, status, "
	                             "paid_count) VALUES ($1, $2, 'pending', 0)",
	                             2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && wl->setup_err[0] == '\0')
		snprintf(wl->setup_err, sizeof wl->setup_err, "postgres at %s:%d: inserting order %s: %s",
		         wl->pg_host, wl->pg_port, order_id, PQresultErrorMessage(res));
	PQclear(res);
	PQsetnonblocking(rd->pg, 1);
}

/* ---- the snapshot ---------------------------------------------------------------- */

static void list_on_done(void *arg, CURL *easy, const struct curl_loop_response *r)
{
	struct world_live *wl = arg;
	(void)easy;
	wl->list_done = true;
	wl->list_more = false;
	if (r->code != CURLE_OK || r->status != 200) {
		wl->list_failed = true;
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: %s (HTTP %ld)",
		         r->code != CURLE_OK ? r->error : "refused", r->status);
		return;
	}
	json_error_t je;
	json_t *root = json_loadb(r->body, r->body_len, 0, &je);
	json_t *data = json_object_get(root, "data");
	if (!json_is_array(data)) {
		wl->list_failed = true;
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: no data array");
		json_decref(root);
		return;
	}
	size_t i;
	json_t *c;
	json_array_foreach(data, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		if (id == NULL)
			continue;
		if (wl->newest_before[0] != '\0' && strcmp(id, wl->newest_before) == 0) {
			json_decref(root);
			return; /* older customers are not this seed's */
		}
		if (wl->ncusts >= WORLD_LIVE_CUSTOMERS_MAX)
			break;
		struct customer_row *row = &wl->custs[wl->ncusts++];
		snprintf(row->id, sizeof row->id, "%s", id);
		const char *user = json_string_value(json_object_get(json_object_get(c, "metadata"),
		                                                     "user_id"));
		snprintf(row->user, sizeof row->user, "%s", user != NULL ? user : "");
		json_int_t created = json_integer_value(json_object_get(c, "created"));
		int64_t rel = wl->fake != NULL ? (int64_t)created : (int64_t)created - wl->wall0_s;
		int64_t rel_us = rel * 1000000 - (wl->fake != NULL ? (int64_t)wl->t0_us : 0);
		row->created_us = rel_us > 0 ? (uint64_t)rel_us : 0;
	}
	wl->list_more = json_is_true(json_object_get(root, "has_more")) && json_array_size(data) > 0;
	json_decref(root);
}

/* One page of GET /v1/customers (newest first), appended to custs. */
static enum result live_list_page(struct world_live *wl, const char *base_url,
                                  const char *key, const char *after, size_t limit)
{
	if (wl->custs == NULL) {
		wl->custs = calloc(WORLD_LIVE_CUSTOMERS_MAX, sizeof *wl->custs);
		if (wl->custs == NULL)
			return RESULT_NOMEM;
	}
	char url[STRIPE_LIVE_URL_MAX + 128];
	snprintf(url, sizeof url, "%s/v1/customers?limit=%zu%s%s", base_url, limit,
	         after != NULL ? "&starting_after=" : "", after != NULL ? after : "");
	CURL *easy = curl_easy_init();
	if (easy == NULL)
		return RESULT_NOMEM;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, key);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(LIVE_LIST_TIMEOUT_US / 2000));
	wl->list_done = wl->list_failed = false;
	if (curl_loop_start(wl->cl, easy, list_on_done, wl) != RESULT_OK) {
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: no transfer slot");
		return RESULT_ERROR;
	}
	spin_until(wl, &wl->list_done, LIVE_LIST_TIMEOUT_US);
	if (!wl->list_done) {
		curl_loop_cancel(wl->cl, easy);
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: no answer in %d s",
		         (int)(LIVE_LIST_TIMEOUT_US / 1000000));
		return RESULT_ERROR;
	}
	return wl->list_failed ? RESULT_ERROR : RESULT_OK;
}

static enum result read_rows(struct world_live *wl, PGconn *pg, const char *sql,
                             struct row2 **out, size_t *n, char *err, size_t errsize)
{
	PGresult *res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errsize, "postgres at %s:%d: %s", wl->pg_host, wl->pg_port,
		         PQresultErrorMessage(res));
		PQclear(res);
		return RESULT_ERROR;
	}
	size_t rows = (size_t)PQntuples(res);
	if (rows > WORLD_LIVE_ROWS_MAX)
		rows = WORLD_LIVE_ROWS_MAX;
	*out = calloc(rows ? rows : 1, sizeof **out);
	ASSERT(*out != NULL);
	for (size_t i = 0; i < rows; i++) {
		(*out)[i].a = xstrdup(PQgetvalue(res, (int)i, 0));
		(*out)[i].b = xstrdup(PQgetvalue(res, (int)i, 1));
		(*out)[i].n = PQnfields(res) > 2 ? strtoll(PQgetvalue(res, (int)i, 2), NULL, 10) : 0;
	}
	*n = rows;
	PQclear(res);
	return RESULT_OK;
}

static bool claims_pending(const struct world_live *wl)
{
	for (const struct lop *op = wl->ops; op != NULL; op = op->next) {
		if (op->type == LOP_CLAIM && op->inner_pending)
			return true;
	}
	return false;
}

static enum result live_snapshot(void *ctx, char *err, size_t errsize)
{
	struct world_live *wl = ctx;
	px_poll(wl);
	/* A lost SET's claim being looked up belongs to the history: wait for
	 * it (the direct line answers in well under its deadline). */
	bool none = !claims_pending(wl);
	for (uint64_t start = now_us(wl); !none && now_us(wl) - start < LIVE_READ_TIMEOUT_US;) {
		spin_until(wl, &none, LIVE_SPIN_SLICE_US);
		none = !claims_pending(wl);
	}
	if (wl->setup_err[0] != '\0') {
		snprintf(err, errsize, "%s", wl->setup_err);
		return RESULT_ERROR;
	}
	PGconn *pg = pg_connect_bounded(wl->pg_conninfo);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, errsize, "postgres at %s:%d: %s", wl->pg_host, wl->pg_port,
		         pg != NULL ? PQerrorMessage(pg) : "out of memory");
		PQfinish(pg);
		return RESULT_ERROR;
	}
	enum result rc = read_rows(wl, pg, "SELECT order_id, status, paid_count FROM orders",
	                           &wl->orders, &wl->norders, err, errsize);
	if (rc == RESULT_OK)
		rc = read_rows(wl, pg, "SELECT user_id, customer_id FROM stripe_customers",
		               &wl->maps, &wl->nmaps, err, errsize);
	PQfinish(pg);
	if (rc != RESULT_OK)
		return rc;
	const char *base = wl->fake != NULL ? fake_stripe_url(wl->fake) : wl->stripe_url;
	const char *key = wl->fake != NULL ? FAKE_STRIPE_KEY : wl->stripe_key;
	wl->ncusts = 0;
	const char *after = NULL;
	for (size_t page = 0; page < WORLD_LIVE_CUSTOMERS_MAX / LIVE_LIST_PAGE; page++) {
		if (live_list_page(wl, base, key, after, LIVE_LIST_PAGE) != RESULT_OK) {
			snprintf(err, errsize, "stripe at %s: %s", base, wl->list_err);
			return RESULT_ERROR;
		}
		if (!wl->list_more || wl->ncusts == 0)
			break;
		after = wl->custs[wl->ncusts - 1].id;
	}
	return RESULT_OK;
}

static void live_foreach_order(void *ctx, world_order_row_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	for (size_t i = 0; i < wl->norders; i++)
		fn(arg, wl->orders[i].a, strcmp(wl->orders[i].b, "paid") == 0, wl->orders[i].n);
}

static void live_foreach_mapping(void *ctx, world_mapping_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	for (size_t i = 0; i < wl->nmaps; i++)
		fn(arg, wl->maps[i].a, wl->maps[i].b);
}

static void live_foreach_customer(void *ctx, world_customer_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	/* Oldest first, as the models walk them. */
	for (size_t i = wl->ncusts; i-- > 0;)
		fn(arg, wl->custs[i].id, wl->custs[i].user, wl->custs[i].created_us);
}

static size_t live_mail_count(void *ctx)
{
	struct world_live *wl = ctx;
	return wl->sink != NULL ? smtp_sink_count(wl->sink) : wl->nmails;
}

static const char *live_mail_data(void *ctx, size_t i, size_t *len)
{
	struct world_live *wl = ctx;
	if (wl->sink != NULL) {
		const struct smtp_sink_message *m = smtp_sink_message(wl->sink, i);
		*len = m->len;
		return m->data;
	}
	ASSERT(i < wl->nmails);
	*len = wl->mails[i].len;
	return wl->mails[i].data;
}

static bool live_mail_headers(void *ctx, size_t i, world_header_fn *fn, void *arg)
{
	size_t len;
	const char *data = live_mail_data(ctx, i, &len);
	return world_live_mail_headers(data, len, fn, arg);
}

static uint64_t live_late_replies(void *ctx)
{
	struct world_live *wl = ctx;
	return wl->redis != NULL ? redis_live_late_replies(wl->redis) : 0;
}

/* ---- the end ---------------------------------------------------------------------- */

static void live_shutdown(void *ctx)
{
	struct world_live *wl = ctx;
	wl->shutdown = true;
	/* Callbacks may start operations (they fail from a timer) or free
	 * others: work on a snapshot of those waiting now. */
	size_t count = 0;
	for (struct lop *op = wl->ops; op != NULL; op = op->next)
		count += !op->answered;
	if (count == 0)
		return;
	struct lop **snap = calloc(count, sizeof *snap);
	ASSERT(snap != NULL);
	size_t k = 0;
	for (struct lop *op = wl->ops; op != NULL && k < count; op = op->next) {
		if (!op->answered) {
			op->held = true; /* until this walk is done with it */
			snap[k++] = op;
		}
	}
	for (size_t i = 0; i < k; i++) {
		struct lop *op = snap[i];
		if (!op->answered) {
			op->oc = OUTCOME_CONN_LOST;
			op->sqlstate[0] = '\0';
			op->sr = (struct stripe_reply){.error_type = "", .customer_id = ""};
			op->code = 0;
			lop_answer(op);
		}
	}
	for (size_t i = 0; i < k; i++) {
		snap[i]->held = false;
		lop_maybe_free(snap[i]);
	}
	free(snap);
}

static void free_rows(struct row2 *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].a);
		free(rows[i].b);
	}
	free(rows);
}

static void live_close(void *ctx)
{
	struct world_live *wl = ctx;
	/* Adapters first (they drop what is pending without callbacks), then
	 * the servers they talk to, then the scheduler. */
	redis_live_destroy(wl->redis);
	redis_live_destroy(wl->redis_direct);
	pg_live_destroy(wl->pg);
	if (wl->reader.ev != NULL || wl->reader.pg != NULL)
		reader_break(wl);
	wl->reader.head = wl->reader.tail = NULL;
	stripe_live_destroy(wl->stripe);
	mail_live_destroy(wl->mail);
	curl_loop_destroy(wl->cl);
	fake_stripe_destroy(wl->fake);
	smtp_sink_destroy(wl->sink);
	for (int i = 0; i < PX_COUNT; i++)
		proxy_destroy(wl->px[i]);
	for (uint64_t guard = 0; wl->ops != NULL; guard++) {
		ASSERT(guard <= WORLD_LIVE_OPS_MAX);
		lop_free(wl->ops);
	}
	sched_destroy(wl->s);
	free_rows(wl->orders, wl->norders);
	free_rows(wl->maps, wl->nmaps);
	for (size_t i = 0; i < wl->nmails; i++)
		free(wl->mails[i].data);
	free(wl->mails);
	free(wl->custs);
	wl->redis = wl->redis_direct = NULL;
	wl->pg = NULL;
	wl->stripe = NULL;
	wl->mail = NULL;
	wl->cl = NULL;
	wl->fake = NULL;
	wl->sink = NULL;
	memset(wl->px, 0, sizeof wl->px);
	wl->s = NULL;
	wl->orders = wl->maps = NULL;
	wl->norders = wl->nmaps = 0;
	wl->mails = NULL;
	wl->nmails = 0;
	wl->custs = NULL;
	wl->ncusts = 0;
	memset(&wl->reader, 0, sizeof wl->reader);
}

static const struct world_backend_ops live_ops = {
	.open = live_open,
	.start_faults = live_start_faults,
	.fault_count = live_fault_count,
	.seed_order = live_seed_order,
	.read_pttl = live_read_pttl,
	.read_order = live_read_order,
	.snapshot = live_snapshot,
	.foreach_order = live_foreach_order,
	.foreach_mapping = live_foreach_mapping,
	.foreach_customer = live_foreach_customer,
	.mail_count = live_mail_count,
	.mail_data = live_mail_data,
	.mail_headers = live_mail_headers,
	.late_replies = live_late_replies,
	.shutdown = live_shutdown,
	.close = live_close,
};

struct world_live *world_live_create(struct event_base *base,
                                     const struct world_live_config *cfg, char *err,
                                     size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(cfg != NULL);
	if (cfg->redis_url == NULL || cfg->pg_conninfo == NULL) {
		snprintf(err, errsize, "live mode needs a Redis URL and a PostgreSQL connection "
		                       "string (--redis-url/--pg-url or FAULTLINE_REDIS_URL/"
		                       "FAULTLINE_PG_URL)");
		return NULL;
	}
	if (strlen(cfg->redis_url) >= WORLD_LIVE_URL_MAX ||
	    strlen(cfg->pg_conninfo) >= WORLD_LIVE_URL_MAX ||
	    (cfg->stripe_url != NULL && strlen(cfg->stripe_url) >= STRIPE_LIVE_URL_MAX) ||
	    (cfg->stripe_key != NULL && strlen(cfg->stripe_key) >= STRIPE_LIVE_KEY_MAX) ||
	    (cfg->smtp_url != NULL && strlen(cfg->smtp_url) >= MAIL_LIVE_URL_MAX)) {
		snprintf(err, errsize, "a server address or key is too long");
		return NULL;
	}
	if (cfg->stripe_url != NULL && (cfg->stripe_key == NULL || cfg->stripe_key[0] == '\0')) {
		snprintf(err, errsize, "a Stripe URL needs a key (FAULTLINE_STRIPE_KEY or a key file)");
		return NULL;
	}
	struct world_live *wl = calloc(1, sizeof *wl);
	if (wl == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	wl->base = base;
	snprintf(wl->redis_url, sizeof wl->redis_url, "%s", cfg->redis_url);
	snprintf(wl->pg_conninfo, sizeof wl->pg_conninfo, "%s", cfg->pg_conninfo);
	if (cfg->stripe_url != NULL) {
		snprintf(wl->stripe_url, sizeof wl->stripe_url, "%s", cfg->stripe_url);
		snprintf(wl->stripe_key, sizeof wl->stripe_key, "%s", cfg->stripe_key);
	}
	if (cfg->smtp_url != NULL)
		snprintf(wl->smtp_url, sizeof wl->smtp_url, "%s", cfg->smtp_url);
	if (world_live_redis_addr(wl->redis_url, wl->redis_host, sizeof wl->redis_host,
	                          &wl->redis_port, err, errsize) != RESULT_OK ||
	    world_live_pg_addr(wl->pg_conninfo, 0, wl->pg_host, sizeof wl->pg_host, &wl->pg_port,
	                       NULL, 0, err, errsize) != RESULT_OK) {
		world_live_destroy(wl);
		return NULL;
	}
	snprintf(wl->describe, sizeof wl->describe,
	         "redis %s:%d and postgres %s:%d through fault proxies; stripe: %s; mail: %s",
	         wl->redis_host, wl->redis_port, wl->pg_host, wl->pg_port,
	         wl->stripe_url[0] ? wl->stripe_url : "built-in fake",
	         wl->smtp_url[0] ? wl->smtp_url : "built-in SMTP sink");
	return wl;
}

void world_live_destroy(struct world_live *wl)
{
	if (wl == NULL)
		return;
	if (wl->s != NULL)
		live_close(wl);
	/* The key is a secret: it does not outlive its use in memory. */
	explicit_bzero(wl->stripe_key, sizeof wl->stripe_key);
	free(wl);
}

void world_live_set_plan(struct world_live *wl, const struct live_plan *lp)
{
	ASSERT(wl != NULL);
	ASSERT(lp != NULL);
	wl->lp = lp;
}

void world_live_backend(struct world_live *wl, struct world_backend *out)
{
	ASSERT(wl != NULL);
	*out = (struct world_backend){.ops = &live_ops, .ctx = wl, .real_clock = true};
}

const char *world_live_describe(const struct world_live *wl)
{
	return wl->describe;
}

/* ---- mail headers as received ------------------------------------------------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A header field name: printable ASCII other than ':' (RFC 5322 ftext). */
static bool is_name_char(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static void header_emit(char *scratch, size_t name_len, size_t vlen, world_header_fn *fn,
                        void *arg)
{
	char *v = scratch + name_len + 1;
	size_t a = 0, b = vlen;
	while (a < b && is_blank(v[a]))
		a++;
	while (b > a && is_blank(v[b - 1]))
		b--;
	v[b] = '\0';
	fn(arg, scratch, v + a);
}

/* One pass; with fn NULL it only validates. scratch holds the name, a NUL,
 * then the unfolded value: never more than len + 2 bytes. */
static bool header_walk(const char *d, size_t len, char *scratch, world_header_fn *fn,
                        void *arg)
{
	size_t pos = 0, name_len = 0, vlen = 0;
	bool open = false;
	for (size_t lines = 0; pos < len && lines <= len; lines++) {
		const char *crlf = memmem(d + pos, len - pos, "\r\n", 2);
		size_t eol = crlf != NULL ? (size_t)(crlf - d) : len;
		const char *line = d + pos;
		size_t llen = eol - pos;
		pos = crlf != NULL ? eol + 2 : len;
		if (llen == 0)
			break;
		if (is_blank(line[0])) {
			if (!open)
				return false;
			if (fn != NULL)
				memcpy(scratch + name_len + 1 + vlen, line, llen);
			vlen += llen;
			continue;
		}
		if (open && fn != NULL)
			header_emit(scratch, name_len, vlen, fn, arg);
		size_t n = 0;
		while (n < llen && is_name_char((unsigned char)line[n]))
			n++;
		if (n == 0 || n == llen || line[n] != ':')
			return false;
		name_len = n;
		vlen = llen - n - 1;
		if (fn != NULL) {
			memcpy(scratch, line, n);
			scratch[n] = '\0';
			memcpy(scratch + n + 1, line + n + 1, vlen);
		}
		open = true;
	}
	if (open && fn != NULL)
		header_emit(scratch, name_len, vlen, fn, arg);
	return true;
}

bool world_live_mail_headers(const char *data, size_t len, world_header_fn *fn, void *arg)
{
	ASSERT(fn != NULL);
	if (!header_walk(data, len, NULL, NULL, NULL))
		return false;
	char *scratch = malloc(len + 2);
	ASSERT(scratch != NULL);
	bool ok = header_walk(data, len, scratch, fn, arg);
	free(scratch);
	return ok;
}
