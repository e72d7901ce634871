/* sim/scenario.h - the description of one world: which fixes it exercises,
 * the workload, the fault plan, the invariants, seeds and simulated duration.
 * Both worlds (sim/, live/) are built from it. Filled from YAML by
 * harness/scenario_load.c (format: docs/scenarios.md); run by the harness. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "sim/fault.h"

enum fix_id {
	FIX_RATELIMIT,
	FIX_QUOTE_EMAIL,
	FIX_WEBHOOK,
	FIX_DEDUP,
	FIX_CUSTOMER,
	FIX_COUNT
};

/* "ratelimit", "quote-email", "webhook", "request-dedup", "stripe-customer" */
/* The names, indexed by id (for listing them in messages). */
extern const char *const fix_names[FIX_COUNT];
const char *fix_name(enum fix_id f);
bool fix_parse(const char *name, enum fix_id *out);

enum invariant_id {
	INV_EXACTLY_ONCE,         /* "exactly-once" */
	INV_EVENTUALLY_APPLIED,   /* "eventually-applied" */
	INV_NO_LOCKOUT,           /* "no-lockout" */
	INV_NO_FALSE_DUPLICATE,   /* "no-false-duplicate" */
	INV_DEDUP_EFFECTIVE,      /* "dedup-effective" */
	INV_NO_ORPHAN,            /* "no-orphan" */
	INV_EMAIL_SAFE,           /* "email-safe" */
	INV_NO_UNHANDLED,         /* "no-unhandled-error": always checked */
	INV_NO_HUNG,              /* "no-hung-request": always checked */
	INV_RATELIMIT_WINDOW,     /* "ratelimit-window" */
	INV_SIGNATURE_SOUND,      /* "signature-sound" */
	INV_WEBHOOK_ACK,          /* "webhook-ack" */
	INV_CUSTOMER_LIVENESS,    /* "customer-liveness" */
	INV_COUNT
};

extern const char *const invariant_names[INV_COUNT];
const char *invariant_name(enum invariant_id i);
bool invariant_parse(const char *name, enum invariant_id *out);

#define SCENARIO_QUOTES_MAX 256
#define SCENARIO_SEED_LIST_MAX 4096
#define SCENARIO_RETRIES_MAX 16
#define SCENARIO_TEXT_MAX 512     /* bytes of one quote field */
#define SCENARIO_RANGES_MAX 32
#define SCENARIO_EXPECT_MAX 32     /* expect_reached entries */
#define SCENARIO_EXPECT_KEY_MAX 80    /* workload keys given as ranges (A..B) */

/* A workload number given as a range: swarm mode draws it per seed from
 * [lo, hi]; without swarm the field holds hi. offset is the field's byte
 * offset in struct scenario (a uint32_t). */
struct scenario_range {
	size_t offset;
	uint32_t lo, hi;
	char key[48];             /* "workload.webhook.events", for the trace */
};

/* Latency of one backend when no fault applies: uniform in [min, max]. */
struct latency {
	uint64_t min_us, max_us;
};

struct backend_settings {
	struct latency latency;
	uint64_t timeout_us;      /* the client's deadline for one operation */
};

struct quote_spec {
	char ref[72];              /* room for one past QUOTE_EMAIL_REF_MAX */
	bool name_null;           /* the customer name is NULL (key absent or null) */
	char name[SCENARIO_TEXT_MAX];
	size_t name_len;          /* may contain NUL and any bytes */
	bool email_null;
	char email[SCENARIO_TEXT_MAX];
	size_t email_len;
	uint32_t sends;           /* how many times the send is requested (>= 1) */
	uint32_t clicks;          /* the first request pressed this many times at
	                           * once (>= 1): concurrent copies */
	int expect;               /* -1: decided by the oracle; 0: must not send;
	                           * 1: must send exactly one mail */
};

struct scenario {
	char *path;               /* as given on the command line */
	char *name;               /* "name:" or the file's base name */
	char *description;
	uint32_t fixes;           /* bit (1u << fix_id) */
	uint32_t invariants;      /* bit (1u << invariant_id); always includes
	                           * INV_NO_UNHANDLED and INV_NO_HUNG */
	uint32_t seeds;           /* how many seeds (default 64) from seed_first */
	uint64_t seed_first;      /* default 1 */
	uint64_t *seed_list;      /* an explicit list instead, or NULL */
	size_t nseed_list;
	uint64_t duration_us;     /* simulated time the run may take (default 1 h) */
	/* Swarm mode (harness/swarm.c): each seed runs a drawn variation: a
	 * subset of the fault rules (or of the whole catalogue for a mixed-*
	 * scenario), their probabilities and windows, and the ranges below. */
	bool swarm;               /* "swarm: true" or run --swarm */
	bool swarm_from_cli;      /* set by --swarm, so replay lines repeat it */
	struct scenario_range ranges[SCENARIO_RANGES_MAX];
	size_t nranges;
	/* Coverage cells the scenario asks about (harness/coverage.h keys):
	 * one never reached makes a result "not exercised". */
	char expect_reached[SCENARIO_EXPECT_MAX][SCENARIO_EXPECT_KEY_MAX];
	size_t nexpect;

	struct backend_settings redis, postgres, stripe, mail;
	uint32_t pg_pool_size;    /* connections in the pool (default 4) */

	struct {
		uint32_t users;            /* default 1 */
		uint32_t requests_per_user;/* default 10 */
		uint64_t spread_us;        /* arrivals uniform over [0, spread] */
		uint32_t limit;            /* N requests per window (default 5) */
		uint64_t window_us;        /* W (default 60 s) */
		bool probe_after_window;   /* each user comes back after the window
		                            * (default true) */
		bool fail_open;            /* hardened policy on Redis failure
		                            * (default true) */
		uint64_t interval_us;      /* > 0: steady traffic, one request per
		                            * interval from an offset in [0, spread] */
		bool boundary;             /* hits at W - 1 ms, W and W + 1 ms after
		                            * each user's first (default false) */
		uint32_t user_id_octets;   /* 0: "u<N>"; else padded to this length */
		bool invalid_ids;          /* also an empty, a 129-octet and a NULL
		                            * user id */
	} ratelimit;

	struct {
		uint32_t requests;         /* distinct requests (default 20) */
		uint32_t duplicates;       /* true duplicates of each (default 1) */
		uint64_t spread_us;        /* first copies over [0, spread] */
		uint64_t duplicate_delay_us; /* copies within [0, delay] after */
		uint64_t ttl_us;           /* dedup window (default 10 s) */
		uint32_t instances;        /* application instances sharing the
		                            * Redis; copies spread over them (1) */
		uint32_t key_octets;       /* 0: "req-<N>"; else padded to this length */
		uint32_t bad_keys;         /* extra requests whose key is empty or one
		                            * octet over DEDUP_KEY_MAX, alternately */
	} dedup;

	struct {
		struct quote_spec quotes[SCENARIO_QUOTES_MAX];
		size_t nquotes;
		uint64_t spread_us;
	} quote_email;

	struct {
		uint32_t events;           /* payment_intent.succeeded events (default 5) */
		uint32_t copies;           /* deliveries of each event (default 2) */
		uint64_t copy_spread_us;   /* copies within [0, spread]; 0 = concurrent */
		uint64_t spread_us;        /* events over [0, spread] */
		uint64_t retry_us[SCENARIO_RETRIES_MAX]; /* Stripe's back-off after a
		                            * failed delivery; default 1 min, 5 min,
		                            * 30 min */
		size_t nretry;
		uint64_t endpoint_timeout_us; /* Stripe gives up waiting (default 10 s) */
		uint32_t bad_signatures;   /* extra deliveries with a wrong signature */
		uint32_t stale_signatures; /* extra deliveries signed > 300 s ago */
		uint32_t second_events;    /* orders that also get a second, distinct
		                            * payment_intent.succeeded event */
		uint32_t other_types;      /* events of other types, each for an
		                            * order of its own (default 0) */
		uint32_t unknown_orders;   /* succeeded events naming no order */
		uint32_t signatures;       /* deliveries with a hostile
		                            * Stripe-Signature shape, cycling */
		uint32_t payloads;         /* deliveries with an edge-case body
		                            * (size limit, ids), cycling */
	} webhook;

	struct {
		uint32_t users;            /* default 5 */
		uint32_t concurrent;       /* simultaneous first requests per user (2) */
		uint64_t spread_us;        /* users over [0, spread] */
		uint64_t copy_spread_us;   /* a user's requests within [0, spread] */
		uint32_t existing;         /* users 0..existing-1 were served by an
		                            * earlier deploy at time 0 (even ones
		                            * without a key, odd ones with it) */
		uint64_t start_us;         /* the run's own purchases begin here */
		uint32_t no_email;         /* users before the shared ones with none */
		uint32_t shared_email;     /* the last users share one address */
		bool invalid_ids;          /* also an empty and a 65-octet user id */
		uint32_t user_id_octets;   /* 0: "cu<N>"; else padded to this length */
		uint64_t again_us;         /* each user buys again this long after
		                            * its first purchase; 0: never */
	} customer;

	struct fault_plan faults;
};

void scenario_destroy(struct scenario *sc); /* accepts NULL */

/* The seed of the index-th run (0-based), from the list or the range. */
uint64_t scenario_seed_at(const struct scenario *sc, size_t index);
size_t scenario_seed_count(const struct scenario *sc);

#endif
