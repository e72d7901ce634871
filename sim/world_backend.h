/* sim/world_backend.h - the servers one run talks to, behind one table of
 * operations: the world (harness/world.c) gets its scheduler and ports here,
 * seeds and reads the servers' state, and ends the run. Two of them: models
 * on a virtual clock (sim/world_sim.c), real servers (live/world_live.c).
 * Not for the workload or the invariants: those stay in the world. */
#ifndef SIM_WORLD_BACKEND_H
#define SIM_WORLD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/result.h"
#include "sim/fault.h"
#include "sim/scenario.h"

/* The virtual wall clock's origin, a Unix time in seconds: simulated time 0
 * is this instant for signatures, Stripe timestamps and Redis expiry. */
#define WORLD_WALL_EPOCH_S 1750000000

struct prng;
struct sched;
struct trace;

/* What the backend tells the world while the run goes on. */
typedef void world_fault_fn(void *arg, enum fault_target target, enum fault_kind kind,
                            const char *op);
/* Redis applied cmd and answered reply, age_us ago. The models report it
 * as the server applies it (age 0); live mode when the reply reaches the
 * client, or when a lost reply's effect is found, dated back to when the
 * command was sent (the earliest it can have been applied). */
typedef void world_kv_applied_fn(void *arg, const struct kv_cmd *cmd,
                                 const struct kv_reply *reply, uint64_t age_us);

/* What a server did with an operation it applied, in a few classes a
 * coverage table can count (harness/coverage.c names them). */
enum world_apply_class {
	WA_OK,                 /* Redis: status or bulk reply; mail: 250 */
	WA_NIL,                /* Redis: nil (SET NX that did not set, GET miss) */
	WA_INT_ONE,            /* Redis: integer 1 (INCR opening a window) */
	WA_INT_OTHER,          /* Redis: any other integer */
	WA_ROWS,               /* Postgres: rows affected or returned */
	WA_NO_ROWS,            /* Postgres: none (ON CONFLICT DO NOTHING lost) */
	WA_UNIQUE_VIOLATION,   /* Postgres: 23505 */
	WA_SERIALIZATION,      /* Postgres: 40001 */
	WA_DEADLOCK,           /* Postgres: 40P01 */
	WA_ERROR,              /* any other error reply or SQLSTATE */
	WA_HTTP_2XX,           /* Stripe */
	WA_HTTP_409,           /* Stripe: idempotent request still in flight */
	WA_HTTP_4XX,           /* Stripe, mail (4xx SMTP) */
	WA_HTTP_5XX,           /* Stripe, mail (5xx SMTP) */
	WA_COUNT
};
/* The server applied op on target; cls says how it answered. */
typedef void world_applied_fn(void *arg, enum fault_target target, const char *op,
                              enum world_apply_class cls);

/* The client issued op on target: every operation a fault rule's op could
 * name, faulted or not, before the server sees it. */
typedef void world_issued_fn(void *arg, enum fault_target target, const char *op);

struct world_hooks {
	world_fault_fn *on_fault;
	world_kv_applied_fn *on_kv_applied;
	world_applied_fn *on_applied;  /* may be NULL; live backends leave it */
	world_issued_fn *on_issued;    /* may be NULL; live backends leave it */
	void *arg;
};

/* One seed, as the world hands it to the backend. Everything is borrowed
 * until close. */
struct world_seed {
	const struct scenario *sc;
	uint64_t seed;
	struct fault_plan *plan;     /* the run's copy (per-run counters) */
	struct prng *net;            /* the network's own random stream */
	struct trace *tr;            /* NULL: no trace */
	struct world_hooks hooks;
};

/* known false: the value could not be read (live: the server did not
 * answer). pttl_ms: -2 no key, -1 no TTL, else milliseconds left. */
typedef void world_pttl_fn(void *arg, bool known, int64_t pttl_ms);
/* known false: the order could not be read. paid: the order exists and its
 * status is 'paid'. */
typedef void world_order_fn(void *arg, bool known, bool paid);
typedef void world_order_row_fn(void *arg, const char *order_id, bool paid,
                                long long paid_count);
/* A row of order_payments: which event paid which order. */
typedef void world_payment_fn(void *arg, const char *event_id, const char *order_id);
typedef void world_mapping_fn(void *arg, const char *user_id, const char *customer_id);
/* A row of stripe_events: an event recorded, and whether marked processed. */
typedef void world_event_row_fn(void *arg, const char *event_id, bool processed);
/* created_us: when the customer was created, in the run's microseconds
 * (0 when the server does not say). */
typedef void world_customer_fn(void *arg, const char *customer_id, const char *user_id,
                               uint64_t created_us);
typedef void world_header_fn(void *arg, const char *name, const char *value);

struct world_backend_ops {
	/* Opens one seed: clean servers, a scheduler on the backend's clock
	 * (*s, owned by the backend until close) and the kv, sql, stripe and
	 * mail ports of env. RESULT_OK; RESULT_NOMEM; RESULT_ERROR with the
	 * reason in err when a server could not be set up. After a failure
	 * close is still called. */
	enum result (*open)(void *ctx, const struct world_seed *ws, struct sched **s,
	                    struct core_env *env, char *err, size_t errsize);
	/* Arms the scenario's timed faults (restarts, fault windows); called
	 * once, after the workload was scheduled. */
	void (*start_faults)(void *ctx);
	/* Faults fired on target so far in this seed. */
	uint64_t (*fault_count)(void *ctx, enum fault_target target);
	/* Set-up, before the run: a committed order row, status 'pending'. */
	void (*seed_order)(void *ctx, const char *order_id, const char *payment_intent_id);
	/* Reads during the run. fn runs exactly once: the models answer inside
	 * the call, live servers on a later pass of the loop. */
	void (*read_pttl)(void *ctx, const char *key, world_pttl_fn *fn, void *arg);
	void (*read_order)(void *ctx, const char *order_id, world_order_fn *fn, void *arg);
	/* The final state, after the run: snapshot reads it (live: blocking),
	 * the foreach and mail functions walk what it read. */
	enum result (*snapshot)(void *ctx, char *err, size_t errsize);
	void (*foreach_order)(void *ctx, world_order_row_fn *fn, void *arg);
	void (*foreach_payment)(void *ctx, world_payment_fn *fn, void *arg);
	void (*foreach_event)(void *ctx, world_event_row_fn *fn, void *arg);
	void (*foreach_mapping)(void *ctx, world_mapping_fn *fn, void *arg);
	void (*foreach_customer)(void *ctx, world_customer_fn *fn, void *arg);
	size_t (*mail_count)(void *ctx);
	/* Message i as received: header lines, an empty line, the body. */
	const char *(*mail_data)(void *ctx, size_t i, size_t *len);
	/* Calls fn for each header field of message i with its unfolded value;
	 * false, without calling fn, when the header section is malformed. */
	bool (*mail_headers)(void *ctx, size_t i, world_header_fn *fn, void *arg);
	/* Replies that came after their deadline (counted, dropped). */
	uint64_t (*late_replies)(void *ctx);
	/* Ends the run: every operation in flight completes now with
	 * OUTCOME_CONN_LOST and every later one fails at once. */
	void (*shutdown)(void *ctx);
	/* Frees what open built, the scheduler included; the world has drained
	 * and destroyed its core objects. Accepts a seed whose open failed. */
	void (*close)(void *ctx);
};

struct world_backend {
	const struct world_backend_ops *ops;
	void *ctx;
	/* Real clock: the run ends as soon as every request and read is done,
	 * and the shutdown drain is bounded in real time. False for the
	 * models, whose run ends when no timer is left. */
	bool real_clock;
};

#endif
