/* sim/fault.h - the fault plan: which operations fail, when, how often, and
 * how. Rules come from a scenario file (harness/scenario_load.c); the simulated
 * network (sim/simnet.c) asks the plan about every operation it carries and
 * applies the answer's true effect to the models. Not for live mode's wire
 * faults, which the proxy applies. */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prng;

enum fault_target {
	FAULT_TARGET_REDIS,
	FAULT_TARGET_POSTGRES,
	FAULT_TARGET_STRIPE,
	FAULT_TARGET_MAIL,
	FAULT_TARGET_WEBHOOK,   /* Stripe's delivery of webhooks to the endpoint */
	FAULT_TARGET_COUNT
};

/* What happens to an operation a rule fires on. Each has a true effect on
 * the model, recorded in the trace. */
enum fault_kind {
	FAULT_ERROR,              /* fails before the server sees it: not applied;
	                           * the client sees the connection refused/lost */
	FAULT_TIMEOUT_APPLIED,    /* applied, reply lost: client times out */
	FAULT_TIMEOUT_NOT_APPLIED,/* lost on the way: client times out */
	FAULT_CONN_LOST,          /* connection dies: an open transaction rolls
	                           * back; a COMMIT, or a statement outside a
	                           * transaction, committed with probability
	                           * commit_applied_p, and the client cannot tell */
	FAULT_SERVER_ERROR,       /* the server answers with an error: Redis
	                           * message, SQLSTATE, HTTP or SMTP status */
	FAULT_LATENCY,            /* answers, late */
	FAULT_STALL,              /* never answers; applied when stall_applied */
	FAULT_POOL_EXHAUSTED,     /* postgres acquire: no connection (53300) */
	FAULT_RESTART,            /* server down for duration_us from the rule's
	                           * window start; Redis without persistence
	                           * loses every key */
	FAULT_BAD_REPLY,          /* applied, answered as a success whose body
	                           * the client cannot use: Stripe's 200 for a
	                           * customer create without the customer's id */
	FAULT_KIND_COUNT
};

enum fault_dist { FAULT_DIST_FIXED, FAULT_DIST_UNIFORM, FAULT_DIST_PARETO };

#define FAULT_OP_MAX 40
#define FAULT_TEXT_MAX 96
#define FAULT_RULES_MAX 64

struct fault_rule {
	enum fault_target target;
	/* Operation name within the target, "*" for any:
	 *  redis:    the command in lower case: "incr", "expire", "pexpire",
	 *            "set", "get", "del", "ttl", "pttl", "exec" (a MULTI/EXEC)
	 *  postgres: "acquire", "begin", "commit", "rollback", or a catalogue
	 *            statement name ("event_insert_new", "customer_insert" ...)
	 *  stripe:   "customers.create"
	 *  mail:     "send"
	 *  webhook:  "deliver" */
	char op[FAULT_OP_MAX];
	uint64_t from_us;        /* window start (simulated time), default 0 */
	uint64_t until_us;       /* window end, exclusive; UINT64_MAX = open */
	uint32_t nth;            /* 0: any occurrence; N: the Nth matching op */
	bool and_after;          /* with nth: the Nth and every later one */
	uint32_t max_fires;      /* 0: unlimited */
	char after_event[FAULT_OP_MAX]; /* "": always armed; else armed once an
	                           * operation "target.op" completed (e.g.
	                           * "postgres.event_insert_new") */
	double probability;      /* 0..1, default 1 */
	enum fault_kind kind;
	/* kind parameters */
	char error[FAULT_TEXT_MAX]; /* SERVER_ERROR: redis message ("OOM ..."),
	                             * SQLSTATE ("40001"), stripe error type */
	int status;              /* SERVER_ERROR: HTTP status (stripe), SMTP code
	                          * (mail); 0 for redis/postgres */
	enum fault_dist dist;    /* LATENCY */
	uint64_t latency_us;     /* LATENCY: fixed value or lower bound; PARETO:
	                          * scale */
	uint64_t latency_max_us; /* LATENCY: UNIFORM upper bound; PARETO cap */
	double pareto_alpha;     /* PARETO shape, default 1.5 */
	bool stall_applied;      /* STALL: the server applied it anyway */
	double commit_applied_p; /* CONN_LOST on postgres: chance a COMMIT or an
	                          * autocommit statement committed */
	uint64_t duration_us;    /* RESTART: how long the server is down */
	bool persistence;        /* RESTART (redis): keys survive */
	bool scheduled;          /* from a scenario's schedule: (exact op, nth,
	                          * fires once); written back there */
	/* where the rule was written, for messages */
	int line, column;
};

/* What fired in one run, by the ordinal of each operation name within its
 * target, for `faultline shrink`, which turns it into a schedule. Filled
 * only when a plan points at one (it is NULL in every ordinary run). */
#define FAULT_LOG_NAMES_MAX 64
#define FAULT_LOG_MAX 256
struct fault_fire {
	enum fault_target target;
	char op[FAULT_OP_MAX];
	uint32_t nth;             /* this op name's ordinal in its target */
	size_t rule;              /* the rule that fired */
	uint64_t latency_us;      /* LATENCY: the delay drawn */
	bool commit_applied;      /* CONN_LOST on postgres: the outcome drawn */
};
struct fault_log {
	struct {
		enum fault_target target;
		char op[FAULT_OP_MAX];
		uint32_t seen;
	} names[FAULT_LOG_NAMES_MAX];
	size_t nnames;
	struct fault_fire fires[FAULT_LOG_MAX];
	size_t nfires;
	bool overflow;            /* more names or fires than the log holds */
};

struct fault_plan {
	struct fault_rule rules[FAULT_RULES_MAX];
	size_t nrules;
	struct fault_log *log;   /* borrowed; NULL: record nothing */
	/* per-run state, cleared by fault_plan_reset */
	uint32_t matched[FAULT_RULES_MAX]; /* operations matching target/op */
	uint32_t fired[FAULT_RULES_MAX];
	bool armed[FAULT_RULES_MAX];       /* after_event seen */
};

struct fault_decision {
	const struct fault_rule *rule;  /* the rule that fired */
	size_t index;                   /* its index in the plan */
	uint64_t latency_us;            /* LATENCY: the drawn delay */
	bool commit_applied;            /* CONN_LOST on postgres: drawn outcome */
};

const char *fault_target_name(enum fault_target t);
bool fault_target_parse(const char *name, enum fault_target *out);
const char *fault_kind_name(enum fault_kind k);
bool fault_kind_parse(const char *name, enum fault_kind *out);

/* Clears the per-run counters; call before each seed. */
void fault_plan_reset(struct fault_plan *plan);

/* Asks whether an operation op on target at now_us meets a fault. Every
 * rule that matches target and op counts the operation; the first rule (in
 * file order) whose window, occurrence, arming and probability all agree
 * fires. RESTART rules never fire here (see fault_plan_down). Draws from
 * rng only for rules with 0 < probability < 1 and for latency. Returns true
 * and fills *out when one fired. */
bool fault_plan_decide(struct fault_plan *plan, struct prng *rng,
                       enum fault_target target, const char *op,
                       uint64_t now_us, struct fault_decision *out);

/* Arms rules waiting for "target.op" (their after_event). */
void fault_plan_note(struct fault_plan *plan, enum fault_target target,
                     const char *op);

/* True when a RESTART rule holds target down at now_us; *rule_index names
 * it (may be NULL). */
bool fault_plan_down(const struct fault_plan *plan, enum fault_target target,
                     uint64_t now_us, size_t *rule_index);

#endif
