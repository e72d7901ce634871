/* live/world_live_int.h - what the files of the live backend share: the
 * backend, its per-seed state and helpers. Private to live/world_live*.c. */
#ifndef LIVE_WORLD_LIVE_INT_H
#define LIVE_WORLD_LIVE_INT_H

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

#include "live/world_live.h"
#include "core/assert.h"
#include "live/curl_loop.h"
#include "live/fake_stripe.h"
#include "live/mail_live.h"
#include "live/pg_live.h"
#include "proxy/proxy.h"
#include "live/redis_live.h"
#include "live/smtp_sink.h"
#include "live/stripe_live.h"
#include "live/live_plan.h"
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
	struct row2 *payments; size_t npayments; /* order_payments: event, order */
	struct row2 *events; size_t nevent_rows; /* stripe_events: event, "t"/"f" processed */
	struct row2 *maps; size_t nmaps;
	struct customer_row *custs; size_t ncusts;
	struct kept_mail *mails; size_t nmails;
	bool list_done, list_failed, list_more;
	char list_err[256];
	char setup_err[640];          /* a set-up step that failed, or "" */
};

uint64_t wl_emulated_timeout_us(const struct world_live *wl, enum fault_target t);
void wl_kv_copy(struct lop *op, int ncmds, const struct kv_cmd *cmds);
void wl_lop_answer_later(struct lop *op, uint64_t delay_us);
void wl_lop_fail(struct lop *op, enum outcome oc);
void wl_lop_maybe_free(struct lop *op);
struct lop *wl_lop_new(struct world_live *wl, enum lop_type type, void *arg);
void wl_note_fault(struct world_live *wl, enum fault_target t, enum fault_kind k,
                       const char *op);
uint64_t wl_now_us(const struct world_live *wl);
PGconn *pg_connect_bounded(const char *conninfo);
void wl_px_bounce(struct world_live *wl, enum proxy_id i);
void wl_px_poll(struct world_live *wl);
void wl_spin_until(struct world_live *wl, const bool *flag, uint64_t limit_us);
char *wl_xstrdup(const char *s);
void wl_kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done, void *arg);
void wl_kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds, kv_done_fn *done,
                           void *arg);
void wl_mail_send(void *ctx, const struct mail_message *m, mail_done_fn *done, void *arg);
uint64_t wl_run_us(const struct world_live *wl);
void wl_sql_acquire(void *ctx, sql_acquire_fn *done, void *arg);
void wl_sql_exec(void *ctx, struct sql_conn *conn, enum sql_stmt stmt, int nparams,
                     const char *const *params, sql_done_fn *done, void *arg);
void wl_sql_release(void *ctx, struct sql_conn *conn);
void wl_stripe_customer_find(void *ctx, const char *user_id, stripe_done_fn *done, void *arg);
void wl_stripe_customer_create(void *ctx, const struct stripe_customer_params *p,
                                   stripe_done_fn *done, void *arg);
void live_foreach_customer(void *ctx, world_customer_fn *fn, void *arg);
void live_foreach_event(void *ctx, world_event_row_fn *fn, void *arg);
void live_foreach_mapping(void *ctx, world_mapping_fn *fn, void *arg);
void live_foreach_order(void *ctx, world_order_row_fn *fn, void *arg);
void live_foreach_payment(void *ctx, world_payment_fn *fn, void *arg);
uint64_t live_late_replies(void *ctx);
enum result live_list_page(struct world_live *wl, const char *base_url,
                                  const char *key, const char *after, size_t limit);
size_t live_mail_count(void *ctx);
const char *live_mail_data(void *ctx, size_t i, size_t *len);
bool live_mail_headers(void *ctx, size_t i, world_header_fn *fn, void *arg);
void live_read_order(void *ctx, const char *order_id, world_order_fn *fn, void *arg);
void live_read_pttl(void *ctx, const char *key, world_pttl_fn *fn, void *arg);
enum result live_snapshot(void *ctx, char *err, size_t errsize);
void wl_reader_break(struct world_live *wl);
enum result wl_reader_open(struct world_live *wl, char *err, size_t errsize);

/* Frees an op that was answered (or never started). */
void wl_lop_free(struct lop *op);
/* Delivers an op's outcome to its caller, once. */
void wl_lop_answer(struct lop *op);

#endif
