/* tests/check_proxy.c - the fault proxy end to end on one event_base: an
 * in-process server (echo, a fake Redis that answers "+NAME" to each
 * command, or a fake PostgreSQL) on 127.0.0.1 port 0, the proxy in front of
 * it, and non-blocking clients. Wire toxics, protocol toxics, enabling and
 * disabling, toxicity, and the HTTP control API. Every wait is bounded. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "proxy/control_api.h"
#include "proxy/pg_wire.h"
#include "proxy/proxy.h"
#include "proxy/resp_wire.h"
#include "sim/sched.h"

#define WAIT_MS 3000        /* the longest any test waits for an event */
#define SERVER_CONNS_MAX 64
#define LOG_MAX 1024

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the in-process server ------------------------------------------------ */

enum server_kind { SERVER_ECHO, SERVER_REDIS, SERVER_PG };

struct server;

struct server_conn {
	struct server *srv;
	struct bufferevent *bev;
	struct resp_parser resp;
	struct pg_wire_parser pg;
	char txn;
	bool closing;
};

struct server {
	enum server_kind kind;
	struct evconnlistener *lis;
	uint16_t port;
	struct server_conn conns[SERVER_CONNS_MAX];
	int nconns;
	char log[LOG_MAX];   /* what the server was asked, "NAME," each */
	size_t bytes_in;     /* echo: bytes received */
};

static void server_log(struct server *s, const char *what)
{
	size_t n = strlen(s->log);
	snprintf(s->log + n, sizeof s->log - n, "%s,", what);
}

static void server_on_write(struct bufferevent *bev, void *arg)
{
	struct server_conn *sc = arg;
	if (sc->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		bufferevent_free(bev);
		sc->bev = NULL;
	}
}

static void pg_reply(struct evbuffer *out, char type, const void *body, uint32_t len)
{
	uint8_t hdr[5] = {(uint8_t)type, (uint8_t)((len + 4) >> 24), (uint8_t)((len + 4) >> 16),
	                  (uint8_t)((len + 4) >> 8), (uint8_t)(len + 4)};
	evbuffer_add(out, hdr, 5);
	evbuffer_add(out, body, len);
}

static void server_on_read(struct bufferevent *bev, void *arg)
{
	struct server_conn *sc = arg;
	struct server *s = sc->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	if (s->kind == SERVER_ECHO) {
		size_t n = evbuffer_get_length(in);
		s->bytes_in += n;
		if (evbuffer_search(in, "QUIT", 4, NULL).pos >= 0) {
			server_log(s, "QUIT");
			sc->closing = true;
		}
		evbuffer_remove_buffer(in, out, n);
		server_on_write(bev, sc);
		return;
	}
	size_t len = evbuffer_get_length(in);
	uint8_t *b = evbuffer_pullup(in, -1);
	size_t off = 0;
	for (;;) {
		size_t used = 0;
		const uint8_t *at = off < len ? b + off : NULL;
		if (s->kind == SERVER_REDIS) {
			enum resp_status st = resp_parse(&sc->resp, at, len - off, &used);
			off += used;
			const struct resp_frame *f = resp_parser_frame(&sc->resp);
			if (st == RESP_MORE || st == RESP_BAD)
				break;
			if (st == RESP_NAMED && f->kind == RESP_KIND_COMMAND) {
				server_log(s, f->name);
				evbuffer_add_printf(out, "+%s\r\n", f->name);
			}
			continue;
		}
		enum pg_wire_status st = pg_wire_parse(&sc->pg, at, len - off, &used);
		off += used;
		const struct pg_wire_frame *f = pg_wire_frame(&sc->pg);
		if (st == PG_WIRE_MORE || st == PG_WIRE_BAD)
			break;
		if (st != PG_WIRE_DONE)
			continue;
		if (f->kind == PG_KIND_SSL_REQUEST) {
			server_log(s, "SSLREQUEST");
			evbuffer_add(out, "N", 1);
		} else if (f->kind == PG_KIND_STARTUP) {
			server_log(s, "STARTUP");
			uint8_t zero[4] = {0};
			pg_reply(out, 'R', zero, 4);
			pg_reply(out, 'Z', "I", 1);
		} else if (f->kind == PG_KIND_QUERY || f->kind == PG_KIND_EXTENDED) {
			server_log(s, f->statement[0] ? f->statement : f->keyword);
			if (strcmp(f->keyword, "BEGIN") == 0)
				sc->txn = 'T';
			else if (strcmp(f->keyword, "COMMIT") == 0 || strcmp(f->keyword, "ROLLBACK") == 0)
				sc->txn = 'I';
			pg_reply(out, 'C', f->keyword, (uint32_t)strlen(f->keyword) + 1);
			pg_reply(out, 'Z', &sc->txn, 1);
		}
	}
	evbuffer_drain(in, off);
}

static void server_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct server_conn *sc = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(bev);
		sc->bev = NULL;
	}
}

static void server_on_accept(struct evconnlistener *lis, evutil_socket_t fd,
                             struct sockaddr *sa, int salen, void *arg)
{
	(void)sa;
	(void)salen;
	struct server *s = arg;
	if (s->nconns == SERVER_CONNS_MAX) {
		evutil_closesocket(fd);
		return;
	}
	struct server_conn *sc = &s->conns[s->nconns++];
	sc->srv = s;
	sc->txn = 'I';
	resp_parser_init(&sc->resp, RESP_SIDE_REQUESTS);
	pg_wire_init(&sc->pg, PG_WIRE_FRONTEND, false);
	sc->bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(sc->bev);
	bufferevent_setcb(sc->bev, server_on_read, server_on_write, server_on_event, sc);
	bufferevent_enable(sc->bev, EV_READ);
}

static uint16_t bound_port(evutil_socket_t fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static void server_start(struct server *s, struct event_base *base, enum server_kind kind)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lis = evconnlistener_new_bind(base, server_on_accept, s,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	                                 (struct sockaddr *)&sin, sizeof sin);
	ck_assert_ptr_nonnull(s->lis);
	s->port = bound_port(evconnlistener_get_fd(s->lis));
}

static void server_stop(struct server *s)
{
	for (int i = 0; i < s->nconns; i++) {
		if (s->conns[i].bev != NULL)
			bufferevent_free(s->conns[i].bev);
	}
	evconnlistener_free(s->lis);
}

/* ---- the test client -------------------------------------------------------- */

struct client {
	struct bufferevent *bev;
	struct evbuffer *got;
	bool connected;
	bool eof;
	bool error;
	int err;
	uint64_t first_byte_us;
};

static void client_on_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	if (cl->first_byte_us == 0)
		cl->first_byte_us = mono_us();
	evbuffer_add_buffer(cl->got, bufferevent_get_input(bev));
}

static void client_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct client *cl = arg;
	if (what & BEV_EVENT_CONNECTED)
		cl->connected = true;
	if (what & BEV_EVENT_EOF)
		cl->eof = true;
	if (what & BEV_EVENT_ERROR) {
		cl->error = true;
		cl->err = EVUTIL_SOCKET_ERROR();
	}
}

static void client_open(struct client *cl, struct event_base *base, uint16_t port)
{
	memset(cl, 0, sizeof *cl);
	cl->got = evbuffer_new();
	cl->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(cl->bev);
	bufferevent_setcb(cl->bev, client_on_read, NULL, client_on_event, cl);
	bufferevent_enable(cl->bev, EV_READ);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bufferevent_socket_connect(cl->bev, (struct sockaddr *)&sin, sizeof sin),
	                 0);
}

static void client_send(struct client *cl, const void *data, size_t len)
{
	ck_assert_int_eq(bufferevent_write(cl->bev, data, len), 0);
}

static void client_sends(struct client *cl, const char *s)
{
	client_send(cl, s, strlen(s));
}

static void client_close(struct client *cl)
{
	bufferevent_free(cl->bev);
	evbuffer_free(cl->got);
}

static size_t client_len(const struct client *cl)
{
	return evbuffer_get_length(cl->got);
}

/* The received bytes as a string (for text protocols). */
static const char *client_text(struct client *cl)
{
	static char text[1 << 16];
	ev_ssize_t n = evbuffer_copyout(cl->got, text, sizeof text - 1);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

/* ---- running the loop ----------------------------------------------------------- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

typedef bool cond_fn(void *arg);

/* Runs the loop until cond holds or timeout_ms passed; returns cond. */
static bool run_until(struct event_base *base, cond_fn *cond, void *arg, int timeout_ms)
{
	struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 2000};
	event_add(tick, &tv);
	uint64_t end = mono_us() + (uint64_t)timeout_ms * 1000u;
	bool ok;
	while (!(ok = cond(arg)) && mono_us() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	return ok;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void run_for(struct event_base *base, int ms)
{
	run_until(base, never, NULL, ms);
}

struct want_bytes {
	struct client *cl;
	size_t n;
};

static bool has_bytes(void *arg)
{
	struct want_bytes *w = arg;
	return client_len(w->cl) >= w->n;
}

static bool wait_bytes(struct event_base *base, struct client *cl, size_t n)
{
	struct want_bytes w = {cl, n};
	return run_until(base, has_bytes, &w, WAIT_MS);
}

static bool is_closed(void *arg)
{
	struct client *cl = arg;
	return cl->eof || cl->error;
}

static bool wait_closed(struct event_base *base, struct client *cl)
{
	return run_until(base, is_closed, cl, WAIT_MS);
}

static bool is_connected(void *arg)
{
	struct client *cl = arg;
	return cl->connected || cl->error || cl->eof;
}

/* ---- the fixture -------------------------------------------------------------- */

struct fixture {
	struct event_base *base;
	struct server srv;
	struct proxy *proxy;
	uint16_t port; /* the proxy's */
};

static void fixture_open(struct fixture *f, enum server_kind kind, uint64_t seed)
{
	signal(SIGPIPE, SIG_IGN);
	f->base = sched_base_new(SCHED_REAL);
	ck_assert_ptr_nonnull(f->base);
	server_start(&f->srv, f->base, kind);
	char up[64];
	snprintf(up, sizeof up, "127.0.0.1:%u", (unsigned)f->srv.port);
	struct proxy_config cfg = {.name = "test", .listen = "127.0.0.1:0", .upstream = up,
	                           .seed = seed};
	char err[256] = "";
	f->proxy = proxy_create(f->base, &cfg, err, sizeof err);
	ck_assert_msg(f->proxy != NULL, "proxy_create: %s", err);
	f->port = proxy_listen_port(f->proxy);
	ck_assert_uint_ne(f->port, 0);
}

static void fixture_close(struct fixture *f)
{
	proxy_destroy(f->proxy);
	server_stop(&f->srv);
	event_base_free(f->base);
}

static void add_toxic(struct fixture *f, const struct toxic_spec *t)
{
	char err[256] = "";
	enum result rc = proxy_add_toxic(f->proxy, t, err, sizeof err);
	ck_assert_msg(rc == RESULT_OK, "proxy_add_toxic: %s", err);
}

static struct toxic_spec spec(enum toxic_type type, enum toxic_stream stream)
{
	struct toxic_spec t;
	toxic_spec_init(&t, type);
	t.stream = stream;
	return t;
}

static struct toxic_spec command_spec(enum toxic_type type, const char *command,
                                      enum toxic_action action)
{
	struct toxic_spec t;
	toxic_spec_init(&t, type);
	snprintf(t.command.command, sizeof t.command.command, "%s", command);
	t.command.action = action;
	return t;
}

/* Sends data through a fresh connection and checks the echo. */
static void expect_echo(struct fixture *f, const char *data)
{
	struct client cl;
	client_open(&cl, f->base, f->port);
	client_sends(&cl, data);
	ck_assert(wait_bytes(f->base, &cl, strlen(data)));
	ck_assert_str_eq(client_text(&cl), data);
	client_close(&cl);
}

/* ---- wire faults ------------------------------------------------------------- */

START_TEST(test_proxy_passes_bytes_unchanged_both_ways)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	size_t n = 256 * 1024;
	uint8_t *data = malloc(n);
	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_send(&cl, data, n);
	ck_assert(wait_bytes(f.base, &cl, n));
	ck_assert_uint_eq(client_len(&cl), n);
	ck_assert_int_eq(memcmp(evbuffer_pullup(cl.got, -1), data, n), 0);
	struct proxy_stats st;
	proxy_get_stats(f.proxy, &st);
	ck_assert_uint_eq(st.conns, 1);
	ck_assert_uint_eq(st.bytes_up, n);
	ck_assert_uint_eq(st.bytes_down, n);
	ck_assert_uint_eq(st.toxics_fired, 0);
	client_close(&cl);
	free(data);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_reports_listen_address_with_kernel_port)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	char want[64];
	snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)f.port);
	ck_assert_str_eq(proxy_listen(f.proxy), want);
	ck_assert_str_eq(proxy_name(f.proxy), "test");
	ck_assert(proxy_is_enabled(f.proxy));
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_latency_delays_by_at_least_the_latency)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec down = spec(TOXIC_LATENCY, TOXIC_DOWNSTREAM);
	down.latency.latency_ms = 60;
	add_toxic(&f, &down);
	struct toxic_spec up = spec(TOXIC_LATENCY, TOXIC_UPSTREAM);
	up.latency.latency_ms = 40;
	add_toxic(&f, &up);
	struct client cl;
	client_open(&cl, f.base, f.port);
	ck_assert(run_until(f.base, is_connected, &cl, WAIT_MS));
	uint64_t t0 = mono_us();
	client_sends(&cl, "ping");
	ck_assert(wait_bytes(f.base, &cl, 4));
	ck_assert_uint_ge(cl.first_byte_us - t0, 100000);
	ck_assert_str_eq(client_text(&cl), "ping");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_jitter_never_reorders_bytes)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, (uint64_t)_i);
	struct toxic_spec t = spec(TOXIC_LATENCY, TOXIC_DOWNSTREAM);
	t.latency.latency_ms = 5;
	t.latency.jitter_ms = 5;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	char want[512] = "";
	for (int i = 0; i < 40; i++) {
		char piece[16];
		snprintf(piece, sizeof piece, "%d;", i);
		strcat(want, piece);
		client_sends(&cl, piece);
		run_for(f.base, 1);
	}
	ck_assert(wait_bytes(f.base, &cl, strlen(want)));
	ck_assert_str_eq(client_text(&cl), want);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_bandwidth_limits_the_rate)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_BANDWIDTH, TOXIC_DOWNSTREAM);
	t.bandwidth.rate_kb_s = 100; /* 100 000 bytes a second */
	add_toxic(&f, &t);
	size_t n = 40000;
	char *data = malloc(n);
	memset(data, 'b', n);
	struct client cl;
	client_open(&cl, f.base, f.port);
	ck_assert(run_until(f.base, is_connected, &cl, WAIT_MS));
	uint64_t t0 = mono_us();
	client_send(&cl, data, n);
	ck_assert(wait_bytes(f.base, &cl, n));
	uint64_t took = mono_us() - t0;
	ck_assert_uint_ge(took, 350000); /* 0.4 s at the rate, less timer slack */
	client_close(&cl);
	free(data);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_slicer_delivers_every_byte_in_order)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, (uint64_t)_i);
	struct toxic_spec t = spec(TOXIC_SLICER, TOXIC_DOWNSTREAM);
	t.slicer.average_size = 16;
	t.slicer.size_variation = 8;
	t.slicer.delay_us = 200;
	add_toxic(&f, &t);
	char data[3000];
	for (size_t i = 0; i < sizeof data - 1; i++)
		data[i] = (char)('a' + i % 26);
	data[sizeof data - 1] = '\0';
	expect_echo(&f, data);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_reset_peer_gives_client_econnreset)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_RESET_PEER, TOXIC_DOWNSTREAM);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, "hello");
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.error);
	ck_assert_int_eq(cl.err, ECONNRESET);
	ck_assert_uint_eq(client_len(&cl), 0);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_reset_peer_waits_its_timeout)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_RESET_PEER, TOXIC_UPSTREAM);
	t.reset_peer.timeout_ms = 80;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	ck_assert(run_until(f.base, is_connected, &cl, WAIT_MS));
	uint64_t t0 = mono_us();
	client_sends(&cl, "hello");
	ck_assert(wait_closed(f.base, &cl));
	ck_assert_uint_ge(mono_us() - t0, 80000);
	ck_assert_int_eq(cl.err, ECONNRESET);
	ck_assert_str_eq(f.srv.log, ""); /* nothing reached the server */
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_limit_data_cuts_at_n_bytes)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_LIMIT_DATA, TOXIC_DOWNSTREAM);
	t.limit_data.bytes = 10;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, "0123456789abcdefghijklmnopqrstuvwxyz");
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.eof);
	ck_assert_str_eq(client_text(&cl), "0123456789");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_limit_data_zero_closes_at_the_first_byte)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_LIMIT_DATA, TOXIC_UPSTREAM);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	ck_assert(run_until(f.base, is_connected, &cl, WAIT_MS));
	run_for(f.base, 30);
	ck_assert(!is_closed(&cl)); /* open until data comes */
	client_sends(&cl, "x");
	ck_assert(wait_closed(f.base, &cl));
	ck_assert_uint_eq(client_len(&cl), 0);
	ck_assert_uint_eq(f.srv.bytes_in, 0);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_limit_data_upstream_counts_across_writes)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_LIMIT_DATA, TOXIC_UPSTREAM);
	t.limit_data.bytes = 6;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, "abcd");
	ck_assert(wait_bytes(f.base, &cl, 4));
	client_sends(&cl, "efgh");
	ck_assert(wait_closed(f.base, &cl));
	/* The server got exactly the limit; the echo of the last bytes races
	 * the close, so the client sees "abcd" and perhaps "ef". */
	run_for(f.base, 20);
	ck_assert_uint_eq(f.srv.bytes_in, 6);
	ck_assert(strcmp(client_text(&cl), "abcd") == 0 || strcmp(client_text(&cl), "abcdef") == 0);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_timeout_drops_data_then_closes)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_TIMEOUT, TOXIC_UPSTREAM);
	t.timeout.timeout_ms = 80;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	uint64_t t0 = mono_us();
	client_sends(&cl, "lost");
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.eof);
	ck_assert_uint_ge(mono_us() - t0, 80000);
	ck_assert_uint_eq(client_len(&cl), 0);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_timeout_zero_stalls_until_removed)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_TIMEOUT, TOXIC_DOWNSTREAM);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, "first");
	run_for(f.base, 100);
	ck_assert_uint_eq(client_len(&cl), 0);
	ck_assert(!cl.eof && !cl.error);
	ck_assert(proxy_remove_toxic(f.proxy, "timeout_downstream"));
	ck_assert(!proxy_remove_toxic(f.proxy, "timeout_downstream"));
	client_sends(&cl, "second");
	ck_assert(wait_bytes(f.base, &cl, 6));
	ck_assert_str_eq(client_text(&cl), "second");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_slow_close_delays_the_close)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_SLOW_CLOSE, TOXIC_DOWNSTREAM);
	t.slow_close.delay_ms = 80;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	ck_assert(run_until(f.base, is_connected, &cl, WAIT_MS));
	uint64_t t0 = mono_us();
	client_sends(&cl, "QUIT");
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.eof);
	ck_assert_uint_ge(mono_us() - t0, 80000);
	ck_assert_str_eq(client_text(&cl), "QUIT"); /* the echo came before the close */
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_client_half_close_still_gets_the_replies)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	for (int i = 0; i < 5; i++) {
		struct client cl;
		client_open(&cl, f.base, f.port);
		ck_assert(run_until(f.base, is_connected, &cl, WAIT_MS));
		/* Bytes and FIN together; then the echo must still come back. */
		evutil_socket_t fd = bufferevent_getfd(cl.bev);
		ck_assert_int_eq(send(fd, "last words", 10, 0), 10);
		ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
		ck_assert(wait_closed(f.base, &cl));
		ck_assert(cl.eof);
		ck_assert_str_eq(client_text(&cl), "last words");
		client_close(&cl);
	}
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_disabled_refuses_then_enabled_serves_again)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct client open_conn;
	client_open(&open_conn, f.base, f.port);
	ck_assert(run_until(f.base, is_connected, &open_conn, WAIT_MS));
	run_for(f.base, 10);
	ck_assert_uint_eq(proxy_conn_count(f.proxy), 1);

	proxy_set_enabled(f.proxy, false);
	ck_assert(!proxy_is_enabled(f.proxy));
	ck_assert(wait_closed(f.base, &open_conn)); /* open connections closed */
	ck_assert_uint_eq(proxy_conn_count(f.proxy), 0);
	struct client cl;
	client_open(&cl, f.base, f.port);
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.error);
	ck_assert_int_eq(cl.err, ECONNREFUSED);
	client_close(&cl);

	proxy_set_enabled(f.proxy, true);
	ck_assert(proxy_is_enabled(f.proxy));
	ck_assert_uint_eq(proxy_listen_port(f.proxy), f.port);
	expect_echo(&f, "back");
	client_close(&open_conn);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_reset_removes_toxics_and_enables)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_TIMEOUT, TOXIC_DOWNSTREAM);
	add_toxic(&f, &t);
	proxy_set_enabled(f.proxy, false);
	proxy_reset(f.proxy);
	ck_assert(proxy_is_enabled(f.proxy));
	ck_assert_uint_eq(proxy_toxic_count(f.proxy), 0);
	expect_echo(&f, "clean");
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_server_down_closes_the_client)
{
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = sched_base_new(SCHED_REAL);
	struct server srv;
	server_start(&srv, base, SERVER_ECHO);
	char up[64];
	snprintf(up, sizeof up, "127.0.0.1:%u", (unsigned)srv.port);
	server_stop(&srv); /* nothing listens there now */
	struct proxy_config cfg = {.listen = "127.0.0.1:0", .upstream = up};
	struct proxy *p = proxy_create(base, &cfg, NULL, 0);
	ck_assert_ptr_nonnull(p);
	struct client cl;
	client_open(&cl, base, proxy_listen_port(p));
	/* Nothing sent: a socket closed with unread bytes would send RST. */
	ck_assert(run_until(base, is_closed, &cl, WAIT_MS));
	ck_assert(cl.eof);
	ck_assert_uint_eq(client_len(&cl), 0);
	client_close(&cl);
	proxy_destroy(p);
	event_base_free(base);
}
END_TEST

START_TEST(test_proxy_closes_connections_past_conns_max)
{
	signal(SIGPIPE, SIG_IGN);
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	proxy_destroy(f.proxy);
	char up[64];
	snprintf(up, sizeof up, "127.0.0.1:%u", (unsigned)f.srv.port);
	struct proxy_config cfg = {.listen = "127.0.0.1:0", .upstream = up, .conns_max = 2};
	f.proxy = proxy_create(f.base, &cfg, NULL, 0);
	ck_assert_ptr_nonnull(f.proxy);
	f.port = proxy_listen_port(f.proxy);
	struct client a, b, c;
	client_open(&a, f.base, f.port);
	client_open(&b, f.base, f.port);
	ck_assert(run_until(f.base, is_connected, &b, WAIT_MS));
	run_for(f.base, 20);
	client_open(&c, f.base, f.port);
	ck_assert(wait_closed(f.base, &c));
	client_sends(&a, "still here");
	ck_assert(wait_bytes(f.base, &a, 10));
	client_close(&a);
	client_close(&b);
	client_close(&c);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_idle_timeout_closes_idle_connections)
{
	signal(SIGPIPE, SIG_IGN);
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	proxy_destroy(f.proxy);
	char up[64];
	snprintf(up, sizeof up, "127.0.0.1:%u", (unsigned)f.srv.port);
	struct proxy_config cfg = {.listen = "127.0.0.1:0", .upstream = up,
	                           .idle_timeout_ms = 60};
	f.proxy = proxy_create(f.base, &cfg, NULL, 0);
	ck_assert_ptr_nonnull(f.proxy);
	struct client cl;
	client_open(&cl, f.base, proxy_listen_port(f.proxy));
	uint64_t t0 = mono_us();
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.eof);
	ck_assert_uint_ge(mono_us() - t0, 50000);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

/* ---- toxicity ------------------------------------------------------------- */

START_TEST(test_proxy_toxicity_zero_never_fires)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, (uint64_t)_i);
	struct toxic_spec t = spec(TOXIC_RESET_PEER, TOXIC_DOWNSTREAM);
	t.toxicity = 0;
	add_toxic(&f, &t);
	struct toxic_spec cmd = command_spec(TOXIC_REDIS_COMMAND, "*", TOXIC_ACTION_ERROR);
	cmd.toxicity = 0;
	add_toxic(&f, &cmd);
	for (int i = 0; i < 5; i++) {
		struct client cl;
		client_open(&cl, f.base, f.port);
		client_sends(&cl, "*1\r\n$4\r\nPING\r\n");
		ck_assert(wait_bytes(f.base, &cl, 7));
		ck_assert_str_eq(client_text(&cl), "+PING\r\n");
		client_close(&cl);
	}
	struct proxy_stats st;
	proxy_get_stats(f.proxy, &st);
	ck_assert_uint_eq(st.toxics_fired, 0);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_toxicity_one_always_fires)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, (uint64_t)_i);
	struct toxic_spec t = spec(TOXIC_RESET_PEER, TOXIC_DOWNSTREAM);
	t.toxicity = 1;
	add_toxic(&f, &t);
	for (int i = 0; i < 3; i++) {
		struct client cl;
		client_open(&cl, f.base, f.port);
		client_sends(&cl, "x");
		ck_assert(wait_closed(f.base, &cl));
		ck_assert_int_eq(cl.err, ECONNRESET);
		client_close(&cl);
	}
	struct proxy_stats st;
	proxy_get_stats(f.proxy, &st);
	ck_assert_uint_eq(st.toxics_fired, 3);
	fixture_close(&f);
}
END_TEST

/* The same seed draws the same connections; half fire, give or take. */
static uint64_t fired_with_seed(uint64_t seed)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, seed);
	struct toxic_spec t = spec(TOXIC_LATENCY, TOXIC_DOWNSTREAM);
	t.toxicity = 0.5;
	add_toxic(&f, &t);
	for (int i = 0; i < 24; i++) {
		struct client cl;
		client_open(&cl, f.base, f.port);
		ck_assert(run_until(f.base, is_connected, &cl, WAIT_MS));
		run_for(f.base, 1);
		client_close(&cl);
	}
	run_for(f.base, 10);
	struct proxy_stats st;
	proxy_get_stats(f.proxy, &st);
	fixture_close(&f);
	return st.toxics_fired;
}

START_TEST(test_proxy_toxicity_draws_follow_the_seed)
{
	uint64_t a = fired_with_seed(7);
	uint64_t b = fired_with_seed(7);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_gt(a, 0);
	ck_assert_uint_lt(a, 24);
}
END_TEST

/* ---- the toxic list ------------------------------------------------------------ */

START_TEST(test_proxy_add_toxic_refuses_bad_and_duplicate_specs)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	char err[256];
	struct toxic_spec t = spec(TOXIC_SLICER, TOXIC_DOWNSTREAM);
	t.slicer.average_size = 0;
	ck_assert_int_eq(proxy_add_toxic(f.proxy, &t, err, sizeof err), RESULT_REJECT);
	ck_assert_str_eq(err, "average_size must be 1 to 1048576");

	struct toxic_spec l = spec(TOXIC_LATENCY, TOXIC_UPSTREAM);
	ck_assert_int_eq(proxy_add_toxic(f.proxy, &l, err, sizeof err), RESULT_OK);
	ck_assert_str_eq(proxy_toxic_at(f.proxy, 0)->name, "latency_upstream");
	ck_assert_int_eq(proxy_add_toxic(f.proxy, &l, err, sizeof err), RESULT_REJECT);
	ck_assert_str_eq(err, "toxic already exists: latency_upstream");

	struct toxic_spec r = command_spec(TOXIC_REDIS_COMMAND, "GET", TOXIC_ACTION_ERROR);
	ck_assert_int_eq(proxy_add_toxic(f.proxy, &r, err, sizeof err), RESULT_OK);
	struct toxic_spec pg = command_spec(TOXIC_PG_COMMAND, "COMMIT", TOXIC_ACTION_ERROR);
	ck_assert_int_eq(proxy_add_toxic(f.proxy, &pg, err, sizeof err), RESULT_REJECT);
	ck_assert_str_eq(err, "proxy test already parses the other protocol");

	for (int i = (int)proxy_toxic_count(f.proxy); i < PROXY_TOXICS_MAX; i++) {
		struct toxic_spec x = spec(TOXIC_LATENCY, TOXIC_DOWNSTREAM);
		snprintf(x.name, sizeof x.name, "lat%d", i);
		ck_assert_int_eq(proxy_add_toxic(f.proxy, &x, err, sizeof err), RESULT_OK);
	}
	struct toxic_spec extra = spec(TOXIC_LATENCY, TOXIC_DOWNSTREAM);
	ck_assert_int_eq(proxy_add_toxic(f.proxy, &extra, err, sizeof err), RESULT_NOMEM);
	ck_assert_uint_eq(proxy_toxic_count(f.proxy), PROXY_TOXICS_MAX);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_update_toxic_changes_attributes_in_place)
{
	struct fixture f;
	fixture_open(&f, SERVER_ECHO, 1);
	struct toxic_spec t = spec(TOXIC_TIMEOUT, TOXIC_DOWNSTREAM);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, "x");
	run_for(f.base, 30);
	ck_assert(!is_closed(&cl));
	/* A deadline now applies to the open connection. */
	struct toxic_spec u = *proxy_find_toxic(f.proxy, "timeout_downstream");
	u.timeout.timeout_ms = 20;
	char err[128];
	ck_assert_int_eq(proxy_update_toxic(f.proxy, &u, err, sizeof err), RESULT_OK);
	ck_assert(wait_closed(f.base, &cl));
	ck_assert_uint_eq(proxy_find_toxic(f.proxy, "timeout_downstream")->timeout.timeout_ms, 20);
	u.type = TOXIC_LATENCY;
	ck_assert_int_eq(proxy_update_toxic(f.proxy, &u, err, sizeof err), RESULT_REJECT);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

/* ---- Redis commands ----------------------------------------------------------- */

#define R_SET "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
#define R_EXPIRE "*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n"
#define R_GET "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
#define R_INCR "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"

START_TEST(test_proxy_redis_error_answers_without_forwarding)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "expire", TOXIC_ACTION_ERROR);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, R_SET R_EXPIRE R_GET);
	const char *want = "+SET\r\n-ERR injected\r\n+GET\r\n";
	ck_assert(wait_bytes(f.base, &cl, strlen(want)));
	run_for(f.base, 20);
	ck_assert_str_eq(client_text(&cl), want);
	ck_assert_str_eq(f.srv.log, "SET,GET,");
	struct proxy_stats st;
	proxy_get_stats(f.proxy, &st);
	ck_assert_uint_eq(st.toxics_fired, 1);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_error_uses_the_given_message)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "GET", TOXIC_ACTION_ERROR);
	snprintf(t.command.message, sizeof t.command.message, "LOADING Redis is loading");
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, "get k\r\n"); /* inline commands are matched too */
	ck_assert(wait_bytes(f.base, &cl, 27));
	ck_assert_str_eq(client_text(&cl), "-LOADING Redis is loading\r\n");
	ck_assert_str_eq(f.srv.log, "");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_drop_reply_applies_then_stalls)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "EXPIRE", TOXIC_ACTION_DROP_REPLY);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, R_SET R_EXPIRE);
	ck_assert(wait_bytes(f.base, &cl, 6));
	run_for(f.base, 50);
	ck_assert_str_eq(f.srv.log, "SET,EXPIRE,"); /* applied by the server */
	client_sends(&cl, R_GET);
	run_for(f.base, 50);
	ck_assert_str_eq(client_text(&cl), "+SET\r\n");
	ck_assert(!cl.eof && !cl.error); /* stalled, not closed */
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_drop_reply_then_close_closes_after_apply)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "EXPIRE", TOXIC_ACTION_DROP_REPLY);
	t.command.then = TOXIC_ACTION_CLOSE;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, R_SET R_EXPIRE);
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.eof);
	ck_assert_str_eq(client_text(&cl), "+SET\r\n");
	ck_assert_str_eq(f.srv.log, "SET,EXPIRE,");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_nth_fires_only_on_the_nth_match)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "INCR", TOXIC_ACTION_ERROR);
	t.command.nth = 2;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, R_INCR R_GET R_INCR R_INCR);
	const char *want = "+INCR\r\n+GET\r\n-ERR injected\r\n+INCR\r\n";
	ck_assert(wait_bytes(f.base, &cl, strlen(want)));
	run_for(f.base, 20);
	ck_assert_str_eq(client_text(&cl), want);
	ck_assert_str_eq(f.srv.log, "INCR,GET,INCR,");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_stall_hangs_without_forwarding)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "GET", TOXIC_ACTION_STALL);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, R_SET R_GET R_SET);
	ck_assert(wait_bytes(f.base, &cl, 6));
	run_for(f.base, 60);
	ck_assert_str_eq(client_text(&cl), "+SET\r\n");
	ck_assert_str_eq(f.srv.log, "SET,");
	ck_assert(!cl.eof && !cl.error);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_close_closes_after_earlier_replies)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "GET", TOXIC_ACTION_CLOSE);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, R_SET R_GET R_SET);
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.eof);
	ck_assert_str_eq(client_text(&cl), "+SET\r\n");
	ck_assert_str_eq(f.srv.log, "SET,");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_toxic_applies_to_an_open_connection)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct client cl;
	client_open(&cl, f.base, f.port);
	client_sends(&cl, R_SET);
	ck_assert(wait_bytes(f.base, &cl, 6));
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "EXPIRE", TOXIC_ACTION_ERROR);
	add_toxic(&f, &t);
	client_sends(&cl, R_EXPIRE R_GET);
	const char *want = "+SET\r\n-ERR injected\r\n+GET\r\n";
	ck_assert(wait_bytes(f.base, &cl, strlen(want)));
	ck_assert_str_eq(client_text(&cl), want);
	/* Removed: commands reach the server again. */
	ck_assert(proxy_remove_toxic(f.proxy, "redis_command_upstream"));
	client_sends(&cl, R_EXPIRE);
	ck_assert(wait_bytes(f.base, &cl, strlen(want) + 9));
	ck_assert_str_eq(f.srv.log, "SET,GET,EXPIRE,");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_redis_large_values_pass_with_a_protocol_toxic)
{
	struct fixture f;
	fixture_open(&f, SERVER_REDIS, 1);
	struct toxic_spec t = command_spec(TOXIC_REDIS_COMMAND, "EXPIRE", TOXIC_ACTION_ERROR);
	add_toxic(&f, &t);
	size_t vlen = 3u << 20; /* larger than PROXY_BUFFER_MAX */
	struct evbuffer *cmd = evbuffer_new();
	evbuffer_add_printf(cmd, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", vlen);
	char *v = malloc(vlen);
	memset(v, 'v', vlen);
	evbuffer_add(cmd, v, vlen);
	evbuffer_add(cmd, "\r\n" R_EXPIRE, 2 + strlen(R_EXPIRE));
	struct client cl;
	client_open(&cl, f.base, f.port);
	bufferevent_write_buffer(cl.bev, cmd);
	const char *want = "+SET\r\n-ERR injected\r\n";
	ck_assert(wait_bytes(f.base, &cl, strlen(want)));
	ck_assert_str_eq(client_text(&cl), want);
	evbuffer_free(cmd);
	free(v);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

/* ---- PostgreSQL ------------------------------------------------------------ */

struct pgw {
	uint8_t b[2048];
	size_t n;
};

static void pgw_be32(struct pgw *w, uint32_t v)
{
	w->b[w->n++] = (uint8_t)(v >> 24);
	w->b[w->n++] = (uint8_t)(v >> 16);
	w->b[w->n++] = (uint8_t)(v >> 8);
	w->b[w->n++] = (uint8_t)v;
}

static void pgw_str(struct pgw *w, const char *s)
{
	size_t k = strlen(s) + 1;
	memcpy(w->b + w->n, s, k);
	w->n += k;
}

static void pgw_startup(struct pgw *w)
{
	size_t at = w->n;
	pgw_be32(w, 0);
	pgw_be32(w, 196608);
	pgw_str(w, "user");
	pgw_str(w, "faultline");
	w->b[w->n++] = 0;
	uint32_t len = (uint32_t)(w->n - at);
	w->n = at;
	pgw_be32(w, len);
	w->n = at + len;
}

static size_t pgw_begin(struct pgw *w, char type)
{
	w->b[w->n++] = (uint8_t)type;
	size_t at = w->n;
	pgw_be32(w, 0);
	return at;
}

static void pgw_end(struct pgw *w, size_t at)
{
	size_t end = w->n;
	w->n = at;
	pgw_be32(w, (uint32_t)(end - at));
	w->n = end;
}

static void pgw_query(struct pgw *w, const char *sql)
{
	size_t at = pgw_begin(w, 'Q');
	pgw_str(w, sql);
	pgw_end(w, at);
}

/* The type bytes of the backend messages in buf, e.g. "RZCZ". */
static void pg_types(const uint8_t *buf, size_t len, char *out, size_t outsize, char *last_z)
{
	size_t k = 0;
	size_t off = 0;
	while (off + 5 <= len && k + 1 < outsize) {
		uint32_t mlen = (uint32_t)buf[off + 1] << 24 | (uint32_t)buf[off + 2] << 16 |
		                (uint32_t)buf[off + 3] << 8 | buf[off + 4];
		out[k++] = (char)buf[off];
		if (buf[off] == 'Z')
			*last_z = (char)buf[off + 5];
		off += 1 + mlen;
	}
	out[k] = '\0';
}

START_TEST(test_proxy_pg_ssl_request_is_answered_no_by_the_proxy)
{
	struct fixture f;
	fixture_open(&f, SERVER_PG, 1);
	struct toxic_spec t = command_spec(TOXIC_PG_COMMAND, "VACUUM", TOXIC_ACTION_ERROR);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	struct pgw w = {.n = 0};
	pgw_be32(&w, 8);
	pgw_be32(&w, 80877103);
	client_send(&cl, w.b, w.n);
	ck_assert(wait_bytes(f.base, &cl, 1));
	ck_assert_str_eq(client_text(&cl), "N");
	evbuffer_drain(cl.got, evbuffer_get_length(cl.got));
	w.n = 0;
	pgw_startup(&w);
	client_send(&cl, w.b, w.n);
	ck_assert(wait_bytes(f.base, &cl, 9 + 6));
	ck_assert_str_eq(f.srv.log, "STARTUP,");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_pg_command_error_on_commit_is_not_forwarded)
{
	struct fixture f;
	fixture_open(&f, SERVER_PG, 1);
	struct toxic_spec t = command_spec(TOXIC_PG_COMMAND, "COMMIT", TOXIC_ACTION_ERROR);
	snprintf(t.command.sqlstate, sizeof t.command.sqlstate, "40001");
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	struct pgw w = {.n = 0};
	pgw_startup(&w);
	pgw_query(&w, "BEGIN");
	pgw_query(&w, "commit");
	client_send(&cl, w.b, w.n);
	/* R Z | C Z | E Z */
	size_t err_len = pg_wire_write_error((uint8_t[256]){0}, 256, "40001",
	                                     t.command.message);
	size_t want = 9 + 6 + (5 + 6) + 6 + err_len + 6;
	ck_assert(wait_bytes(f.base, &cl, want));
	run_for(f.base, 20);
	ck_assert_uint_eq(client_len(&cl), want);
	char types[32];
	char z = 0;
	pg_types(evbuffer_pullup(cl.got, -1), client_len(&cl), types, sizeof types, &z);
	ck_assert_str_eq(types, "RZCZEZ");
	ck_assert_int_eq(z, 'E'); /* the failed COMMIT left the block aborted */
	ck_assert_ptr_nonnull(memmem(evbuffer_pullup(cl.got, -1), client_len(&cl), "C40001", 6));
	ck_assert_str_eq(f.srv.log, "STARTUP,BEGIN,");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_pg_drop_reply_of_a_prepared_statement_then_close)
{
	struct fixture f;
	fixture_open(&f, SERVER_PG, 1);
	struct toxic_spec t = command_spec(TOXIC_PG_COMMAND, "customer_insert",
	                                   TOXIC_ACTION_DROP_REPLY);
	t.command.then = TOXIC_ACTION_CLOSE;
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	struct pgw w = {.n = 0};
	pgw_startup(&w);
	size_t at = pgw_begin(&w, 'P');
	pgw_str(&w, "customer_insert");
	pgw_str(&w, "INSERT INTO stripe_customers VALUES ($1, $2)");
	w.b[w.n++] = 0;
	w.b[w.n++] = 0;
	pgw_end(&w, at);
	at = pgw_begin(&w, 'S');
	pgw_end(&w, at);
	at = pgw_begin(&w, 'B');
	pgw_str(&w, "");
	pgw_str(&w, "customer_insert");
	for (int i = 0; i < 6; i++)
		w.b[w.n++] = 0;
	pgw_end(&w, at);
	at = pgw_begin(&w, 'E');
	pgw_str(&w, "");
	pgw_be32(&w, 0);
	pgw_end(&w, at);
	at = pgw_begin(&w, 'S');
	pgw_end(&w, at);
	client_send(&cl, w.b, w.n);
	ck_assert(wait_closed(f.base, &cl));
	ck_assert(cl.eof);
	char types[32];
	char z = 0;
	pg_types(evbuffer_pullup(cl.got, -1), client_len(&cl), types, sizeof types, &z);
	ck_assert_str_eq(types, "RZCZ"); /* startup, then the Parse batch only */
	ck_assert_str_eq(f.srv.log, "STARTUP,INSERT,customer_insert,");
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

START_TEST(test_proxy_pg_stall_on_commit_leaves_it_unsent)
{
	struct fixture f;
	fixture_open(&f, SERVER_PG, 1);
	struct toxic_spec t = command_spec(TOXIC_PG_COMMAND, "COMMIT", TOXIC_ACTION_STALL);
	add_toxic(&f, &t);
	struct client cl;
	client_open(&cl, f.base, f.port);
	struct pgw w = {.n = 0};
	pgw_startup(&w);
	pgw_query(&w, "BEGIN");
	pgw_query(&w, "COMMIT");
	client_send(&cl, w.b, w.n);
	ck_assert(wait_bytes(f.base, &cl, 15 + 17));
	run_for(f.base, 60);
	ck_assert_uint_eq(client_len(&cl), 15 + 17);
	ck_assert_str_eq(f.srv.log, "STARTUP,BEGIN,");
	ck_assert(!cl.eof && !cl.error);
	client_close(&cl);
	fixture_close(&f);
}
END_TEST

/* ---- the HTTP control API -------------------------------------------------- */

struct http_result {
	bool done;
	int code;
	char body[16384];
};

static void http_on_done(struct evhttp_request *req, void *arg)
{
	struct http_result *r = arg;
	r->done = true;
	if (req == NULL) {
		r->code = -1;
		return;
	}
	r->code = evhttp_request_get_response_code(req);
	ev_ssize_t n = evbuffer_copyout(evhttp_request_get_input_buffer(req), r->body,
	                                sizeof r->body - 1);
	r->body[n > 0 ? n : 0] = '\0';
}

static bool http_done(void *arg)
{
	return ((struct http_result *)arg)->done;
}

static int http_ua(struct event_base *base, uint16_t port, enum evhttp_cmd_type m,
                   const char *path, const char *body, const char *ua, struct http_result *r)
{
	memset(r, 0, sizeof *r);
	struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
	ck_assert_ptr_nonnull(conn);
	struct evhttp_request *req = evhttp_request_new(http_on_done, r);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "127.0.0.1");
	if (ua != NULL)
		evhttp_add_header(h, "User-Agent", ua);
	if (body != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	ck_assert_int_eq(evhttp_make_request(conn, req, m, path), 0);
	ck_assert(run_until(base, http_done, r, WAIT_MS));
	evhttp_connection_free(conn);
	return r->code;
}

static int http(struct event_base *base, uint16_t port, enum evhttp_cmd_type m,
                const char *path, const char *body, struct http_result *r)
{
	return http_ua(base, port, m, path, body, "faultline-test", r);
}

static json_t *body_of(const struct http_result *r)
{
	json_error_t e;
	json_t *j = json_loads(r->body, 0, &e);
	ck_assert_msg(j != NULL, "not JSON: %s", r->body);
	return j;
}

struct api_fixture {
	struct event_base *base;
	struct server srv;
	struct control_api *api;
	uint16_t port; /* the API's */
	char upstream[64];
};

static void api_open(struct api_fixture *f)
{
	signal(SIGPIPE, SIG_IGN);
	f->base = sched_base_new(SCHED_REAL);
	server_start(&f->srv, f->base, SERVER_ECHO);
	snprintf(f->upstream, sizeof f->upstream, "127.0.0.1:%u", (unsigned)f->srv.port);
	struct control_api_config cfg = {.listen = "127.0.0.1:0", .seed = 1};
	char err[256] = "";
	f->api = control_api_create(f->base, &cfg, err, sizeof err);
	ck_assert_msg(f->api != NULL, "control_api_create: %s", err);
	f->port = control_api_port(f->api);
	ck_assert_uint_ne(f->port, 0);
}

static void api_close(struct api_fixture *f)
{
	control_api_destroy(f->api);
	server_stop(&f->srv);
	event_base_free(f->base);
}

START_TEST(test_control_api_version_answers_json)
{
	struct api_fixture f;
	api_open(&f);
	struct http_result r;
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET, "/version", NULL, &r), 200);
	json_t *j = body_of(&r);
	ck_assert(json_is_string(json_object_get(j, "version")));
	json_decref(j);
	api_close(&f);
}
END_TEST

START_TEST(test_control_api_proxy_and_toxic_lifecycle)
{
	struct api_fixture f;
	api_open(&f);
	struct http_result r;
	char body[256];
	snprintf(body, sizeof body,
	         "{\"name\":\"echo\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\"}", f.upstream);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies", body, &r), 201);
	json_t *j = body_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "echo");
	ck_assert_str_eq(json_string_value(json_object_get(j, "upstream")), f.upstream);
	ck_assert(json_is_true(json_object_get(j, "enabled")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "toxics")), 0);
	const char *listen = json_string_value(json_object_get(j, "listen"));
	struct proxy *p = control_api_find(f.api, "echo");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(listen, proxy_listen(p));
	json_decref(j);

	struct fixture pf = {.base = f.base, .proxy = p, .port = proxy_listen_port(p)};
	expect_echo(&pf, "through the api");

	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/echo/toxics",
	                      "{\"type\":\"latency\",\"attributes\":{\"latency\":50,\"jitter\":5}}",
	                      &r), 200);
	j = body_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "latency_downstream");
	ck_assert_str_eq(json_string_value(json_object_get(j, "stream")), "downstream");
	ck_assert(json_number_value(json_object_get(j, "toxicity")) == 1.0);
	json_decref(j);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET, "/proxies/echo/toxics", NULL, &r),
	                 200);
	j = body_of(&r);
	ck_assert_uint_eq(json_array_size(j), 1);
	json_decref(j);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET, "/proxies", NULL, &r), 200);
	j = body_of(&r);
	ck_assert_ptr_nonnull(json_object_get(j, "echo"));
	json_decref(j);

	/* Update keeps what the body does not name. */
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST,
	                      "/proxies/echo/toxics/latency_downstream",
	                      "{\"attributes\":{\"latency\":70}}", &r), 200);
	ck_assert_uint_eq(proxy_find_toxic(p, "latency_downstream")->latency.latency_ms, 70);
	ck_assert_uint_eq(proxy_find_toxic(p, "latency_downstream")->latency.jitter_ms, 5);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_DELETE,
	                      "/proxies/echo/toxics/latency_downstream", NULL, &r), 204);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET,
	                      "/proxies/echo/toxics/latency_downstream", NULL, &r), 404);

	/* Down: connections refused; reset brings it back. */
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/echo",
	                      "{\"enabled\":false}", &r), 200);
	ck_assert(!proxy_is_enabled(p));
	struct client cl;
	client_open(&cl, f.base, pf.port);
	ck_assert(wait_closed(f.base, &cl));
	ck_assert_int_eq(cl.err, ECONNREFUSED);
	client_close(&cl);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/reset", NULL, &r), 204);
	ck_assert(proxy_is_enabled(p));
	expect_echo(&pf, "up again");

	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_DELETE, "/proxies/echo", NULL, &r), 204);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET, "/proxies/echo", NULL, &r), 404);
	j = body_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "proxy not found");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 404);
	json_decref(j);
	api_close(&f);
}
END_TEST

START_TEST(test_control_api_moving_upstream_restarts_the_proxy)
{
	struct api_fixture f;
	api_open(&f);
	struct http_result r;
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies",
	                      "{\"name\":\"m\",\"upstream\":\"127.0.0.1:1\","
	                      "\"toxics\":[{\"type\":\"slow_close\"}]}", &r), 201);
	char body[128];
	snprintf(body, sizeof body, "{\"upstream\":\"%s\"}", f.upstream);
	ck_assert_msg(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/m", body, &r) == 200, "%s", r.body);
	struct proxy *p = control_api_find(f.api, "m");
	ck_assert_str_eq(proxy_upstream(p), f.upstream);
	ck_assert_uint_eq(proxy_toxic_count(p), 1); /* toxics carried over */
	struct fixture pf = {.base = f.base, .proxy = p, .port = proxy_listen_port(p)};
	expect_echo(&pf, "moved");
	api_close(&f);
}
END_TEST

START_TEST(test_control_api_refuses_bad_requests)
{
	struct api_fixture f;
	api_open(&f);
	struct http_result r;
	char body[256];
	snprintf(body, sizeof body, "{\"name\":\"x\",\"upstream\":\"%s\"}", f.upstream);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies", "not json", &r), 400);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies", "{\"name\":\"x\"}", &r),
	                 400);
	ck_assert_ptr_nonnull(strstr(r.body, "missing required field: upstream"));
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies",
	                      "{\"name\":\"a/b\",\"upstream\":\"127.0.0.1:1\"}", &r), 400);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies", body, &r), 201);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies", body, &r), 409);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/x/toxics",
	                      "{\"type\":\"nope\"}", &r), 400);
	ck_assert_ptr_nonnull(strstr(r.body, "invalid toxic type"));
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/x/toxics",
	                      "{\"type\":\"latency\",\"stream\":\"sideways\"}", &r), 400);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/x/toxics",
	                      "{\"type\":\"latency\",\"toxicity\":1.5}", &r), 400);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/x/toxics",
	                      "{\"type\":\"latency\",\"attributes\":{\"latency\":-1}}", &r), 400);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/x/toxics",
	                      "{\"type\":\"redis_command\",\"attributes\":"
	                      "{\"command\":\"GET\",\"message\":\"two\\r\\nlines\"}}", &r), 400);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/x/toxics",
	                      "{\"type\":\"latency\"}", &r), 200);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies/x/toxics",
	                      "{\"type\":\"latency\"}", &r), 409);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET, "/nope", NULL, &r), 404);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET, "/proxies/x/nope", NULL, &r), 404);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_DELETE, "/version", NULL, &r), 405);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_PUT, "/proxies", NULL, &r), 405);
	ck_assert_int_eq(http_ua(f.base, f.port, EVHTTP_REQ_GET, "/proxies", NULL,
	                         "Mozilla/5.0 (X11)", &r), 403);
	char *big = malloc(CONTROL_BODY_MAX + 100);
	memset(big, ' ', CONTROL_BODY_MAX + 99);
	big[CONTROL_BODY_MAX + 99] = '\0';
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/proxies", big, &r), 413);
	free(big);
	api_close(&f);
}
END_TEST

START_TEST(test_control_api_connection_limit_counts_open_connections_only)
{
	struct api_fixture f;
	api_open(&f);
	struct http_result r;
	/* Twice the limit, one after another: each closes before the next. */
	for (int i = 0; i < 2 * CONTROL_CONNS_MAX; i++)
		ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_GET, "/version", NULL, &r), 200);
	/* Held open (keep-alive), the limit is reached: the next one gets 503. */
	struct evhttp_connection *held[CONTROL_CONNS_MAX + 1];
	for (int i = 0; i <= CONTROL_CONNS_MAX; i++) {
		held[i] = evhttp_connection_base_new(f.base, NULL, "127.0.0.1", f.port);
		memset(&r, 0, sizeof r);
		struct evhttp_request *req = evhttp_request_new(http_on_done, &r);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
		ck_assert_int_eq(evhttp_make_request(held[i], req, EVHTTP_REQ_GET, "/version"), 0);
		ck_assert(run_until(f.base, http_done, &r, WAIT_MS));
		ck_assert_int_eq(r.code, i < CONTROL_CONNS_MAX ? 200 : 503);
	}
	for (int i = 0; i <= CONTROL_CONNS_MAX; i++)
		evhttp_connection_free(held[i]);
	api_close(&f);
}
END_TEST

START_TEST(test_control_api_populate_creates_then_keeps_unchanged_proxies)
{
	struct api_fixture f;
	api_open(&f);
	char body[512];
	snprintf(body, sizeof body,
	         "[{\"name\":\"r\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\","
	         "\"toxics\":[{\"type\":\"redis_command\",\"attributes\":"
	         "{\"command\":\"EXPIRE\",\"action\":\"drop_reply\",\"then\":\"close\"}}]},"
	         "{\"name\":\"s\",\"upstream\":\"%s\",\"enabled\":false}]",
	         f.upstream, f.upstream);
	struct http_result r;
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/populate", body, &r), 201);
	json_t *j = body_of(&r);
	json_t *list = json_object_get(j, "proxies");
	ck_assert_uint_eq(json_array_size(list), 2);
	json_t *tox = json_array_get(json_object_get(json_array_get(list, 0), "toxics"), 0);
	json_t *attrs = json_object_get(tox, "attributes");
	ck_assert_str_eq(json_string_value(json_object_get(attrs, "action")), "drop_reply");
	ck_assert_str_eq(json_string_value(json_object_get(attrs, "then")), "close");
	ck_assert(json_is_false(json_object_get(json_array_get(list, 1), "enabled")));
	json_decref(j);
	struct proxy *before = control_api_find(f.api, "r");
	uint16_t port = proxy_listen_port(before);
	ck_assert_int_eq(http(f.base, f.port, EVHTTP_REQ_POST, "/populate", body, &r), 201);
	ck_assert_uint_eq(control_api_proxy_count(f.api), 2);
	ck_assert_uint_eq(proxy_listen_port(control_api_find(f.api, "r")), port);

	char err[256];
	ck_assert_int_eq(control_api_populate(f.api, "[{", 2, err, sizeof err), RESULT_REJECT);
	ck_assert_ptr_nonnull(strstr(err, "line 1"));
	const char *bad = "[{\"name\":\"t\",\"upstream\":\"127.0.0.1:1\"},{\"name\":\"u\"}]";
	ck_assert_int_eq(control_api_populate(f.api, bad, strlen(bad), err, sizeof err),
	                 RESULT_REJECT);
	ck_assert_str_eq(err, "proxy 2: missing required field: upstream");
	ck_assert_ptr_nonnull(control_api_find(f.api, "t"));
	api_close(&f);
}
END_TEST

Suite *check_proxy_suite(void);
Suite *check_proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("wire");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_proxy_passes_bytes_unchanged_both_ways);
	tcase_add_test(tc, test_proxy_reports_listen_address_with_kernel_port);
	tcase_add_test(tc, test_proxy_latency_delays_by_at_least_the_latency);
	tcase_add_loop_test(tc, test_proxy_jitter_never_reorders_bytes, 0, 3);
	tcase_add_test(tc, test_proxy_bandwidth_limits_the_rate);
	tcase_add_loop_test(tc, test_proxy_slicer_delivers_every_byte_in_order, 0, 3);
	tcase_add_test(tc, test_proxy_reset_peer_gives_client_econnreset);
	tcase_add_test(tc, test_proxy_reset_peer_waits_its_timeout);
	tcase_add_test(tc, test_proxy_limit_data_cuts_at_n_bytes);
	tcase_add_test(tc, test_proxy_limit_data_zero_closes_at_the_first_byte);
	tcase_add_test(tc, test_proxy_limit_data_upstream_counts_across_writes);
	tcase_add_test(tc, test_proxy_timeout_drops_data_then_closes);
	tcase_add_test(tc, test_proxy_timeout_zero_stalls_until_removed);
	tcase_add_test(tc, test_proxy_slow_close_delays_the_close);
	tcase_add_test(tc, test_proxy_client_half_close_still_gets_the_replies);
	tcase_add_test(tc, test_proxy_disabled_refuses_then_enabled_serves_again);
	tcase_add_test(tc, test_proxy_reset_removes_toxics_and_enables);
	tcase_add_test(tc, test_proxy_server_down_closes_the_client);
	tcase_add_test(tc, test_proxy_closes_connections_past_conns_max);
	tcase_add_test(tc, test_proxy_idle_timeout_closes_idle_connections);
	suite_add_tcase(s, tc);
	tc = tcase_create("toxicity");
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, test_proxy_toxicity_zero_never_fires, 0, 4);
	tcase_add_loop_test(tc, test_proxy_toxicity_one_always_fires, 0, 2);
	tcase_add_test(tc, test_proxy_toxicity_draws_follow_the_seed);
	tcase_add_test(tc, test_proxy_add_toxic_refuses_bad_and_duplicate_specs);
	tcase_add_test(tc, test_proxy_update_toxic_changes_attributes_in_place);
	suite_add_tcase(s, tc);
	tc = tcase_create("redis");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_proxy_redis_error_answers_without_forwarding);
	tcase_add_test(tc, test_proxy_redis_error_uses_the_given_message);
	tcase_add_test(tc, test_proxy_redis_drop_reply_applies_then_stalls);
	tcase_add_test(tc, test_proxy_redis_drop_reply_then_close_closes_after_apply);
	tcase_add_test(tc, test_proxy_redis_nth_fires_only_on_the_nth_match);
	tcase_add_test(tc, test_proxy_redis_stall_hangs_without_forwarding);
	tcase_add_test(tc, test_proxy_redis_close_closes_after_earlier_replies);
	tcase_add_test(tc, test_proxy_redis_toxic_applies_to_an_open_connection);
	tcase_add_test(tc, test_proxy_redis_large_values_pass_with_a_protocol_toxic);
	suite_add_tcase(s, tc);
	tc = tcase_create("postgres");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_proxy_pg_ssl_request_is_answered_no_by_the_proxy);
	tcase_add_test(tc, test_proxy_pg_command_error_on_commit_is_not_forwarded);
	tcase_add_test(tc, test_proxy_pg_drop_reply_of_a_prepared_statement_then_close);
	tcase_add_test(tc, test_proxy_pg_stall_on_commit_leaves_it_unsent);
	suite_add_tcase(s, tc);
	tc = tcase_create("control");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_control_api_version_answers_json);
	tcase_add_test(tc, test_control_api_proxy_and_toxic_lifecycle);
	tcase_add_test(tc, test_control_api_moving_upstream_restarts_the_proxy);
	tcase_add_test(tc, test_control_api_refuses_bad_requests);
	tcase_add_test(tc, test_control_api_populate_creates_then_keeps_unchanged_proxies);
	tcase_add_test(tc, test_control_api_connection_limit_counts_open_connections_only);
	suite_add_tcase(s, tc);
	return s;
}
