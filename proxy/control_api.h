/* proxy/control_api.h - the fault proxy's HTTP control API, compatible
 * with Toxiproxy's: a named set of proxies on one event_base, an evhttp
 * server (127.0.0.1 by default), and Toxiproxy's populate format.
 * Not the proxying itself: see proxy.h. */
#ifndef SIM_LIVE_CONTROL_API_H
#define SIM_LIVE_CONTROL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "proxy/proxy.h"

struct event_base;
struct control_api;

#define CONTROL_PROXIES_MAX 64          /* proxies in one set */
#define CONTROL_BODY_MAX (64u * 1024)   /* bytes of a request body */
#define CONTROL_HEADERS_MAX (8u * 1024) /* bytes of request headers */
#define CONTROL_CONNS_MAX 64            /* HTTP connections at once; past it
                                         * the oldest silent one is closed, or
                                         * else the newcomer answered 503 and
                                         * closed (proxy/http_guard.h) */
#define CONTROL_IDLE_S 30               /* an idle HTTP connection closes */
#define CONTROL_PATH_MAX 1024           /* bytes of a request path */

struct control_api_config {
	const char *listen; /* "HOST:PORT" of the HTTP server; NULL: none, the
	                     * set is driven through this header only */
	uint64_t seed;      /* given to every proxy (each forks its own stream
	                     * by name) */
	bool allow_remote;  /* the API's and the proxies' listen addresses may
	                     * be non-loopback (`faultline proxy --allow-remote`);
	                     * else such a proxy is refused (400) */
	uint64_t head_timeout_us; /* an HTTP request's head and body must
	                     * arrive within it; 0: 10 s (proxy/http_guard.h) */
};

/* NULL with the reason in err when the address is bad or cannot be bound,
 * or memory ran out. base must outlive the API. */
struct control_api *control_api_create(struct event_base *base,
                                       const struct control_api_config *cfg, char *err,
                                       size_t errsize);
/* Stops the server and destroys every proxy. Accepts NULL. */
void control_api_destroy(struct control_api *api);

/* The HTTP server's address with its actual port, or "" without one. */
const char *control_api_listen(const struct control_api *api);
uint16_t control_api_port(const struct control_api *api);

/* Creates a proxy in the set (cfg->seed is replaced by the set's seed).
 * RESULT_REJECT when the name is taken or invalid, RESULT_NOMEM at
 * CONTROL_PROXIES_MAX, RESULT_ERROR when it cannot listen; err says why. */
MUST_USE enum result control_api_add_proxy(struct control_api *api,
                                           const struct proxy_config *cfg, char *err,
                                           size_t errsize);

/* Applies a Toxiproxy populate document: a JSON array of proxies
 * ({"name", "listen", "upstream", "enabled", "toxics": [...]}). A proxy
 * whose name exists is kept when its listen and upstream are unchanged and
 * replaced otherwise; listed toxics are added or replace those of the same
 * name. Stops at the first error (RESULT_REJECT or RESULT_ERROR, err says
 * which proxy and why); what was applied before it stays. */
MUST_USE enum result control_api_populate(struct control_api *api, const char *json,
                                          size_t len, char *err, size_t errsize);

size_t control_api_proxy_count(const struct control_api *api);
/* The i-th proxy in the order created; i < control_api_proxy_count. */
struct proxy *control_api_proxy_at(const struct control_api *api, size_t i);
struct proxy *control_api_find(const struct control_api *api, const char *name);

#endif
