/* harness/world_int.h - what the files of one run share: struct world, its
 * per-fix state and the helpers every workload uses. Private to harness/world*.c
 * and harness/work_*.c; the outside sees harness/world.h. */
#ifndef HARNESS_WORLD_INT_H
#define HARNESS_WORLD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/quote_email.h"
#include "harness/world.h"
#include "sim/prng.h"
#include "sim/sched.h"
#include "sim/world_backend.h"

#define WEBHOOK_SECRET "whsec_faultline_simulated_endpoint"
#define WEBHOOK_BAD_SECRET "whsec_not_the_endpoint_secret"
#define WORLD_USERS_MAX 100000
#define WORLD_REQUESTS_MAX 1000000   /* requests of one fix in one run */
#define WORLD_DRAIN_US (24ULL * 3600 * 1000000) /* bound on the shutdown drain */
#define QUOTE_RESEND_GAP_US 100000   /* a user clicks "send" again after 100 ms */
#define PROBE_MARGIN_US 5000000      /* the probe comes 5 s after the window */
#define WORLD_WORK_MAX (4ULL * WORLD_REQUESTS_MAX) /* work contexts alive at once */
#define WORLD_ARRIVALS_MAX (8ULL * WORLD_REQUESTS_MAX) /* requests of all fixes in one run */
#define WORLD_LIVE_DRAIN_US 2000000  /* real clock: longest shutdown drain */
#define WORLD_LIVE_DRAIN_SLICE_US 10000

enum prng_stream { STREAM_TIES = 1, STREAM_NET, STREAM_WORK, STREAM_CORE };

struct rl_user {
	uint32_t inflight;
	uint32_t started;            /* hits begun */
	uint32_t incrs;              /* INCRs sent for the user's key */
};

struct dd_request {
	bool started;
	uint64_t first_faults;       /* Redis faults when its first copy started */
};

struct wh_event {
	uint32_t handlers;           /* deliveries being handled right now */
	bool seen_handled;
	size_t owner;                /* the event whose order this one names */
	const char *type;            /* the event's type */
	int shape;                   /* hostile header shape, or -1 */
	int body;                    /* edge-case body, or -1 */
	char intent[HIST_ID_MAX];    /* data.object's payment intent */
};

/* The last webhook delivery's body, header and reference verdict, reused by
 * the next delivery of the same event, kind and second (work_webhook.c). */
/* Room for a Stripe-Signature the workload sends, the longest over the
 * verifier's limit (STRIPE_SIG_HEADER_MAX, 4096). */
#define WH_HEADER_MAX 4400

struct wh_memo {
	char *body;                  /* WEBHOOK_PAYLOAD_MAX + 2 octets, or NULL */
	size_t len;
	size_t event;                /* whose body is in body; SIZE_MAX none */
	bool header_valid;
	int64_t now_s;               /* the second header was made for */
	int kind;
	bool forged;                 /* the reference refuses header */
	char header[WH_HEADER_MAX];
};

#define WORLD_OP_CACHE 32            /* operation names remembered for coverage */

struct world_op_cache {
	const char *name;             /* NULL: empty */
	enum fault_target target;
	size_t index;
};

struct world {
	bool in_core_call;            /* inside a call into the core */
	const struct world_config *cfg;
	const struct scenario *sc;
	struct prng root, ties, net, work, corerng;
	struct trace *tr;
	struct sched *s;              /* the backend's */
	uint64_t t0_us;               /* the scheduler's time when the run began */
	struct world_backend be;
	struct world_sim *sim;        /* when the config names no backend */
	bool opened;                  /* be.ops->open was called */
	struct core_env env;
	struct ratelimit *rl;
	struct dedup *dd;
	struct quote_email *qe;
	struct webhook *wh;
	struct customer *cu;
	struct history h;
	struct fault_plan plan;       /* this run's copy: counters are per run */
	struct world_result *out;
	bool draining;
	/* per-fix state */
	struct rl_user *rl_users;
	struct dd_request *dd_reqs;
	struct dedup **dd_more;       /* dedup instances 1..n-1 (w->dd is 0) */
	uint32_t ndd_more;
	uint64_t dd_seq;
	struct wh_event *wh_events;
	struct wh_memo wh_memo;
	struct dd_token *dd_tokens;   /* recorded tokens, h.ndd at most */
	struct dd_token_slot *dd_token_index; /* hash table, dd_token_slots entries */
	size_t dd_token_slots;
	size_t ndd_tokens;
	size_t dd_current;            /* copy whose dedup_check is being called */
	size_t rl_current;            /* hit whose ratelimit_hit is being called */
	struct kv_port kv_inner;      /* the backend's kv port, behind world_kv_command */
	uint32_t *cu_inflight;
	uint32_t *cu_refusals;        /* per user: Stripe refused it for good; one
	                               * allocation with the three below */
	uint32_t *cu_refusal_mark;    /* per user: refusals when its last call began */
	uint32_t *cu_after_refusal;   /* per user: creates sent past the mark */
	uint32_t *cu_permanent;       /* per user: statements failed for good */
	uint32_t *cu_starts;          /* per user: calls begun */
	uint32_t *cu_replayed;        /* per user: Stripe replays of a saved 5xx (a
	                               * fault's result, kept for the key) */
	struct core_env cu_env;       /* env with the watched Stripe and SQL ports */
	struct stripe_port cu_stripe_inner;
	struct sql_port cu_sql_inner;
	struct customer *cu_earlier[2]; /* the earlier deploy: no key, keyed */
	struct core_env cu_earlier_env; /* its ports: unwatched, not counted */
	bool unwatched;               /* an earlier deploy's operation is being
	                               * issued: coverage does not count it */
	struct core_env qe_env;       /* env with the watched mail port */
	struct mail_port qe_mail_inner;
	size_t cap_rl, cap_rl_ttl, cap_dd;
	uint64_t inflight_requests;
	uint64_t core_busy;           /* calls into core not yet answered */
	struct work_hdr *works;       /* every live work context */
	struct work_arena *work_arena; /* where they come from (world_work.c) */
	uint64_t nwork;
	struct arrival *arrivals;     /* the workload, sorted by time once built */
	size_t narrivals, cap_arrivals;
	size_t arrival_next;          /* first arrival not yet handed to sched */
	size_t arrival_pending;       /* handed over and not yet run */
	struct world_op_cache op_cache[WORLD_OP_CACHE];
};

/* Creates w->cu (and the earlier deploy's objects) on watched ports. */
bool cu_build(struct world *w, enum variant v);
void cu_destroy(struct world *w);
void cu_schedule(struct world *w);
void cu_snapshot(struct world *w);
/* Simulator only, after cu_snapshot: every user the run left with one
 * Stripe customer, unmapped and never answered ok, calls once more 25 h
 * later with every fault over and every other workload stopped, and the
 * snapshot is taken again. false (nothing done) when no user is so left or
 * the clock is real. */
bool cu_comes_back(struct world *w);
void dd_count_let_through(struct world *w);
/* Destroys the dedup instances besides w->dd (their checks all done). */
void dd_destroy_instances(struct world *w);
/* A SET on its way: counted for the copy it claims for, its reply watched. */
void dd_watch_set(struct world *w, const struct kv_cmd *cmd, kv_done_fn **done, void **arg);
/* The watched kv port (world_work.c): dd_watch_set and the rate limiter's
 * notes, then the backend's port (kv_inner). */
void world_kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done, void *arg);
void world_kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds, kv_done_fn *done,
                          void *arg);
void dd_on_set_applied(struct world *w, const struct kv_cmd *cmd,
                              const struct kv_reply *reply, uint64_t at_us);
void dd_schedule(struct world *w);
/* Creates w->qe on a watched mail port. */
bool qe_build(struct world *w, const struct quote_email_config *c);
void qe_schedule(struct world *w);
void qe_snapshot(struct world *w);
void rl_schedule(struct world *w);
void rl_note_incr(struct world *w, const struct kv_cmd *cmd);
void rl_watch_count(struct world *w, const struct kv_cmd *cmd, kv_done_fn **done, void **arg);
void wh_schedule(struct world *w);
void wh_snapshot(struct world *w);
/* Notes a [Webhook] log line: marks the events it names as logged. */
void wh_note_log(struct world *w, const char *msg);
/* True when ref occurs in msg as a whole token (Q-1 is not in Q-10). */
bool world_mentions(const char *msg, const char *ref);
void world_arrival_add(struct world *w, uint64_t at_us, sched_fn *fn, void *arg);
uint64_t world_backend_faults(struct world *w, enum fault_target t);
/* True while a restart holds Redis down (no fault fires then). */
bool world_redis_down(struct world *w);
uint64_t world_redis_down_until(struct world *w);
void *world_hist_push(void **arr, size_t *n, size_t *cap, size_t size);
void world_name1(char *buf, size_t size, const char *prefix, uint64_t a);
void world_name2(char *buf, size_t size, const char *prefix, uint64_t a, uint64_t b,
                  const char *suffix);
void world_note_unhandled(struct world *w, const char *what);
/* Every core entry promises to call done "never before returning": the
 * harness marks its calls into the core, and a done that runs inside one
 * is an unhandled error (the caller's state after the call is not set up
 * yet). */
/* Puts note(w, index, oc, reply) in front of a kv reply's done: the harness
 * sees what the core is told, then the core is told it. */
typedef void world_kv_note_fn(struct world *w, size_t index, enum outcome oc,
                              const struct kv_reply *reply);
void world_kv_watch(struct world *w, size_t index, world_kv_note_fn *note, kv_done_fn **done,
                    void **arg);
bool world_core_enter(struct world *w);
void world_core_leave(struct world *w, bool was);
void world_core_answered(struct world *w, const char *entry);
uint64_t world_now_us(const struct world *w);
void world_request_begin(struct world *w, const char *fix, const char *id);
void world_request_end(struct world *w, const char *fix, const char *id,
                        uint64_t start_us, enum world_outcome o);
uint64_t world_uniform_us(struct world *w, uint64_t max_us);
void world_work_free(struct world *w, void *ctx);
void *world_work_new(struct world *w, size_t size);

/* Frees every work context still alive (the end of a run). */
void world_work_free_all(struct world *w);
/* Hands the first instant of the sorted workload to the scheduler. */
void world_arrivals_start(struct world *w);
/* Whether the scenario exercises fix f. */
bool world_fix_on(const struct world *w, enum fix_id f);

#endif
