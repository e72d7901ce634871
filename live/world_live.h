/* live/world_live.h - the live backend of a run (sim/world_backend.h): real
 * redis-server and PostgreSQL behind fault proxies, Stripe (the built-in
 * fake or a real account) and SMTP (the built-in sink or a server), all on
 * one event_base and the real clock. Not for simulated runs; one seed at a
 * time; not thread-safe. */
#ifndef SIM_WORLD_LIVE_H
#define SIM_WORLD_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "sim/world_backend.h"

struct event_base;
struct live_plan;
struct world_live;

#define WORLD_LIVE_URL_MAX 1024          /* bytes of a server address */
#define WORLD_LIVE_CONNECT_TIMEOUT_MS 2000 /* the start-up checks' bound */
#define WORLD_LIVE_READS_MAX 4096        /* state reads in flight */
#define WORLD_LIVE_OPS_MAX 65536         /* port operations in flight: far
                                          * above the adapters' own bounds,
                                          * so reaching it is a bug */
#define WORLD_LIVE_CUSTOMERS_MAX 10000   /* Stripe customers read back */
#define WORLD_LIVE_ROWS_MAX 100000       /* rows read back per table */
#define WORLD_LIVE_MAILS_MAX 4096        /* messages kept (own SMTP server) */
#define WORLD_LIVE_EMULATED_MIN_US 50000 /* floor of a wrapper's timeout */

struct world_live_config {
	const char *redis_url;    /* "redis://HOST:PORT" */
	const char *pg_conninfo;  /* libpq key=value string or URI, TCP host */
	const char *stripe_url;   /* NULL: the built-in fake Stripe */
	const char *stripe_key;   /* with stripe_url; copied, never printed */
	const char *smtp_url;     /* NULL: the built-in SMTP sink */
};

/* base is borrowed and must outlive the backend: create it with
 * sched_base_new(SCHED_REAL). Checks only the syntax of the addresses;
 * NULL with the reason in err. */
struct world_live *world_live_create(struct event_base *base,
                                     const struct world_live_config *cfg,
                                     char *err, size_t errsize);
void world_live_destroy(struct world_live *wl); /* accepts NULL */

/* Blocks at most a few seconds: Redis answers PING, PostgreSQL accepts a
 * connection and gets the schema. RESULT_ERROR with the server named in
 * err ("redis at 127.0.0.1:1 refused the connection") otherwise. */
MUST_USE enum result world_live_check_servers(struct world_live *wl, char *err,
                                              size_t errsize);

/* The same for any two servers (faultline serve): RESULT_REJECT when an
 * address does not parse, RESULT_ERROR when a server failed. */
MUST_USE enum result world_live_check(const char *redis_url, const char *pg_conninfo,
                                      char *err, size_t errsize);

/* The scenario plan the next seeds run under (borrowed until replaced). */
void world_live_set_plan(struct world_live *wl, const struct live_plan *lp);

void world_live_backend(struct world_live *wl, struct world_backend *out);

/* "redis 127.0.0.1:6379" ... for the run's header line. */
const char *world_live_describe(const struct world_live *wl);

/* Splits "redis://HOST[:PORT][/DB]" (port 6379 when absent). RESULT_REJECT
 * with the reason in err when it is not such a URL. */
MUST_USE enum result world_live_redis_addr(const char *url, char *host, size_t hostsize,
                                           int *port, char *err, size_t errsize);
/* The TCP address of a libpq connection string and the same string aimed
 * at 127.0.0.1:port instead (port 0: only the address). RESULT_REJECT when
 * it does not parse or names no single TCP host. */
MUST_USE enum result world_live_pg_addr(const char *conninfo, int port, char *host,
                                        size_t hostsize, int *pg_port, char *rewritten,
                                        size_t rewritten_size, char *err, size_t errsize);
/* Calls fn for each header field of a message as received (lines ending
 * CRLF up to the first empty one), with continuation lines unfolded and
 * blanks around the value trimmed; a bare CR or LF stays in the value.
 * false, without calling fn, when a line is neither "Name: value" nor a
 * continuation. */
bool world_live_mail_headers(const char *data, size_t len, world_header_fn *fn, void *arg);

#endif
