/* sim/world_sim.c - the simulated backend of a run: a virtual-clock
 * scheduler, the in-process models and the simulated network that carries
 * the scenario's faults. Reads of the final state go to the models directly.
 * Not for live servers (live/world_live.c). */
#include "sim/world_sim.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "sim/models/mail_model.h"
#include "sim/models/pg_model.h"
#include "sim/models/redis_model.h"
#include "sim/models/stripe_model.h"
#include "sim/sched.h"
#include "sim/simnet.h"

_Static_assert(SIMNET_REDIS_EPOCH_US == WORLD_WALL_EPOCH_S * 1000000ULL,
               "the Redis model's clock and the world's wall clock share an origin");

struct world_sim {
	struct world_hooks hooks;     /* the world's */
	struct event_base *base;
	struct prng *ties;
	struct sched *s;
	struct redis_model *redis;
	struct pg_model *pg;
	struct stripe_model *stripe;
	struct mail_model *mail;
	struct simnet *simnet;
};

static void sim_pg_wake(void *arg, uint32_t session)
{
	struct world_sim *ws = arg;
	simnet_pg_wake(ws->simnet, session);
}

/* The models apply a command the moment they report it. */
static void sim_on_kv_applied(void *arg, const struct kv_cmd *cmd, const struct kv_reply *reply)
{
	struct world_sim *ws = arg;
	ws->hooks.on_kv_applied(ws->hooks.arg, cmd, reply, 0);
}

static void sim_on_fault(void *arg, enum fault_target target, enum fault_kind kind,
                         const char *op)
{
	struct world_sim *ws = arg;
	ws->hooks.on_fault(ws->hooks.arg, target, kind, op);
}

static void sim_on_applied(void *arg, enum fault_target target, const char *op,
                           enum world_apply_class cls)
{
	struct world_sim *ws = arg;
	if (ws->hooks.on_applied != NULL)
		ws->hooks.on_applied(ws->hooks.arg, target, op, cls);
}

static void sim_on_issued(void *arg, enum fault_target target, const char *op)
{
	struct world_sim *ws = arg;
	if (ws->hooks.on_issued != NULL)
		ws->hooks.on_issued(ws->hooks.arg, target, op);
}

static enum result sim_open(void *ctx, const struct world_seed *seed, struct sched **s,
                            struct core_env *env, char *err, size_t errsize)
{
	struct world_sim *ws = ctx;
	(void)err;
	(void)errsize;
	ws->s = sched_create(ws->base, SCHED_VIRTUAL, ws->ties);
	ws->redis = redis_model_create();
	ws->pg = pg_model_create(SIMNET_POOL_MAX + 16, sim_pg_wake, ws);
	ws->stripe = stripe_model_create(seed->seed);
	ws->mail = mail_model_create();
	if (!ws->s || !ws->redis || !ws->pg || !ws->stripe || !ws->mail)
		return RESULT_NOMEM;
	struct simnet_models models = {ws->redis, ws->pg, ws->stripe, ws->mail};
	ws->hooks = seed->hooks;
	struct simnet_hooks hooks = {.on_fault = sim_on_fault,
	                             .on_kv_applied = sim_on_kv_applied,
	                             .on_applied = sim_on_applied,
	                             .on_issued = sim_on_issued, .arg = ws};
	ws->simnet = simnet_create(ws->s, seed->net, seed->plan, seed->tr, &models, seed->sc,
	                           &hooks);
	if (ws->simnet == NULL)
		return RESULT_NOMEM;
	simnet_ports(ws->simnet, env);
	*s = ws->s;
	return RESULT_OK;
}

static void sim_start_faults(void *ctx)
{
	struct world_sim *ws = ctx;
	simnet_schedule_restarts(ws->simnet);
}

static uint64_t sim_fault_count(void *ctx, enum fault_target target)
{
	struct world_sim *ws = ctx;
	return simnet_fault_count(ws->simnet, target);
}

static void sim_seed_order(void *ctx, const char *order_id, const char *payment_intent_id)
{
	struct world_sim *ws = ctx;
	pg_model_seed_order(ws->pg, order_id, payment_intent_id);
}

static void sim_read_pttl(void *ctx, const char *key, world_pttl_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	struct kv_cmd c = {.argc = 2, .argv = {"PTTL", key}};
	struct kv_reply r;
	redis_model_exec(ws->redis, SIMNET_REDIS_EPOCH_US + sched_now_us(ws->s), &c, &r);
	ASSERT(r.type == KV_REPLY_INTEGER);
	fn(arg, true, r.integer);
}

/* orders(order_id, payment_intent_id, status, paid_count) */
struct order_lookup {
	const char *order;
	bool found;
	bool paid;
	long long paid_count;
};

static void on_order_row(void *arg, const char *const *cols, int ncols)
{
	struct order_lookup *ol = arg;
	if (ncols < 4 || cols[0] == NULL || strcmp(cols[0], ol->order) != 0)
		return;
	ol->found = true;
	ol->paid = cols[2] != NULL && strcmp(cols[2], "paid") == 0;
	ol->paid_count = cols[3] ? strtoll(cols[3], NULL, 10) : 0;
}

static void sim_read_order(void *ctx, const char *order_id, world_order_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	struct order_lookup ol = {.order = order_id};
	pg_model_lookup(ws->pg, "orders", order_id, on_order_row, &ol);
	fn(arg, true, ol.found && ol.paid);
}

static enum result sim_snapshot(void *ctx, char *err, size_t errsize)
{
	(void)ctx;
	(void)err;
	(void)errsize;
	return RESULT_OK; /* the models are read in place */
}

struct order_walk {
	world_order_row_fn *fn;
	void *arg;
};

struct mapping_walk {
	world_mapping_fn *fn;
	void *arg;
};

struct customer_walk {
	world_customer_fn *fn;
	void *arg;
};

static void on_order_walk(void *arg, const char *const *cols, int ncols)
{
	struct order_walk *rw = arg;
	if (ncols < 4 || cols[0] == NULL)
		return;
	rw->fn(rw->arg, cols[0], cols[2] != NULL && strcmp(cols[2], "paid") == 0,
	   cols[3] ? strtoll(cols[3], NULL, 10) : 0);
}

static void sim_foreach_order(void *ctx, world_order_row_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	struct order_walk rw = {.fn = fn, .arg = arg};
	pg_model_foreach(ws->pg, "orders", on_order_walk, &rw);
}

struct payment_walk {
	world_payment_fn *fn;
	void *arg;
};

static void on_payment_walk(void *arg, const char *const *cols, int ncols)
{
	struct payment_walk *rw = arg;
	if (ncols < 2 || cols[0] == NULL || cols[1] == NULL)
		return;
	rw->fn(rw->arg, cols[0], cols[1]);
}

static void sim_foreach_payment(void *ctx, world_payment_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	struct payment_walk rw = {.fn = fn, .arg = arg};
	pg_model_foreach(ws->pg, "order_payments", on_payment_walk, &rw);
}

struct event_walk {
	world_event_row_fn *fn;
	void *arg;
};

/* stripe_events: event_id, event_type, first_seen_at, processed_at. */
static void on_event_walk(void *arg, const char *const *cols, int ncols)
{
	struct event_walk *rw = arg;
	if (ncols < 4 || cols[0] == NULL)
		return;
	rw->fn(rw->arg, cols[0], cols[3] != NULL);
}

static void sim_foreach_event(void *ctx, world_event_row_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	struct event_walk rw = {.fn = fn, .arg = arg};
	pg_model_foreach(ws->pg, "stripe_events", on_event_walk, &rw);
}

static void on_mapping_walk(void *arg, const char *const *cols, int ncols)
{
	struct mapping_walk *rw = arg;
	if (ncols < 2 || cols[0] == NULL || cols[1] == NULL)
		return;
	rw->fn(rw->arg, cols[0], cols[1]);
}

static void sim_foreach_mapping(void *ctx, world_mapping_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	struct mapping_walk rw = {.fn = fn, .arg = arg};
	pg_model_foreach(ws->pg, "stripe_customers", on_mapping_walk, &rw);
}

static void on_customer_walk(void *arg, const char *customer_id, const char *user_id,
                             const char *email, uint64_t created_us)
{
	struct customer_walk *rw = arg;
	(void)email;
	rw->fn(rw->arg, customer_id, user_id, created_us);
}

static void sim_foreach_customer(void *ctx, world_customer_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	struct customer_walk rw = {.fn = fn, .arg = arg};
	stripe_model_foreach_customer(ws->stripe, on_customer_walk, &rw);
}

static size_t sim_mail_count(void *ctx)
{
	struct world_sim *ws = ctx;
	return mail_model_count(ws->mail);
}

static const char *sim_mail_data(void *ctx, size_t i, size_t *len)
{
	struct world_sim *ws = ctx;
	const struct mail_message *m = mail_model_get(ws->mail, i);
	*len = m->len;
	return m->data;
}

static bool sim_mail_headers(void *ctx, size_t i, world_header_fn *fn, void *arg)
{
	struct world_sim *ws = ctx;
	return mail_model_headers(ws->mail, i, fn, arg);
}

static uint64_t sim_late_replies(void *ctx)
{
	struct world_sim *ws = ctx;
	return simnet_stats(ws->simnet)->late_replies;
}

static void sim_shutdown(void *ctx)
{
	struct world_sim *ws = ctx;
	if (ws->simnet != NULL)
		simnet_shutdown(ws->simnet);
}

static void sim_close(void *ctx)
{
	struct world_sim *ws = ctx;
	simnet_destroy(ws->simnet);
	redis_model_destroy(ws->redis);
	pg_model_destroy(ws->pg);
	stripe_model_destroy(ws->stripe);
	mail_model_destroy(ws->mail);
	sched_destroy(ws->s);
	ws->simnet = NULL;
	ws->redis = NULL;
	ws->pg = NULL;
	ws->stripe = NULL;
	ws->mail = NULL;
	ws->s = NULL;
}

static const struct world_backend_ops sim_ops = {
	.open = sim_open,
	.start_faults = sim_start_faults,
	.fault_count = sim_fault_count,
	.seed_order = sim_seed_order,
	.read_pttl = sim_read_pttl,
	.read_order = sim_read_order,
	.snapshot = sim_snapshot,
	.foreach_order = sim_foreach_order,
	.foreach_payment = sim_foreach_payment,
	.foreach_event = sim_foreach_event,
	.foreach_mapping = sim_foreach_mapping,
	.foreach_customer = sim_foreach_customer,
	.mail_count = sim_mail_count,
	.mail_data = sim_mail_data,
	.mail_headers = sim_mail_headers,
	.late_replies = sim_late_replies,
	.shutdown = sim_shutdown,
	.close = sim_close,
};

struct world_sim *world_sim_create(struct event_base *base, struct prng *ties)
{
	ASSERT(base != NULL);
	ASSERT(ties != NULL);
	struct world_sim *ws = calloc(1, sizeof *ws);
	if (ws == NULL)
		return NULL;
	ws->base = base;
	ws->ties = ties;
	return ws;
}

void world_sim_destroy(struct world_sim *ws)
{
	if (ws == NULL)
		return;
	sim_close(ws);
	free(ws);
}

void world_sim_backend(struct world_sim *ws, struct world_backend *out)
{
	ASSERT(ws != NULL);
	*out = (struct world_backend){.ops = &sim_ops, .ctx = ws, .real_clock = false};
}
