/* proxy/http_guard.c - per-connection request deadlines and the connection
 * cap for an evhttp server. evhttp's own timeouts restart at every read, so
 * a client dripping a header line now and then is never cut: here evhttp's
 * bufferevent hook tells us of each accepted connection, a zero-delay event
 * then finds its evhttp_connection (the bufferevent's callback argument) and
 * hooks its close, and a timer per connection frees it when no complete
 * request arrived in time. Not a server and not a parser. */
#include "proxy/http_guard.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/assert.h"
#include "proxy/proxy.h"

/* One accepted connection, from evhttp's bufferevent request to its close. */
struct guard_conn {
	struct http_guard *g;
	struct bufferevent *bev;        /* held (a reference) until adopted */
	struct evhttp_connection *evcon; /* NULL until adopted */
	struct event *timer;            /* adoption, then the deadline */
	struct guard_conn *prev, *next; /* oldest first */
	bool served;                    /* delivered at least one request */
	bool busy;                      /* a request is with the caller */
	bool over_cap;                  /* accepted past the cap: answered 503 */
	bool doomed;                    /* to be closed at the next timer */
};

struct http_guard {
	struct event_base *base;
	struct evhttp *http;
	uint64_t deadline_us;
	uint32_t conns_max;
	http_guard_request_fn *on_request;
	void *arg;
	struct guard_conn *head, *tail;
	size_t open;
};

static void conn_arm(struct guard_conn *c, uint64_t us)
{
	struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
	int rc = event_add(c->timer, &tv);
	ASSERT(rc == 0);
}

static void conn_unlink(struct guard_conn *c)
{
	struct http_guard *g = c->g;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		g->tail = c->prev;
	ASSERT(g->open > 0);
	g->open--;
	event_free(c->timer);
	free(c);
}

/* evhttp frees the connection (closed by either side, or by us). */
static void conn_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct guard_conn *c = arg;
	(void)evcon;
	conn_unlink(c);
}

/* Takes the connection evhttp built around our bufferevent. */
static bool conn_adopt(struct guard_conn *c)
{
	struct bufferevent *bev = c->bev;
	void *cbarg = NULL;
	bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
	struct evhttp_connection *evcon = cbarg;
	c->bev = NULL;
	if (evcon == NULL || evhttp_connection_get_bufferevent(evcon) != bev) {
		/* evhttp gave up on it (memory ran out): our reference is the last. */
		bufferevent_decref(bev);
		conn_unlink(c);
		return false;
	}
	bufferevent_decref(bev);
	c->evcon = evcon;
	evhttp_connection_set_closecb(evcon, conn_on_close, c);
	return true;
}

/* Adoption (right after accept), then the deadline, or an eviction. */
static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct guard_conn *c = arg;
	(void)fd;
	(void)what;
	if (c->evcon == NULL) {
		if (!conn_adopt(c))
			return;
		if (!c->doomed) {
			conn_arm(c, c->g->deadline_us);
			return;
		}
	} else if (c->busy) {
		return;
	}
	evhttp_connection_free(c->evcon); /* calls conn_on_close: c is gone */
}

/* Closes the oldest connection that never delivered a request; false when
 * every open connection has. */
static bool guard_evict(struct http_guard *g)
{
	size_t n = 0;
	for (struct guard_conn *c = g->head; c != NULL && n < g->open; c = c->next, n++) {
		if (c->served || c->busy || c->doomed)
			continue;
		c->doomed = true;
		if (c->evcon != NULL)
			event_active(c->timer, EV_TIMEOUT, 1);
		/* else its adoption, already due, closes it */
		return true;
	}
	return false;
}

static struct bufferevent *guard_on_accept(struct event_base *base, void *arg)
{
	struct http_guard *g = arg;
	struct guard_conn *c = calloc(1, sizeof *c);
	struct event *ev = c != NULL ? event_new(base, -1, 0, conn_on_timer, c) : NULL;
	struct bufferevent *bev = ev != NULL ?
		bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (bev == NULL) {
		/* evhttp makes its own bufferevent: this one goes unguarded. */
		if (ev != NULL)
			event_free(ev);
		free(c);
		return NULL;
	}
	/* Our reference keeps bev alive until adoption, whatever evhttp does. */
	bufferevent_incref(bev);
	c->g = g;
	c->bev = bev;
	c->timer = ev;
	/* Before linking c, so that the newcomer is never its own victim. */
	if (g->open >= g->conns_max && !guard_evict(g)) {
		c->over_cap = true;
		c->doomed = g->open >= 2 * (size_t)g->conns_max;
	}
	c->prev = g->tail;
	if (g->tail != NULL)
		g->tail->next = c;
	else
		g->head = c;
	g->tail = c;
	g->open++;
	event_active(ev, EV_TIMEOUT, 1); /* adopt once evhttp has set it up */
	return bev;
}

static void guard_on_request(struct evhttp_request *req, void *arg);

struct http_guard *http_guard_create(struct event_base *base, struct evhttp *http,
                                     const struct http_guard_config *cfg)
{
	ASSERT(base != NULL && http != NULL && cfg != NULL);
	ASSERT(cfg->conns_max > 0 && cfg->on_request != NULL);
	ASSERT(cfg->deadline_us == 0 || (cfg->deadline_us >= HTTP_GUARD_DEADLINE_US_MIN &&
	                                 cfg->deadline_us <= HTTP_GUARD_DEADLINE_US_MAX));
	struct http_guard *g = calloc(1, sizeof *g);
	if (g == NULL)
		return NULL;
	g->base = base;
	g->http = http;
	g->deadline_us = cfg->deadline_us != 0 ? cfg->deadline_us : HTTP_GUARD_DEADLINE_US_DEFAULT;
	g->conns_max = cfg->conns_max;
	g->on_request = cfg->on_request;
	g->arg = cfg->arg;
	evhttp_set_bevcb(http, guard_on_accept, g);
	evhttp_set_gencb(http, guard_on_request, g);
	return g;
}

void http_guard_destroy(struct http_guard *g)
{
	if (g == NULL)
		return;
	/* evhttp_free closed the adopted ones; what is left awaited adoption. */
	size_t left = g->open;
	while (g->head != NULL && left-- > 0) {
		struct guard_conn *c = g->head;
		ASSERT(c->evcon == NULL);
		bufferevent_decref(c->bev);
		conn_unlink(c);
	}
	ASSERT(g->head == NULL);
	free(g);
}

static struct guard_conn *guard_find(struct http_guard *g, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon == NULL)
		return NULL;
	size_t n = 0;
	for (struct guard_conn *c = g->head; c != NULL && n < g->open; c = c->next, n++) {
		if (c->evcon == evcon)
			return c;
	}
	return NULL;
}

/* The answer is written: the next request's deadline starts. */
static void guard_on_answered(struct evhttp_request *req, void *arg)
{
	struct http_guard *g = arg;
	struct guard_conn *c = guard_find(g, req);
	if (c == NULL)
		return;
	c->busy = false;
	conn_arm(c, g->deadline_us);
}

/* Stops the deadline of req's connection until req is answered; false
 * after answering 503 when the connection is over the cap. */
static bool guard_admit(struct http_guard *g, struct evhttp_request *req)
{
	struct guard_conn *c = guard_find(g, req);
	if (c == NULL)
		return true; /* unguarded (memory ran out at accept) */
	event_del(c->timer);
	c->busy = true;
	c->served = true;
	evhttp_request_set_on_complete_cb(req, guard_on_answered, g);
	if (c->over_cap && g->open > g->conns_max) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);
		evhttp_add_header(h, "Connection", "close");
		evhttp_add_header(h, "Content-Type", "application/json");
		struct evbuffer *b = evbuffer_new();
		if (b != NULL)
			evbuffer_add_printf(b, "{\"error\":\"too many connections\"}\n");
		evhttp_send_reply(req, 503, "Service Unavailable", b);
		if (b != NULL)
			evbuffer_free(b);
		return false;
	}
	c->over_cap = false; /* older connections closed since: let in */
	return true;
}

static void guard_on_request(struct evhttp_request *req, void *arg)
{
	struct http_guard *g = arg;
	if (guard_admit(g, req))
		g->on_request(req, g->arg);
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

enum result http_guard_check_listen(const char *listen, bool allow_remote, char *err,
                                    size_t errsize)
{
	char host[PROXY_ADDR_MAX];
	uint16_t port;
	if (proxy_addr_split(listen, host, sizeof host, &port, err, errsize) != RESULT_OK)
		return RESULT_REJECT;
	if (allow_remote)
		return RESULT_OK;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, NULL, &hints, &res);
	if (gai != 0) {
		snprintf(err, errsize, "cannot resolve listen address '%s': %s", listen,
		         gai_strerror(gai));
		return RESULT_ERROR;
	}
	bool all = res != NULL;
	size_t n = 0;
	for (struct addrinfo *a = res; a != NULL && n < 64; a = a->ai_next, n++)
		all = all && addr_is_loopback(a->ai_addr);
	freeaddrinfo(res);
	if (!all) {
		snprintf(err, errsize, "listen address '%s' is not loopback: refused without "
		                       "--allow-remote", listen);
		return RESULT_REJECT;
	}
	return RESULT_OK;
}

bool http_guard_parse_deadline(const char *s, uint64_t *deadline_us)
{
	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return false;
	char *end;
	double v = strtod(s, &end);
	if (*end != '\0' || !(v >= HTTP_GUARD_DEADLINE_US_MIN / 1e6) ||
	    !(v <= HTTP_GUARD_DEADLINE_US_MAX / 1e6))
		return false;
	*deadline_us = (uint64_t)(v * 1e6 + 0.5);
	return true;
}
