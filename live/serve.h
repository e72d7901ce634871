/* live/serve.h - the core's endpoints over HTTP (evhttp) on real servers,
 * as the original backend named them, so a storm of webhooks or requests
 * can be aimed at the reference fixes. One event_base, the live adapters,
 * bounded bodies, headers, connections and requests. Not a fault injector
 * (that is `faultline run --live`); not thread-safe. */
#ifndef SIM_SERVE_H
#define SIM_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "sim/scenario.h"

struct event_base;
struct serve;

#define SERVE_BODY_MAX (64u << 10)      /* request body bytes; past: 413 */
#define SERVE_HEADERS_MAX (8u << 10)    /* request header bytes; past: 400 */
#define SERVE_CONNS_MAX 256             /* connections served at once; past:
                                         * 503 and the connection closed */
#define SERVE_INFLIGHT_MAX 1024         /* requests in the core at once; 503 */
#define SERVE_IDLE_S 30                 /* an idle connection is closed */
#define SERVE_ID_MAX 128                /* bytes of user_id, request_id */
#define SERVE_EMAIL_MAX 254             /* bytes of an address */

struct serve_config {
	const char *listen;          /* "HOST:PORT"; port 0 picks a free one */
	enum variant variants[FIX_COUNT];
	const char *webhook_secret;  /* copied, never printed */
	const char *redis_url;       /* "redis://HOST:PORT" */
	const char *pg_conninfo;     /* libpq string */
	const char *stripe_url;      /* NULL: a built-in fake Stripe */
	const char *stripe_key;      /* with stripe_url */
	const char *smtp_url;        /* NULL: a built-in SMTP sink */
	uint32_t rate_limit;         /* payment intents per window and user */
	uint64_t rate_window_ms;
	uint64_t dedup_ttl_ms;       /* request de-duplication window */
	uint64_t seed;               /* the core's randomness (tokens, jitter) */
	uint64_t head_timeout_us;    /* a request's head and body must arrive
	                              * within it; 0: the guard's default (10 s) */
	bool allow_remote;           /* listen may be a non-loopback address */
};

/* Connects nothing yet but checks Redis and PostgreSQL answer (bounded),
 * creates the schema, starts the fake Stripe and the sink when asked, and
 * listens. NULL with the reason in err; *unreachable tells a server that
 * could not be reached from a bad configuration. */
struct serve *serve_create(struct event_base *base, const struct serve_config *cfg,
                           bool *unreachable, char *err, size_t errsize);
/* Accepts NULL. Requests still in the core are abandoned without reply
 * (call serve_stop and let the loop drain first). */
void serve_destroy(struct serve *sv);

/* The address it listens on, "127.0.0.1:PORT". */
const char *serve_listen(const struct serve *sv);
/* A line about the servers behind it, for the start-up message. */
const char *serve_describe(const struct serve *sv);

/* Stops accepting connections; requests in flight go on. */
void serve_stop(struct serve *sv);
/* Requests accepted and not answered yet. */
uint64_t serve_inflight(const struct serve *sv);

#endif
