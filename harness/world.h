/* harness/world.h - one run: a scenario, a variant per fix and a seed, against
 * the models (simulated) or real servers (a live backend). Builds the core,
 * drives the workload, records the history, checks the invariants, and
 * tears everything down. Knows nothing of reports or of other seeds. */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/env.h"
#include "core/result.h"
#include "sim/fault.h"
#include "harness/coverage.h"
#include "harness/invariant.h"
#include "sim/scenario.h"
#include "reports/report.h"

struct event_base;
struct trace;
struct world_backend;

/* Request outcomes counted for reports, "fix.outcome": one per request
 * end, besides which a copy that asked Redis again after a lost reply is
 * counted once more (_AFTER_LOST_REPLY), and a webhook event whose every
 * attempt failed once (GAVE_UP). */
enum world_outcome {
	WO_RL_ALLOWED, WO_RL_ALLOWED_IN_FAILURE, WO_RL_REJECTED, WO_RL_ERROR,
	WO_DD_NEW, WO_DD_DUPLICATE, WO_DD_FAILED_OPEN, WO_DD_REFUSED,
	WO_DD_NEW_AFTER_LOST_REPLY, WO_DD_DUPLICATE_AFTER_LOST_REPLY,
	WO_QE_SENT, WO_QE_INVALID, WO_QE_ALREADY_SENT, WO_QE_FAILED, WO_QE_UNHANDLED,
	WO_WH_2XX, WO_WH_4XX, WO_WH_5XX, WO_WH_TIMEOUT, WO_WH_CONN_ERROR, WO_WH_GAVE_UP,
	WO_CU_OK, WO_CU_ERROR,
	WO_COUNT
};
const char *world_outcome_name(enum world_outcome o);

enum world_tag { WT_RATELIMIT, WT_EMAIL, WT_WEBHOOK, WT_DEDUP, WT_STRIPE, WT_OTHER, WT_COUNT };
const char *world_tag_name(enum world_tag t); /* "[RateLimit]" ... */

#define WORLD_REQUEST_DEADLINE_US (300ULL * 1000000) /* an answer within 5 min */

struct world_config {
	const struct scenario *sc;
	enum variant variants[FIX_COUNT];
	uint64_t seed;
	struct trace *trace;          /* NULL or off: no trace */
	struct event_base *base;      /* shared by runs in one process; used by
	                               * the simulated backend */
	const struct world_backend *backend; /* NULL: the simulated one (models
	                               * on a virtual clock); else borrowed */
	uint64_t probe_margin_us;     /* a rate-limit probe comes this long after
	                               * the window; 0: 5 s */
};

struct world_result {
	uint32_t checked;             /* invariants checked, bit (1u << id) */
	uint32_t violated;
	struct inv_violation v[INV_COUNT];
	uint64_t faults[FAULT_KIND_COUNT];
	uint64_t outcomes[WO_COUNT];
	uint64_t tags[WT_COUNT];
	uint64_t latency_hist[REPORT_HIST_BUCKETS]; /* request latency, sim us */
	uint64_t duplicates_let_through;
	bool fault_fired;
	bool race_seen;               /* two copies of one thing overlapped */
	uint64_t events;              /* timers dispatched */
	uint64_t sim_end_us;
	uint64_t late_replies;
	struct coverage cov;          /* faults fired and answers given, by cell */
	char error[256];              /* why world_run failed, or "" */
};

/* Runs one seed. RESULT_OK with *out filled; RESULT_NOMEM when a model or
 * the scheduler could not be created; RESULT_ERROR when a live backend
 * could not set up or read its servers (out->error says which and why). */
MUST_USE enum result world_run(const struct world_config *cfg, struct world_result *out);

#endif
