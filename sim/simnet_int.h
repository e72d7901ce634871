/* sim/simnet_int.h - what sim/simnet.c (operations, deadlines, Redis,
 * Stripe, mail, restarts) and sim/simnet_pg.c (the Postgres pool and its
 * sessions) share: the operation object, the network, and the operation
 * life cycle both halves drive. Not for use outside sim/simnet*.c. */
#ifndef SIM_SIMNET_INT_H
#define SIM_SIMNET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/fault.h"
#include "sim/sched.h"
#include "sim/simnet.h"

#define SQL_VALUES_MAX 64      /* values in one copied result */
#define OP_ARENA_BYTES 192      /* reply strings kept inline in the op */
#define OP_ARGSPACE_BYTES 160   /* request strings kept inline in the op */
#define OP_CACHE_MAX 4096       /* freed ops kept for reuse */

struct strblock {
	struct strblock *next;
	char text[];
};

enum op_type { OP_KV, OP_KV_TXN, OP_SQL_ACQUIRE, OP_SQL_EXEC, OP_STRIPE, OP_MAIL };

struct sql_conn {
	struct simnet *net;
	uint32_t index;            /* in the pool */
	uint32_t session;
	bool open;                 /* has a model session */
	bool in_use;
	bool broken;               /* died: must be discarded on release */
	bool injected_abort;       /* an injected error aborted its transaction */
	struct op *pending;        /* exec in flight on it */
};

struct op {
	struct simnet *net;
	enum op_type type;
	enum fault_target target;
	const char *opname;
	int refs;                  /* timers pointing at this op, plus one
	                            * while the client waits */
	bool answered;             /* the client has its answer */
	bool blocked;              /* waits on a Postgres lock; holds a ref */
	struct op *live_prev, *live_next; /* every op not yet freed */
	bool faulted;
	struct fault_decision fd;
	uint64_t deadline_us;
	bool on_deadline_q;
	struct op *dl_prev, *dl_next;  /* the target's deadline queue */
	uint64_t issued_us;
	void *arg;
	union {
		kv_done_fn *kv;
		sql_acquire_fn *acquire;
		sql_done_fn *sql;
		stripe_done_fn *stripe;
		mail_done_fn *mail;
	} done;

	/* request */
	int ncmds;
	struct kv_cmd cmds[KV_TXN_MAX];
	struct sql_conn *conn;
	enum sql_stmt stmt;
	int nparams;
	const char *params[SQL_PARAMS_MAX];
	struct stripe_customer_params sp;
	uint32_t stripe_token;
	struct mail_message msg;
	char *argbuf;              /* owns copies of the request strings */
	size_t argcap;

	/* reply */
	enum outcome oc;
	struct kv_reply reply;
	struct kv_reply elems[KV_TXN_MAX];
	struct sql_result res;
	const char **values;       /* SQL result values (owned array) */
	struct stripe_reply sr;
	int smtp_code;
	char sqlstate[6];
	size_t arena_used;
	struct strblock *blocks;
	struct op *next_waiter;    /* pool queue */
	/* Everything above is cleared for each new op; what follows is
	 * written before it is read. Reply strings: a small inline arena,
	 * then blocks of their own. */
	char arena[OP_ARENA_BYTES];
	char argspace[OP_ARGSPACE_BYTES]; /* request strings when they fit */
};

struct deadline_q {
	struct simnet *net;
	enum fault_target target;
	struct op *head, *tail;        /* waiting ops, earliest deadline first */
	bool armed;                    /* a timer is pending for the queue */
};

/* A scheduled restart: the timer's argument, kept inside the network so
 * that a restart still pending when the run ends is dropped with the
 * scheduler instead of leaking. */
struct restart_ctx {
	struct simnet *n;
	size_t rule;
};

struct simnet {
	struct sched *s;
	struct prng *rng;
	struct fault_plan *plan;
	struct trace *tr;
	struct simnet_models m;
	const struct scenario *sc;
	struct simnet_hooks hooks;
	struct simnet_stats stats;
	uint64_t inflight;
	uint64_t last_fault_us[FAULT_TARGET_COUNT];
	uint64_t fault_count[FAULT_TARGET_COUNT];
	struct sql_conn pool[SIMNET_POOL_MAX];
	uint32_t pool_size;
	struct op *wait_head, *wait_tail;
	struct op *live;           /* list of ops not yet freed */
	struct op *cache;          /* freed ops for reuse (via live_next) */
	uint32_t ncache;
	struct deadline_q dq[FAULT_TARGET_COUNT];
	bool shutdown;             /* every operation now fails at once */
	uint32_t nwaiting;
	bool redis_down_flushed[FAULT_RULES_MAX];
	struct restart_ctx restarts[FAULT_RULES_MAX];
};

/* ---- operation life cycle (sim/simnet.c) ---- */

/* One leg (request or reply) of the trip: half of a latency draw. */
uint64_t leg_us(struct simnet *n, enum fault_target t);
const char *arg_copy(struct op *op, size_t *used, const char *s,
                     size_t len);
void note_applied(struct simnet *n, enum fault_target target, const char *op,
                  enum world_apply_class cls);
void op_after(struct op *op, uint64_t delay_us, sched_fn *fn);
void op_alloc_args(struct op *op, size_t cap);
void op_arm_deadline(struct op *op);
void op_decide(struct op *op, const char *opname);
void op_fail_conn(struct op *op, uint64_t delay_us);
enum fault_kind op_kind(const struct op *op);
struct op *op_new(struct simnet *n, enum op_type type,
                  enum fault_target target, const char *opname,
                  void *arg);
void op_on_reply(void *arg);
void op_reply_later(struct op *op);
void op_unref(struct op *op);
const char *reply_copy(struct op *op, const char *s, size_t len);
bool target_down(struct simnet *n, enum fault_target t);

/* ---- Postgres (sim/simnet_pg.c) ---- */

void sql_acquire(void *ctx, sql_acquire_fn *done, void *arg);
void sql_conn_break(struct sql_conn *c);
void sql_exec(void *ctx, struct sql_conn *c, enum sql_stmt stmt, int nparams,
              const char *const *params, sql_done_fn *done, void *arg);
void sql_release(void *ctx, struct sql_conn *c);

#endif
