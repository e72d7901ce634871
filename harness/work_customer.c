/* harness/work_customer.c - the Stripe customer workload: concurrent first
 * purchases per user and the final mappings and customers read back from the
 * servers, for the orphan check. */
#include <stdlib.h>

#include <string.h>
#include <event2/event.h>

#include "core/assert.h"
#include "core/customer.h"
#include "core/fmt.h"

#include "harness/world_int.h"

/* ---- stripe-customer -------------------------------------------------------- */

struct cu_req {
	struct world *w;
	uint32_t user;
	uint64_t start_us;
	char id[32];
};

static void cu_on_done(void *arg, enum result rc, const char *customer_id)
{
	struct cu_req *q = arg;
	struct world *w = q->w;
	(void)customer_id;
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	ASSERT(w->cu_inflight[q->user] > 0);
	w->cu_inflight[q->user]--;
	if (rc == RESULT_UNHANDLED)
		world_note_unhandled(w, "stripe-customer request died");
	world_request_end(w, "stripe-customer", q->id, q->start_us,
	            rc == RESULT_OK ? WO_CU_OK : WO_CU_ERROR);
	world_work_free(w, q);
}

static void cu_start(void *arg)
{
	struct cu_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		world_work_free(w, q);
		return;
	}
	if (w->cu_inflight[q->user] > 0)
		w->out->race_seen = true;
	w->cu_inflight[q->user]++;
	q->start_us = world_now_us(w);
	world_request_begin(w, "stripe-customer", q->id);
	char user[24], email[48];
	world_name1(user, sizeof user, "cu", q->user);
	struct fmt f;
	fmt_init(&f, email, sizeof email);
	fmt_str(&f, user);
	fmt_str(&f, "@example.com");
	ASSERT(!f.cut);
	w->core_busy++;
	customer_get_or_create(w->cu, user, email, cu_on_done, q);
}

void cu_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	uint32_t users = sc->customer.users;
	ASSERT(users <= WORLD_USERS_MAX);
	w->cu_inflight = calloc(users ? users : 1, sizeof *w->cu_inflight);
	w->h.cust = calloc(users ? users : 1, sizeof *w->h.cust);
	ASSERT(w->cu_inflight != NULL && w->h.cust != NULL);
	w->h.ncust = users;
	uint32_t per = sc->customer.concurrent ? sc->customer.concurrent : 1;
	for (uint32_t u = 0; u < users; u++) {
		world_name1(w->h.cust[u].user, sizeof w->h.cust[u].user, "cu", u);
		uint64_t at = world_uniform_us(w, sc->customer.spread_us);
		for (uint32_t c = 0; c < per; c++) {
			struct cu_req *q = world_work_new(w, sizeof *q);
			q->w = w;
			q->user = u;
			world_name2(q->id, sizeof q->id, "cu", u, c, "");
			world_arrival_add(w, at + (c ? world_uniform_us(w, sc->customer.copy_spread_us) : 0),
			            cu_start, q);
		}
	}
}

static struct hist_customer_user *cu_user(struct world *w, const char *user)
{
	if (user == NULL || strncmp(user, "cu", 2) != 0)
		return NULL;
	char *end;
	unsigned long u = strtoul(user + 2, &end, 10);
	if (*end != '\0' || u >= w->h.ncust)
		return NULL;
	return &w->h.cust[u];
}

static void on_mapping_row(void *arg, const char *user_id, const char *customer_id)
{
	struct world *w = arg;
	struct hist_customer_user *u = cu_user(w, user_id);
	if (u != NULL)
		snprintf(u->mapped, sizeof u->mapped, "%s", customer_id);
}

static void on_customer(void *arg, const char *customer_id, const char *user_id,
                        uint64_t created_us)
{
	struct world *w = arg;
	struct hist_customer_user *u = cu_user(w, user_id);
	if (u == NULL)
		return;
	if (u->ncustomers < HIST_CUSTOMERS_MAX)
		snprintf(u->customers[u->ncustomers], sizeof u->customers[0], "%s", customer_id);
	u->ncustomers++;
	if (created_us > u->last_created_us)
		u->last_created_us = created_us;
}

void cu_snapshot(struct world *w)
{
	w->be.ops->foreach_mapping(w->be.ctx, on_mapping_row, w);
	w->be.ops->foreach_customer(w->be.ctx, on_customer, w);
}
