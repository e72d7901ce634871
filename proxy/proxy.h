/* proxy/proxy.h - a TCP fault proxy between clients and one real server,
 * on a caller's event_base, single-threaded: wire faults (latency, stalls,
 * closes, resets, limits, the server going down) and faults on chosen Redis
 * commands or PostgreSQL statements. Not the HTTP API: see control_api.h.
 * The process must ignore SIGPIPE (writes to a closed peer). */
#ifndef SIM_LIVE_PROXY_H
#define SIM_LIVE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "proxy/toxic.h"

struct event_base;
struct proxy;

#define PROXY_NAME_MAX 64           /* bytes of a name, with its NUL */
#define PROXY_ADDR_MAX 272          /* "host:port" text, with its NUL */
#define PROXY_TOXICS_MAX 32         /* toxics on one proxy at once */
#define PROXY_CONNS_DEFAULT 1024    /* client connections at once; more are
                                     * accepted and closed at once */
#define PROXY_INFLIGHT_MAX 1024     /* commands of one connection awaiting
                                     * their reply while a protocol toxic is
                                     * on; past it the client is not read */
#define PROXY_BUFFER_MAX (1u << 20) /* bytes queued toward one side before
                                     * the other side is no longer read */

struct proxy_config {
	const char *name;           /* NULL or "": "proxy" */
	const char *listen;         /* "HOST:PORT"; port 0: chosen by the
	                             * kernel; NULL: "127.0.0.1:0" */
	const char *upstream;       /* "HOST:PORT" of the server */
	bool disabled;              /* start down: nothing listens */
	uint64_t seed;              /* toxicity draws, jitter, slice sizes */
	uint32_t conns_max;         /* 0: PROXY_CONNS_DEFAULT */
	uint32_t idle_timeout_ms;   /* close connections idle this long both
	                             * ways; 0: never */
};

struct proxy_stats {
	uint64_t conns;        /* client connections accepted and served */
	uint64_t bytes_up;     /* bytes delivered to the server */
	uint64_t bytes_down;   /* bytes delivered to the client */
	uint64_t toxics_fired; /* stream toxics drawn on for a connection, plus
	                        * protocol toxics fired on a command */
};

/* Splits "HOST:PORT" ("[v6]:PORT" too; "PORT" alone means 127.0.0.1:PORT)
 * into host and port. RESULT_REJECT with the reason in err when malformed. */
MUST_USE enum result proxy_addr_split(const char *addr, char *host, size_t hostsize,
                                      uint16_t *port, char *err, size_t errsize);

/* Resolves both addresses and listens (unless cfg->disabled). base and cfg
 * are borrowed; base must outlive the proxy. NULL with the reason in err
 * when an address is bad, cannot be resolved or bound, or memory ran out. */
struct proxy *proxy_create(struct event_base *base, const struct proxy_config *cfg,
                           char *err, size_t errsize);
/* Closes every connection and the listener. Accepts NULL. */
void proxy_destroy(struct proxy *p);

const char *proxy_name(const struct proxy *p);
/* The listen address with the port actually bound, e.g. "127.0.0.1:40123". */
const char *proxy_listen(const struct proxy *p);
const char *proxy_upstream(const struct proxy *p);
/* The listen port chosen by the kernel when cfg->listen's port is 0. */
uint16_t proxy_listen_port(const struct proxy *p);
bool proxy_is_enabled(const struct proxy *p);

/* Adds a toxic (copied). It applies to open connections at once and to new
 * ones. An empty name becomes "<type>_<stream>". RESULT_REJECT when the spec
 * is invalid, its name is taken, or it is a protocol toxic of the other
 * protocol than one already there; RESULT_NOMEM at PROXY_TOXICS_MAX. */
MUST_USE enum result proxy_add_toxic(struct proxy *p, const struct toxic_spec *t, char *err,
                                     size_t errsize);
/* Replaces the attributes and toxicity of the toxic named t->name (same
 * type), keeping its counters. RESULT_REJECT when absent or invalid. */
MUST_USE enum result proxy_update_toxic(struct proxy *p, const struct toxic_spec *t,
                                        char *err, size_t errsize);
/* Removes a toxic; false when there is none of that name. Data it delayed
 * is still delivered; a connection it stalled for good stays stalled. */
bool proxy_remove_toxic(struct proxy *p, const char *name);
size_t proxy_toxic_count(const struct proxy *p);
/* The i-th toxic, in the order added; i < proxy_toxic_count. */
const struct toxic_spec *proxy_toxic_at(const struct proxy *p, size_t i);
const struct toxic_spec *proxy_find_toxic(const struct proxy *p, const char *name);

/* Removes every toxic and enables the proxy. */
void proxy_reset(struct proxy *p);
/* Disabled: the listener is closed (new connections are refused) and open
 * connections are closed. Enabled: listens again on the same address; when
 * that fails the proxy stays disabled and proxy_last_error says why. */
void proxy_set_enabled(struct proxy *p, bool enabled);
/* Why the last failed operation failed, or "". */
const char *proxy_last_error(const struct proxy *p);

void proxy_get_stats(const struct proxy *p, struct proxy_stats *out);
/* Client connections open now. */
size_t proxy_conn_count(const struct proxy *p);

#endif
