/* proxy/http_guard.h - hostile-client limits for an evhttp server: a
 * deadline for each complete request (head and body) counted from the moment
 * the connection is ready for it, a cap on open connections, and the
 * loopback rule for listen addresses. Used by the control API, serve and the
 * fake Stripe. Not a server: it wraps the caller's evhttp. */
#ifndef PROXY_HTTP_GUARD_H
#define PROXY_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

struct event_base;
struct evhttp;
struct evhttp_request;
struct http_guard;

#define HTTP_GUARD_DEADLINE_US_DEFAULT 10000000u /* head and body of a request */
#define HTTP_GUARD_DEADLINE_US_MIN 10000u
#define HTTP_GUARD_DEADLINE_US_MAX 3600000000u

typedef void http_guard_request_fn(struct evhttp_request *req, void *arg);

struct http_guard_config {
	uint64_t deadline_us; /* 0: HTTP_GUARD_DEADLINE_US_DEFAULT */
	uint32_t conns_max;   /* open connections served at once (> 0) */
	http_guard_request_fn *on_request; /* the server's handler: the guard is
	                       * evhttp's general callback and passes requests on */
	void *arg;
};

/* Installs itself on http (evhttp_set_bevcb and evhttp_set_gencb: call
 * before binding, instead of evhttp_set_gencb). Every accepted connection
 * must deliver a complete request within the deadline of being accepted (or
 * of its previous answer: an idle keep-alive connection is closed then too),
 * else it is closed without a reply. The deadline stops while a request is
 * with on_request and starts again once its answer is written. Past
 * conns_max open connections, a newcomer closes the oldest connection that
 * has not yet delivered any request; when there is none, the newcomer's
 * request is answered 503 with "Connection: close"; past twice the cap it is
 * closed at once. base and http must outlive the guard; NULL when memory ran
 * out. */
struct http_guard *http_guard_create(struct event_base *base, struct evhttp *http,
                                     const struct http_guard_config *cfg);
/* Closes nothing (evhttp_free does); forgets the connections. Accepts NULL.
 * Call after evhttp_free. */
void http_guard_destroy(struct http_guard *g);

/* RESULT_OK when listen ("HOST:PORT") names only loopback addresses, or
 * allow_remote; RESULT_REJECT (reason in err) when malformed or remote;
 * RESULT_ERROR when the host does not resolve ("cannot resolve ..."). */
MUST_USE enum result http_guard_check_listen(const char *listen, bool allow_remote, char *err,
                                             size_t errsize);

/* Parses a deadline in seconds ("10", "0.5") within the bounds above. */
MUST_USE bool http_guard_parse_deadline(const char *s, uint64_t *deadline_us);

#endif
