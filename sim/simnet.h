/* sim/simnet.h - the simulated network: implements the core's kv, sql,
 * stripe and mail ports on top of the in-process models, with latency, client
 * deadlines, the Postgres connection pool and the scenario's faults. Each
 * fault that fires is applied with its true effect on the model (applied or
 * not, committed or not) and recorded in the trace. Not for live mode. */
#ifndef SIM_SIMNET_H
#define SIM_SIMNET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/env.h"
#include "sim/fault.h"
#include "sim/scenario.h"
#include "sim/world_backend.h"

struct sched;
struct prng;
struct trace;
struct redis_model;
struct pg_model;
struct stripe_model;
struct mail_model;

struct simnet_models {
	struct redis_model *redis;
	struct pg_model *pg;       /* created with simnet_pg_wake as wake fn */
	struct stripe_model *stripe;
	struct mail_model *mail;
};

/* Told about every fault that fires (for counts and "exercised"). */
typedef void simnet_fault_fn(void *arg, enum fault_target target,
                             enum fault_kind kind, const char *op);
/* Told about every Redis command the model applied, with its reply (the
 * world follows rate-limit windows with it). */
typedef void simnet_kv_applied_fn(void *arg, const struct kv_cmd *cmd,
                                  const struct kv_reply *reply);

/* Told about every operation a model applied, with the class of its answer
 * (for the coverage table). */
typedef void simnet_applied_fn(void *arg, enum fault_target target, const char *op,
                               enum world_apply_class cls);

/* Told about every operation the plan is asked about, by the name a fault
 * rule's op matches (faulted or not), for the table of operations. */
typedef void simnet_issued_fn(void *arg, enum fault_target target, const char *op);

struct simnet_hooks {
	simnet_fault_fn *on_fault;
	simnet_kv_applied_fn *on_kv_applied;
	simnet_applied_fn *on_applied;   /* may be NULL */
	simnet_issued_fn *on_issued;     /* may be NULL */
	void *arg;
};

struct simnet_stats {
	uint64_t ops[FAULT_TARGET_COUNT];
	uint64_t faults[FAULT_KIND_COUNT];
	uint64_t late_replies;       /* replies that arrived after the deadline */
	uint64_t pool_waits;
	uint64_t overloaded;         /* refused: SIMNET_OPS_MAX ops in flight */
};

#define SIMNET_OPS_MAX 65536         /* operations in flight; past it new
                                      * ones fail with OUTCOME_CONN_LOST */
#define SIMNET_POOL_MAX 64           /* postgres pool size bound */
/* The Redis model reads its clock as Unix time (EXAT, PXAT, the EXPIRE
 * overflow check); a simulated run starts it here, where a server's clock
 * is, rather than near 0. The same origin as the world's wall clock. */
#define SIMNET_REDIS_EPOCH_US (1750000000ULL * 1000000ULL)
#define SIMNET_POOL_WAITERS_MAX 4096

/* All pointers are borrowed and must outlive the network. plan may be NULL
 * (no faults). rng is the network's own stream (latency and faults). */
struct simnet *simnet_create(struct sched *s, struct prng *rng,
                             struct fault_plan *plan, struct trace *tr,
                             const struct simnet_models *models,
                             const struct scenario *sc,
                             const struct simnet_hooks *hooks);
void simnet_destroy(struct simnet *n); /* accepts NULL */

/* Fills the kv, sql, stripe and mail ports of env. */
void simnet_ports(struct simnet *n, struct core_env *env);

/* The pg_model's wake callback; pass n as its argument. */
void simnet_pg_wake(void *arg, uint32_t session);

/* Schedules the scenario's restart faults (down windows, Redis key loss). */
void simnet_schedule_restarts(struct simnet *n);

/* True while no fault has fired on target since `since_us` (for "while
 * healthy" invariants). */
bool simnet_healthy_since(const struct simnet *n, enum fault_target target,
                          uint64_t since_us);
uint64_t simnet_last_fault_us(const struct simnet *n, enum fault_target target);
/* Faults fired on target so far. */
uint64_t simnet_fault_count(const struct simnet *n, enum fault_target target);

const struct simnet_stats *simnet_stats(const struct simnet *n);
/* Ends the run: every waiting client is answered OUTCOME_CONN_LOST now and
 * every later operation fails at once, so the caller can drain the
 * scheduler and free everything. */
void simnet_shutdown(struct simnet *n);

/* Operations still in flight (for the no-hung check and leak checks). */
uint64_t simnet_inflight(const struct simnet *n);

#endif
