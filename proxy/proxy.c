/* sim/live/proxy.c - the fault proxy: per client connection two
 * bufferevents joined by two links, each moving bytes through a protocol
 * stage (only once a protocol toxic exists) and a stream stage (drop, reset,
 * byte limit, release queue). Not the HTTP API (control_api.c). */
#include "sim/live/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "core/assert.h"
#include "sim/live/pg_wire.h"
#include "sim/live/resp_wire.h"
#include "sim/prng.h"

/* Up links carry client -> server, down links server -> client. With no
 * toxic a link is one zero-copy move (or a direct write) per read.
 * Connections are never freed inside their own callbacks: they are marked
 * dead, unlinked, and freed from a separate event (proxy_on_reap). */

#define LINK_CHUNKS_MAX 1024            /* release-queue entries per link */
#define PROXY_CONNECT_TIMEOUT_MS 5000   /* to reach the server */
#define PROXY_FLUSH_TIMEOUT_MS 2000     /* a closing connection's last bytes */
#define PROXY_ACCEPT_PAUSE_MS 100       /* after accept failed (out of fds) */
#define PROXY_IDLE_SWEEP_MS_MAX 1000    /* how often idle connections are
                                         * looked for, at most */
#define PROXY_BW_SLICE_MS 100           /* bandwidth releases slices this long */
#define PROXY_FAKE_MAX 512              /* bytes of one injected reply */
#define PROXY_BACKLOG 128
#define PROXY_READ_MAX 16384            /* bytes taken from a socket per read */
#define PROXY_HOST_MAX 256

enum proto { PROTO_NONE, PROTO_RESP, PROTO_PG };

/* What the proxy does with the bytes of one frame. */
enum act { ACT_FORWARD, ACT_DISCARD };

/* A command awaiting its reply, in the order the server will answer. */
enum slot_kind {
	SLOT_PASS,  /* forwarded: its reply goes to the client */
	SLOT_DROP,  /* forwarded: its reply is swallowed, then "then" */
	SLOT_FAKE,  /* not forwarded: the proxy's own answer, from fakes */
	SLOT_STALL, /* not forwarded: from here on nothing reaches the client */
	SLOT_CLOSE, /* not forwarded: close once the replies before it went */
};

struct slot {
	uint8_t kind;
	uint8_t then;        /* SLOT_DROP: TOXIC_ACTION_STALL or CLOSE */
	bool pg_ready;       /* SLOT_FAKE: append ReadyForQuery */
	uint16_t fake_len;   /* SLOT_FAKE: bytes at the front of fakes */
};

struct proto_state {
	enum proto proto;
	union {
		struct resp_parser resp;
		struct pg_wire_parser pg;
	} req, rep;
	size_t up_held;      /* bytes of the current client frame at the front
	                      * of the client input, not yet acted on */
	size_t down_held;
	bool up_named;
	bool down_named;
	enum act up_act;
	enum act down_act;
	bool down_reply;     /* the server frame is a reply (not push data) */
	bool raw_after;      /* the client frame makes replies untrackable */
	bool up_stalled;     /* client bytes are discarded from now on */
	bool down_stalled;   /* server bytes are discarded from now on */
	bool up_raw;         /* parsing given up: bytes pass as they are */
	bool down_raw;
	char txn_status;     /* pg: the last ReadyForQuery status */
	uint32_t slot_head;
	uint32_t slot_count;
	struct slot slots[PROXY_INFLIGHT_MAX];
	struct evbuffer *fakes;
};

struct chunk {
	uint64_t due_us;
	uint32_t len;
};

/* The combined effect of the toxics active on one link. */
struct effects {
	uint64_t latency_us;
	uint64_t jitter_us;
	uint32_t rate_kb_s;      /* 0: unlimited */
	bool slicer;
	uint32_t slice_avg, slice_var, slice_delay_us;
	bool drop;               /* timeout toxic: data falls on the ground */
	uint64_t timeout_at_us;  /* timeout toxic: close then; 0 never */
	bool reset;
	uint64_t reset_ms;
	uint64_t slow_close_ms;
	bool limit;
	bool delays;             /* latency, bandwidth or slicer */
};

struct conn;

struct link {
	struct conn *c;
	bool up;
	uint32_t active;                        /* bit per toxic slot drawn */
	uint64_t limit_base[PROXY_TOXICS_MAX];  /* accepted when each limit_data
	                                         * toxic became active */
	uint64_t since_us[PROXY_TOXICS_MAX];    /* when each became active */
	uint64_t accepted;       /* bytes taken from the source, after drops */
	struct effects fx;
	struct evbuffer *staged;  /* protocol stage output; NULL until parsing */
	struct evbuffer *delayed; /* bytes waiting in the release queue */
	struct chunk *chunks;     /* LINK_CHUNKS_MAX, allocated on first use */
	uint32_t chunk_head;
	uint32_t chunk_count;
	uint64_t last_due_us;
	uint64_t bw_free_us;
	uint64_t reset_at_us;     /* 0: no reset armed */
	bool limit_hit;
	bool reading;             /* the source is being read */
	struct event *read_ev;    /* the source socket readable; see link_on_readable */
	struct event *release_ev;
	struct event *deadline_ev;
};

struct conn {
	struct proxy *p;
	struct conn *prev, *next;
	struct bufferevent *client;
	struct bufferevent *server;
	struct link up, down;
	struct proto_state *ps;
	uint64_t last_active_us;
	uint64_t close_not_before_us;
	uint64_t close_deadline_us;
	struct event *close_ev;
	bool server_connected;
	bool client_eof;
	bool server_eof;
	bool server_shut;      /* the client's FIN was passed on */
	bool closing;
	bool dead;
};

struct toxic {
	struct toxic_spec spec;
	uint64_t matched;  /* protocol toxics: matching commands seen */
};

struct proxy {
	struct event_base *base;
	char name[PROXY_NAME_MAX];
	char listen_text[PROXY_ADDR_MAX];
	char upstream_text[PROXY_ADDR_MAX];
	struct sockaddr_storage listen_sa;
	socklen_t listen_salen;
	struct sockaddr_storage up_sa;
	socklen_t up_salen;
	uint16_t listen_port;
	struct evconnlistener *listener;
	struct event *accept_pause_ev;
	struct event *reap_ev;
	struct event *idle_ev;
	bool enabled;
	uint32_t conns_max;
	uint32_t idle_timeout_ms;
	struct toxic *toxics[PROXY_TOXICS_MAX];
	uint8_t order[PROXY_TOXICS_MAX]; /* slots in the order added */
	uint32_t ntoxics;
	enum proto proto;
	struct conn *conns;
	size_t nconns;
	struct conn *dead;
	struct prng rng;
	struct proxy_stats stats;
	char last_error[PROXY_ADDR_MAX + 256];
};

enum close_how { CLOSE_FLUSH, CLOSE_NOW, CLOSE_RESET };

static void conn_close(struct conn *c, enum close_how how);
static void link_pump(struct link *l);
static void link_flow(struct link *l);
static void conn_pump_up(struct conn *c);
static void conn_pump_down(struct conn *c);

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void timer_at(struct event *ev, uint64_t due_us)
{
	uint64_t now = now_us();
	uint64_t d = due_us > now ? due_us - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(d / 1000000u),
	                     .tv_usec = (suseconds_t)(d % 1000000u)};
	evtimer_add(ev, &tv);
}

static void set_err(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsize, const char *fmt, ...)
{
	if (err == NULL || errsize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

static void set_nodelay(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	int one = 1;
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Makes close() send RST instead of FIN. */
static void set_abortive(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

enum result proxy_addr_split(const char *addr, char *host, size_t hostsize, uint16_t *port,
                             char *err, size_t errsize)
{
	ASSERT(host != NULL);
	ASSERT(hostsize > 0);
	ASSERT(port != NULL);
	if (addr == NULL || addr[0] == '\0') {
		set_err(err, errsize, "empty address");
		return RESULT_REJECT;
	}
	const char *h = addr;
	size_t hlen;
	const char *ps;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close[1] != ':') {
			set_err(err, errsize, "bad address '%s': want [HOST]:PORT", addr);
			return RESULT_REJECT;
		}
		h = addr + 1;
		hlen = (size_t)(close - h);
		ps = close + 2;
	} else {
		const char *colon = strrchr(addr, ':');
		if (colon == NULL) {
			h = "";
			hlen = 0;
			ps = addr;
		} else {
			hlen = (size_t)(colon - addr);
			ps = colon + 1;
		}
	}
	if (ps[0] == '\0' || strlen(ps) > 5 || strspn(ps, "0123456789") != strlen(ps)) {
		set_err(err, errsize, "bad port in address '%s'", addr);
		return RESULT_REJECT;
	}
	unsigned long pv = strtoul(ps, NULL, 10);
	if (pv > 65535) {
		set_err(err, errsize, "bad port in address '%s'", addr);
		return RESULT_REJECT;
	}
	if (hlen == 0) {
		/* Safe default: loopback only. */
		h = "127.0.0.1";
		hlen = strlen(h);
	}
	if (hlen >= hostsize) {
		set_err(err, errsize, "host name too long in '%s'", addr);
		return RESULT_REJECT;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)pv;
	return RESULT_OK;
}

/* Resolves addr; prefers IPv4 (servers in tests bind 127.0.0.1 only). */
static enum result resolve(const char *addr, bool passive, struct sockaddr_storage *sa,
                           socklen_t *salen, char *err, size_t errsize)
{
	char host[PROXY_HOST_MAX];
	uint16_t port;
	enum result rc = proxy_addr_split(addr, host, sizeof host, &port, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	char service[8];
	snprintf(service, sizeof service, "%u", (unsigned)port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, service, &hints, &res);
	if (gai != 0 || res == NULL) {
		set_err(err, errsize, "cannot resolve '%s': %s", addr, gai_strerror(gai));
		return RESULT_REJECT;
	}
	const struct addrinfo *pick = res;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
	}
	ASSERT(pick->ai_addrlen <= sizeof *sa);
	memcpy(sa, pick->ai_addr, pick->ai_addrlen);
	*salen = (socklen_t)pick->ai_addrlen;
	freeaddrinfo(res);
	return RESULT_OK;
}

static void addr_format(const struct sockaddr_storage *sa, char *out, size_t size,
                        uint16_t *port)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		*port = ntohs(s6->sin6_port);
		snprintf(out, size, "[%s]:%u", host, (unsigned)*port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		*port = ntohs(s4->sin_port);
		snprintf(out, size, "%s:%u", host, (unsigned)*port);
	}
}

/* ---- links: the stream stage --------------------------------------------- */

static struct bufferevent *link_src(const struct link *l)
{
	return l->up ? l->c->client : l->c->server;
}

static struct bufferevent *link_dst(const struct link *l)
{
	return l->up ? l->c->server : l->c->client;
}

/* The destination socket can be written to directly. */
static bool link_dst_is_ready(const struct link *l)
{
	return !l->up || l->c->server_connected;
}

static struct evbuffer *link_in(const struct link *l)
{
	return l->staged != NULL ? l->staged : bufferevent_get_input(link_src(l));
}

static void link_account(struct link *l, size_t n)
{
	if (l->up)
		l->c->p->stats.bytes_up += n;
	else
		l->c->p->stats.bytes_down += n;
}

static uint64_t limit_left(const struct link *l)
{
	uint64_t left = UINT64_MAX;
	const struct proxy *p = l->c->p;
	for (uint32_t i = 0; i < PROXY_TOXICS_MAX; i++) {
		if (!(l->active & (1u << i)) || p->toxics[i] == NULL ||
		    p->toxics[i]->spec.type != TOXIC_LIMIT_DATA)
			continue;
		uint64_t used = l->accepted - l->limit_base[i];
		uint64_t cap = p->toxics[i]->spec.limit_data.bytes;
		uint64_t rest = used >= cap ? 0 : cap - used;
		if (rest < left)
			left = rest;
	}
	return left;
}

static void link_arm_deadline(struct link *l)
{
	uint64_t due = 0;
	if (l->reset_at_us != 0)
		due = l->reset_at_us;
	if (l->fx.timeout_at_us != 0 && (due == 0 || l->fx.timeout_at_us < due))
		due = l->fx.timeout_at_us;
	if (due == 0)
		evtimer_del(l->deadline_ev);
	else
		timer_at(l->deadline_ev, due);
}

/* Recomputes the link's effects from the toxics active on it. */
static void link_refresh(struct link *l)
{
	const struct proxy *p = l->c->p;
	struct effects fx;
	memset(&fx, 0, sizeof fx);
	for (uint32_t k = 0; k < p->ntoxics; k++) {
		uint32_t i = p->order[k];
		if (!(l->active & (1u << i)))
			continue;
		const struct toxic_spec *t = &p->toxics[i]->spec;
		switch (t->type) {
		case TOXIC_LATENCY:
			fx.latency_us += (uint64_t)t->latency.latency_ms * 1000u;
			fx.jitter_us += (uint64_t)t->latency.jitter_ms * 1000u;
			break;
		case TOXIC_BANDWIDTH:
			if (t->bandwidth.rate_kb_s > 0 &&
			    (fx.rate_kb_s == 0 || t->bandwidth.rate_kb_s < fx.rate_kb_s))
				fx.rate_kb_s = t->bandwidth.rate_kb_s;
			break;
		case TOXIC_SLOW_CLOSE:
			if (t->slow_close.delay_ms > fx.slow_close_ms)
				fx.slow_close_ms = t->slow_close.delay_ms;
			break;
		case TOXIC_TIMEOUT:
			fx.drop = true;
			if (t->timeout.timeout_ms > 0) {
				uint64_t at = l->since_us[i] + (uint64_t)t->timeout.timeout_ms * 1000u;
				if (fx.timeout_at_us == 0 || at < fx.timeout_at_us)
					fx.timeout_at_us = at;
			}
			break;
		case TOXIC_RESET_PEER:
			if (!fx.reset || t->reset_peer.timeout_ms < fx.reset_ms)
				fx.reset_ms = t->reset_peer.timeout_ms;
			fx.reset = true;
			break;
		case TOXIC_SLICER:
			if (!fx.slicer) {
				fx.slicer = true;
				fx.slice_avg = t->slicer.average_size;
				fx.slice_var = t->slicer.size_variation;
				fx.slice_delay_us = t->slicer.delay_us;
			}
			break;
		case TOXIC_LIMIT_DATA:
			fx.limit = true;
			break;
		default:
			break;
		}
	}
	fx.delays = fx.latency_us > 0 || fx.jitter_us > 0 || fx.rate_kb_s > 0 || fx.slicer;
	l->fx = fx;
	if (!fx.reset)
		l->reset_at_us = 0;
	link_arm_deadline(l);
}

static void link_activate(struct link *l, uint32_t slot)
{
	l->active |= 1u << slot;
	l->limit_base[slot] = l->accepted;
	l->since_us[slot] = now_us();
	l->c->p->stats.toxics_fired++;
}

/* Queues n bytes for release; returns how many fit in the queue. */
static size_t link_schedule(struct link *l, size_t n)
{
	struct proxy *p = l->c->p;
	const struct effects *fx = &l->fx;
	if (l->chunks == NULL) {
		l->chunks = calloc(LINK_CHUNKS_MAX, sizeof *l->chunks);
		if (l->chunks == NULL)
			return 0;
	}
	uint64_t now = now_us();
	uint64_t t = now + fx->latency_us;
	if (fx->jitter_us > 0) {
		uint64_t j = prng_below(&p->rng, 2 * fx->jitter_us + 1);
		t = t + j >= fx->jitter_us ? t + j - fx->jitter_us : now;
		if (t < now)
			t = now;
	}
	/* Data never overtakes data sent before it. */
	if (t < l->last_due_us)
		t = l->last_due_us;
	size_t done = 0;
	uint64_t bw_slice = (uint64_t)fx->rate_kb_s * PROXY_BW_SLICE_MS; /* bytes */
	while (done < n && l->chunk_count < LINK_CHUNKS_MAX) {
		uint64_t size = n - done;
		if (fx->slicer) {
			uint64_t s = fx->slice_avg;
			if (fx->slice_var > 0) {
				uint64_t d = prng_below(&p->rng, 2 * (uint64_t)fx->slice_var + 1);
				s = s + d - fx->slice_var;
			}
			if (s == 0)
				s = 1;
			if (s < size)
				size = s;
		}
		if (fx->rate_kb_s > 0) {
			if (bw_slice > 0 && size > bw_slice)
				size = bw_slice;
			if (t < l->bw_free_us)
				t = l->bw_free_us;
			/* bytes / (rate * 1000 bytes/s), in microseconds */
			t += size * 1000u / fx->rate_kb_s;
			l->bw_free_us = t;
		}
		uint32_t at = (l->chunk_head + l->chunk_count) % LINK_CHUNKS_MAX;
		l->chunks[at].len = (uint32_t)size;
		l->chunks[at].due_us = t;
		l->chunk_count++;
		l->last_due_us = t;
		done += (size_t)size;
		if (fx->slicer)
			t += fx->slice_delay_us;
	}
	return done;
}

static void link_arm_release(struct link *l)
{
	if (l->chunk_count == 0) {
		evtimer_del(l->release_ev);
		return;
	}
	timer_at(l->release_ev, l->chunks[l->chunk_head].due_us);
}

/* The proxy reads sockets itself instead of letting the bufferevents do
 * it: a bufferevent asks the kernel how much is readable (an ioctl) before
 * every read, a third of the proxy's system calls. Reading follows
 * l->reading; the server is read only once connected. */
static void link_read_arm(struct link *l)
{
	if (l->read_ev == NULL)
		return;
	bool on = l->reading && !l->c->dead && (l->up || l->c->server_connected);
	if (on)
		event_add(l->read_ev, NULL);
	else
		event_del(l->read_ev);
}

static bool link_wants_read(const struct link *l)
{
	const struct conn *c = l->c;
	if (c->closing || c->dead || l->limit_hit)
		return false;
	if (l->up ? c->client_eof : c->server_eof)
		return false;
	if (evbuffer_get_length(bufferevent_get_output(link_dst(l))) >= PROXY_BUFFER_MAX)
		return false;
	if (l->delayed != NULL && evbuffer_get_length(l->delayed) >= PROXY_BUFFER_MAX)
		return false;
	if (l->chunk_count >= LINK_CHUNKS_MAX)
		return false;
	if (l->staged != NULL && evbuffer_get_length(l->staged) >= PROXY_BUFFER_MAX)
		return false;
	/* The client waits while too many of its commands await replies. */
	if (l->up && c->ps != NULL && c->ps->slot_count >= PROXY_INFLIGHT_MAX)
		return false;
	return true;
}

/* Starts or stops reading the link's source to match its backlog. */
static void link_flow(struct link *l)
{
	if (l->c->dead)
		return;
	bool want = link_wants_read(l);
	if (want == l->reading)
		return;
	l->reading = want;
	link_read_arm(l);
	if (want) {
		/* Bytes may have waited in the input while reading was off. */
		if (l->up)
			conn_pump_up(l->c);
		else
			conn_pump_down(l->c);
	}
}

static bool conn_is_flushed(const struct conn *c)
{
	/* A side that closed cannot take more bytes: do not wait for it. */
	if (!c->server_eof) {
		if (c->up.chunk_count > 0 || evbuffer_get_length(link_in(&c->up)) > 0)
			return false;
		if (c->server_connected &&
		    evbuffer_get_length(bufferevent_get_output(c->server)) > 0)
			return false;
	}
	if (!c->client_eof) {
		if (c->down.chunk_count > 0 || evbuffer_get_length(link_in(&c->down)) > 0)
			return false;
		if (evbuffer_get_length(bufferevent_get_output(c->client)) > 0)
			return false;
	}
	return true;
}

static void conn_check_closed(struct conn *c)
{
	if (c->dead || !c->closing)
		return;
	uint64_t now = now_us();
	if (now >= c->close_deadline_us) {
		conn_close(c, CLOSE_NOW);
		return;
	}
	if (conn_is_flushed(c)) {
		if (now >= c->close_not_before_us) {
			conn_close(c, CLOSE_NOW);
			return;
		}
		timer_at(c->close_ev, c->close_not_before_us);
		return;
	}
	timer_at(c->close_ev, c->close_deadline_us);
}

/* The client sent FIN: once every byte it sent reached the server, pass the
 * FIN on and keep carrying the server's answers back until it closes. */
static void conn_pass_client_fin(struct conn *c)
{
	if (c->dead || c->closing || !c->client_eof || c->server_shut || !c->server_connected)
		return;
	if (c->up.chunk_count > 0 || evbuffer_get_length(link_in(&c->up)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->server)) > 0)
		return;
	c->server_shut = true;
	(void)shutdown(bufferevent_getfd(c->server), SHUT_WR);
}

/* Moves what the link may move now from its input to its destination. */
static void link_pump(struct link *l)
{
	struct conn *c = l->c;
	if (c->dead)
		return;
	struct evbuffer *in = link_in(l);
	size_t n = evbuffer_get_length(in);
	if (n == 0)
		return;
	if (l->limit_hit || l->fx.drop) {
		/* Past the limit, or a timeout toxic: data falls on the ground. */
		evbuffer_drain(in, n);
		return;
	}
	if (l->fx.reset) {
		evbuffer_drain(in, n);
		if (l->fx.reset_ms == 0) {
			conn_close(c, CLOSE_RESET);
			return;
		}
		if (l->reset_at_us == 0) {
			l->reset_at_us = now_us() + l->fx.reset_ms * 1000u;
			link_arm_deadline(l);
		}
		return;
	}
	uint64_t left = l->fx.limit ? limit_left(l) : UINT64_MAX;
	if ((uint64_t)n > left)
		n = (size_t)left;
	struct evbuffer *out = bufferevent_get_output(link_dst(l));
	size_t moved;
	if (!l->fx.delays && l->chunk_count == 0) {
		moved = 0;
		/* Nothing queued ahead: write now. This saves registering write
		 * interest and a loop pass per chunk, most of a proxy's cost. */
		if (n > 0 && evbuffer_get_length(out) == 0 && link_dst_is_ready(l)) {
			int w = evbuffer_write_atmost(in, bufferevent_getfd(link_dst(l)),
			                              (ev_ssize_t)n);
			if (w > 0) {
				moved = (size_t)w;
				link_account(l, moved);
			}
		}
		/* The rest moves whole; link_flow stops reading the source once
		 * the destination holds PROXY_BUFFER_MAX. */
		size_t rest = n - moved;
		if (rest > 0 && rest == evbuffer_get_length(in)) {
			evbuffer_add_buffer(out, in);
		} else if (rest > 0) {
			int r = evbuffer_remove_buffer(in, out, rest);
			ASSERT(r >= 0 && (size_t)r == rest);
		}
		if (rest > 0)
			link_account(l, rest);
		moved = n;
	} else {
		if (l->delayed == NULL) {
			l->delayed = evbuffer_new();
			if (l->delayed == NULL) {
				conn_close(c, CLOSE_NOW);
				return;
			}
		}
		size_t have = evbuffer_get_length(l->delayed);
		size_t room = have >= PROXY_BUFFER_MAX ? 0 : PROXY_BUFFER_MAX - have;
		if (n > room)
			n = room;
		moved = link_schedule(l, n);
		if (moved > 0) {
			int r = evbuffer_remove_buffer(in, l->delayed, moved);
			ASSERT(r >= 0 && (size_t)r == moved);
		}
		link_arm_release(l);
	}
	l->accepted += moved;
	if (l->fx.limit && limit_left(l) == 0) {
		/* limit_data: the allowed bytes go out, then the connection
		 * closes; what else arrives is dropped. */
		l->limit_hit = true;
		evbuffer_drain(in, evbuffer_get_length(in));
		conn_close(c, CLOSE_FLUSH);
		return;
	}
	link_flow(l);
}

static void link_on_release(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct link *l = arg;
	struct conn *c = l->c;
	if (c->dead)
		return;
	uint64_t now = now_us();
	struct evbuffer *out = bufferevent_get_output(link_dst(l));
	while (l->chunk_count > 0 && l->chunks[l->chunk_head].due_us <= now) {
		uint32_t len = l->chunks[l->chunk_head].len;
		int r = evbuffer_remove_buffer(l->delayed, out, len);
		ASSERT(r >= 0 && (uint32_t)r == len);
		link_account(l, len);
		l->chunk_head = (l->chunk_head + 1) % LINK_CHUNKS_MAX;
		l->chunk_count--;
	}
	link_arm_release(l);
	/* Room in the queue: bytes that waited may move, reading may resume. */
	link_pump(l);
	link_flow(l);
	if (l->up)
		conn_pass_client_fin(c);
	if (c->closing)
		conn_check_closed(c);
}

static void link_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct link *l = arg;
	struct conn *c = l->c;
	if (c->dead)
		return;
	uint64_t now = now_us();
	if (l->reset_at_us != 0 && now >= l->reset_at_us) {
		conn_close(c, CLOSE_RESET);
		return;
	}
	if (l->fx.timeout_at_us != 0 && now >= l->fx.timeout_at_us) {
		conn_close(c, CLOSE_NOW);
		return;
	}
	link_arm_deadline(l);
}

/* ---- connections: life and death ------------------------------------------ */

static void conn_unlink(struct conn *c)
{
	struct proxy *p = c->p;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ASSERT(p->nconns > 0);
	p->nconns--;
}

static void link_free(struct link *l)
{
	if (l->read_ev != NULL)
		event_free(l->read_ev);
	if (l->release_ev != NULL)
		event_free(l->release_ev);
	if (l->deadline_ev != NULL)
		event_free(l->deadline_ev);
	if (l->staged != NULL)
		evbuffer_free(l->staged);
	if (l->delayed != NULL)
		evbuffer_free(l->delayed);
	free(l->chunks);
}

static void conn_free(struct conn *c)
{
	if (c->client != NULL)
		bufferevent_free(c->client);
	if (c->server != NULL)
		bufferevent_free(c->server);
	link_free(&c->up);
	link_free(&c->down);
	if (c->close_ev != NULL)
		event_free(c->close_ev);
	if (c->ps != NULL) {
		if (c->ps->fakes != NULL)
			evbuffer_free(c->ps->fakes);
		free(c->ps);
	}
	free(c);
}

/* Closes the sockets now; the memory goes at the next reap. */
static void conn_kill(struct conn *c)
{
	ASSERT(!c->dead);
	struct proxy *p = c->p;
	c->dead = true;
	/* Off the loop before the sockets close under them. */
	if (c->up.read_ev != NULL)
		event_del(c->up.read_ev);
	if (c->down.read_ev != NULL)
		event_del(c->down.read_ev);
	bufferevent_free(c->client);
	c->client = NULL;
	bufferevent_free(c->server);
	c->server = NULL;
	evtimer_del(c->up.release_ev);
	evtimer_del(c->up.deadline_ev);
	evtimer_del(c->down.release_ev);
	evtimer_del(c->down.deadline_ev);
	evtimer_del(c->close_ev);
	conn_unlink(c);
	c->next = p->dead;
	p->dead = c;
	event_active(p->reap_ev, EV_TIMEOUT, 0);
}

static void proxy_on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct proxy *p = arg;
	while (p->dead != NULL) {
		struct conn *c = p->dead;
		p->dead = c->next;
		conn_free(c);
	}
}

static void conn_close(struct conn *c, enum close_how how)
{
	if (c->dead)
		return;
	switch (how) {
	case CLOSE_RESET:
		set_abortive(c->client);
		if (c->server_connected)
			set_abortive(c->server);
		conn_kill(c);
		return;
	case CLOSE_NOW:
		conn_kill(c);
		return;
	case CLOSE_FLUSH:
		if (c->closing)
			return;
		c->closing = true;
		c->up.reading = c->down.reading = false;
		link_read_arm(&c->up);
		link_read_arm(&c->down);
		uint64_t slow = c->up.fx.slow_close_ms > c->down.fx.slow_close_ms
		                    ? c->up.fx.slow_close_ms : c->down.fx.slow_close_ms;
		uint64_t now = now_us();
		c->close_not_before_us = now + slow * 1000u;
		c->close_deadline_us = c->close_not_before_us + PROXY_FLUSH_TIMEOUT_MS * 1000u;
		/* Bytes read but not yet moved still go out. */
		link_pump(&c->up);
		link_pump(&c->down);
		conn_check_closed(c);
		return;
	}
}

static void conn_on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_check_closed(arg);
}

/* ---- the protocol stage -------------------------------------------------- */

struct frame_info {
	bool named;          /* NAMED event */
	bool done;           /* DONE event */
	bool bad;
	size_t used;
	/* requests */
	bool matchable;      /* a command a toxic may act on */
	bool expects_reply;
	bool ssl_request;
	bool untrackable;    /* replies stop being one per command after it */
	const char *name;
	const char *alt;
	/* replies */
	bool reply;          /* counts as the answer to one command */
	bool reply_end;      /* DONE: the answer to one command is complete */
	char txn_status;
};

static bool resp_untrackable(const char *name)
{
	static const char *const names[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
	                                    "MONITOR", "SYNC", "PSYNC"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(name, names[i]) == 0)
			return true;
	}
	return false;
}

static void parse_req(struct proto_state *ps, const uint8_t *b, size_t n, struct frame_info *fi)
{
	memset(fi, 0, sizeof *fi);
	if (ps->proto == PROTO_RESP) {
		enum resp_status st = resp_parse(&ps->req.resp, b, n, &fi->used);
		const struct resp_frame *f = resp_parser_frame(&ps->req.resp);
		fi->bad = st == RESP_BAD;
		fi->named = st == RESP_NAMED;
		fi->done = st == RESP_DONE;
		if (fi->named) {
			fi->matchable = f->kind == RESP_KIND_COMMAND;
			fi->expects_reply = f->kind == RESP_KIND_COMMAND;
			fi->untrackable = fi->matchable && resp_untrackable(f->name);
			fi->name = f->name;
		}
		return;
	}
	enum pg_wire_status st = pg_wire_parse(&ps->req.pg, b, n, &fi->used);
	const struct pg_wire_frame *f = pg_wire_frame(&ps->req.pg);
	fi->bad = st == PG_WIRE_BAD;
	fi->named = st == PG_WIRE_NAMED;
	fi->done = st == PG_WIRE_DONE;
	if (fi->named) {
		fi->matchable = f->kind == PG_KIND_QUERY || f->kind == PG_KIND_EXTENDED;
		fi->expects_reply = f->expects_reply;
		fi->ssl_request = f->kind == PG_KIND_SSL_REQUEST;
		fi->name = f->keyword;
		fi->alt = f->statement;
	}
}

static void parse_rep(struct proto_state *ps, const uint8_t *b, size_t n, struct frame_info *fi)
{
	memset(fi, 0, sizeof *fi);
	if (ps->proto == PROTO_RESP) {
		enum resp_status st = resp_parse(&ps->rep.resp, b, n, &fi->used);
		const struct resp_frame *f = resp_parser_frame(&ps->rep.resp);
		fi->bad = st == RESP_BAD;
		fi->named = st == RESP_NAMED;
		fi->done = st == RESP_DONE;
		fi->reply = f->kind == RESP_KIND_REPLY;
		fi->reply_end = fi->done && fi->reply;
		return;
	}
	enum pg_wire_status st = pg_wire_parse(&ps->rep.pg, b, n, &fi->used);
	const struct pg_wire_frame *f = pg_wire_frame(&ps->rep.pg);
	fi->bad = st == PG_WIRE_BAD;
	fi->named = st == PG_WIRE_NAMED;
	fi->done = st == PG_WIRE_DONE;
	fi->reply = true;
	fi->reply_end = fi->done && f->type == 'Z';
	fi->txn_status = f->txn_status;
}

static struct slot *slot_head(struct proto_state *ps)
{
	return ps->slot_count > 0 ? &ps->slots[ps->slot_head] : NULL;
}

static void slot_pop(struct proto_state *ps)
{
	ASSERT(ps->slot_count > 0);
	ps->slot_head = (ps->slot_head + 1) % PROXY_INFLIGHT_MAX;
	ps->slot_count--;
}

static void slot_push(struct proto_state *ps, struct slot s)
{
	ASSERT(ps->slot_count < PROXY_INFLIGHT_MAX);
	ps->slots[(ps->slot_head + ps->slot_count) % PROXY_INFLIGHT_MAX] = s;
	ps->slot_count++;
}

static void slots_clear(struct proto_state *ps)
{
	ps->slot_count = 0;
	evbuffer_drain(ps->fakes, evbuffer_get_length(ps->fakes));
}

/* The connection hangs from here on: nothing more goes either way. */
static void proto_stall(struct conn *c)
{
	struct proto_state *ps = c->ps;
	ps->up_stalled = true;
	ps->down_stalled = true;
	slots_clear(ps);
}

/* Acts on the commands at the head of the queue that need no server reply:
 * injected answers, stalls and closes. May close the connection. */
static void proto_settle(struct conn *c)
{
	struct proto_state *ps = c->ps;
	struct slot *s;
	while (!c->dead && (s = slot_head(ps)) != NULL) {
		switch (s->kind) {
		case SLOT_PASS:
		case SLOT_DROP:
			return;
		case SLOT_FAKE: {
			int r = evbuffer_remove_buffer(ps->fakes, c->down.staged, s->fake_len);
			ASSERT(r == (int)s->fake_len);
			if (s->pg_ready) {
				/* An error inside a transaction block aborts it. */
				uint8_t z[6];
				char st = ps->txn_status == 'I' ? 'I' : 'E';
				size_t zn = pg_wire_write_ready(z, sizeof z, st);
				ASSERT(zn == sizeof z);
				evbuffer_add(c->down.staged, z, zn);
			}
			slot_pop(ps);
			break;
		}
		case SLOT_STALL:
			proto_stall(c);
			return;
		case SLOT_CLOSE:
			slot_pop(ps);
			conn_close(c, CLOSE_FLUSH);
			return;
		default:
			ASSERT(!"unknown slot kind");
		}
	}
}

/* Gives up parsing: from now on bytes pass as they are. */
static void proto_go_raw(struct conn *c)
{
	struct proto_state *ps = c->ps;
	ps->up_raw = ps->down_raw = true;
	ps->up_held = ps->down_held = 0;
	slots_clear(ps);
}

/* Picks what to do with a named client frame; queues its reply slot. */
static enum act proto_decide(struct conn *c, const struct frame_info *fi)
{
	struct proxy *p = c->p;
	struct proto_state *ps = c->ps;
	if (fi->ssl_request) {
		/* Answer "no TLS" ourselves, so the session stays readable. */
		evbuffer_add(ps->fakes, "N", 1);
		slot_push(ps, (struct slot){.kind = SLOT_FAKE, .fake_len = 1});
		return ACT_DISCARD;
	}
	const struct toxic *chosen = NULL;
	if (fi->matchable) {
		enum toxic_type want = ps->proto == PROTO_RESP ? TOXIC_REDIS_COMMAND
		                                               : TOXIC_PG_COMMAND;
		for (uint32_t k = 0; k < p->ntoxics; k++) {
			struct toxic *t = p->toxics[p->order[k]];
			if (t->spec.type != want || !toxic_command_matches(&t->spec, fi->name, fi->alt))
				continue;
			t->matched++;
			if (chosen != NULL)
				continue;
			if (t->spec.command.nth != 0 && t->matched != t->spec.command.nth)
				continue;
			if (prng_chance(&p->rng, t->spec.toxicity))
				chosen = t;
		}
	}
	if (chosen == NULL) {
		if (fi->untrackable)
			ps->raw_after = true;
		if (fi->expects_reply)
			slot_push(ps, (struct slot){.kind = SLOT_PASS});
		return ACT_FORWARD;
	}
	p->stats.toxics_fired++;
	const struct toxic_spec *t = &chosen->spec;
	switch (t->command.action) {
	case TOXIC_ACTION_ERROR: {
		uint8_t fake[PROXY_FAKE_MAX];
		size_t n;
		if (ps->proto == PROTO_RESP) {
			n = (size_t)snprintf((char *)fake, sizeof fake, "-%s\r\n", t->command.message);
			ASSERT(n < sizeof fake);
		} else {
			n = pg_wire_write_error(fake, sizeof fake, t->command.sqlstate,
			                        t->command.message);
			ASSERT(n > 0);
		}
		evbuffer_add(ps->fakes, fake, n);
		slot_push(ps, (struct slot){.kind = SLOT_FAKE, .fake_len = (uint16_t)n,
		                            .pg_ready = ps->proto == PROTO_PG});
		return ACT_DISCARD;
	}
	case TOXIC_ACTION_DROP_REPLY:
		slot_push(ps, (struct slot){.kind = SLOT_DROP, .then = (uint8_t)t->command.then});
		return ACT_FORWARD;
	case TOXIC_ACTION_STALL:
		ps->up_stalled = true;
		slot_push(ps, (struct slot){.kind = SLOT_STALL});
		return ACT_DISCARD;
	case TOXIC_ACTION_CLOSE:
		ps->up_stalled = true;
		slot_push(ps, (struct slot){.kind = SLOT_CLOSE});
		return ACT_DISCARD;
	default:
		ASSERT(!"unknown toxic action");
		return ACT_DISCARD;
	}
}

static void held_apply(struct evbuffer *in, struct evbuffer *out, size_t *held, enum act a)
{
	if (*held == 0)
		return;
	if (a == ACT_FORWARD) {
		int r = evbuffer_remove_buffer(in, out, *held);
		ASSERT(r >= 0 && (size_t)r == *held);
	} else {
		evbuffer_drain(in, *held);
	}
	*held = 0;
}

/* Peeks the contiguous bytes of in that follow its first skip bytes. */
static bool peek_after(struct evbuffer *in, size_t skip, struct evbuffer_iovec *v)
{
	if (evbuffer_get_length(in) <= skip)
		return false;
	struct evbuffer_ptr pos;
	if (evbuffer_ptr_set(in, &pos, skip, EVBUFFER_PTR_SET) != 0)
		return false;
	return evbuffer_peek(in, -1, &pos, v, 1) >= 1 && v->iov_len > 0;
}

/* Client bytes -> up.staged, frame by frame. */
static void proto_up(struct conn *c)
{
	struct proto_state *ps = c->ps;
	if (ps == NULL || c->dead)
		return;
	struct evbuffer *in = bufferevent_get_input(c->client);
	struct evbuffer *out = c->up.staged;
	/* Each step reads a byte or reports an event (at most two per byte). */
	size_t steps_max = 3 * evbuffer_get_length(in) + 8;
	for (size_t steps = 0;; steps++) {
		ASSERT(steps <= steps_max);
		if (ps->up_raw) {
			evbuffer_add_buffer(out, in);
			return;
		}
		if (ps->up_stalled) {
			evbuffer_drain(in, evbuffer_get_length(in));
			ps->up_held = 0;
			return;
		}
		if (!ps->up_named && ps->slot_count >= PROXY_INFLIGHT_MAX)
			return; /* link_flow stops reading until replies come */
		struct evbuffer_iovec v;
		if (!peek_after(in, ps->up_held, &v))
			return;
		struct frame_info fi;
		parse_req(ps, v.iov_base, v.iov_len, &fi);
		ps->up_held += fi.used;
		if (fi.bad) {
			proto_go_raw(c);
			continue;
		}
		if (fi.named) {
			ps->up_named = true;
			ps->up_act = proto_decide(c, &fi);
			held_apply(in, out, &ps->up_held, ps->up_act);
			proto_settle(c);
			if (c->dead)
				return;
			continue;
		}
		if (ps->up_named)
			held_apply(in, out, &ps->up_held, ps->up_act);
		if (fi.done) {
			ps->up_named = false;
			if (ps->raw_after) {
				ps->up_raw = true;
				if (ps->slot_count == 0)
					ps->down_raw = true;
			}
		}
	}
}

/* Server bytes -> down.staged, reply by reply. */
static void proto_down(struct conn *c)
{
	struct proto_state *ps = c->ps;
	if (ps == NULL || c->dead)
		return;
	struct evbuffer *in = bufferevent_get_input(c->server);
	struct evbuffer *out = c->down.staged;
	size_t steps_max = 3 * evbuffer_get_length(in) + 8;
	for (size_t steps = 0;; steps++) {
		ASSERT(steps <= steps_max);
		if (ps->down_raw) {
			evbuffer_add_buffer(out, in);
			return;
		}
		if (ps->down_stalled) {
			evbuffer_drain(in, evbuffer_get_length(in));
			ps->down_held = 0;
			return;
		}
		struct evbuffer_iovec v;
		if (!peek_after(in, ps->down_held, &v))
			return;
		struct frame_info fi;
		parse_rep(ps, v.iov_base, v.iov_len, &fi);
		ps->down_held += fi.used;
		if (fi.bad) {
			proto_go_raw(c);
			continue;
		}
		if (fi.named) {
			/* Push data answers nothing; unmatched replies (a parse begun
			 * mid-connection) pass untouched. */
			struct slot *s = slot_head(ps);
			ps->down_named = true;
			ps->down_act = (fi.reply && s != NULL && s->kind == SLOT_DROP) ? ACT_DISCARD
			                                                               : ACT_FORWARD;
		}
		if (ps->down_named)
			held_apply(in, out, &ps->down_held, ps->down_act);
		if (!fi.done)
			continue;
		ps->down_named = false;
		if (ps->proto == PROTO_PG && fi.reply_end)
			ps->txn_status = fi.txn_status;
		struct slot *s = slot_head(ps);
		if (!fi.reply_end || s == NULL)
			continue;
		ASSERT(s->kind == SLOT_PASS || s->kind == SLOT_DROP);
		bool dropped = s->kind == SLOT_DROP;
		uint8_t then = s->then;
		slot_pop(ps);
		if (dropped) {
			/* The ambiguous timeout: the server applied the command and
			 * the client never hears of it. */
			if (then == TOXIC_ACTION_CLOSE) {
				conn_close(c, CLOSE_FLUSH);
				return;
			}
			proto_stall(c);
			continue;
		}
		proto_settle(c);
		if (c->dead || c->closing)
			return;
		if (ps->up_raw && ps->slot_count == 0)
			ps->down_raw = true;
	}
}

static enum result conn_start_parsing(struct conn *c, bool from_start)
{
	struct proxy *p = c->p;
	ASSERT(c->ps == NULL);
	ASSERT(p->proto != PROTO_NONE);
	struct proto_state *ps = calloc(1, sizeof *ps);
	if (ps == NULL)
		return RESULT_NOMEM;
	ps->fakes = evbuffer_new();
	c->up.staged = evbuffer_new();
	c->down.staged = evbuffer_new();
	if (ps->fakes == NULL || c->up.staged == NULL || c->down.staged == NULL) {
		if (ps->fakes != NULL)
			evbuffer_free(ps->fakes);
		free(ps);
		return RESULT_NOMEM;
	}
	ps->proto = p->proto;
	ps->txn_status = 'I';
	if (p->proto == PROTO_RESP) {
		resp_parser_init(&ps->req.resp, RESP_SIDE_REQUESTS);
		resp_parser_init(&ps->rep.resp, RESP_SIDE_REPLIES);
	} else {
		pg_wire_init(&ps->req.pg, PG_WIRE_FRONTEND, !from_start);
		pg_wire_init(&ps->rep.pg, PG_WIRE_BACKEND, true);
	}
	c->ps = ps;
	return RESULT_OK;
}

/* Both directions through both stages, then reading matched to backlog. */
static void conn_pump_up(struct conn *c)
{
	proto_up(c);
	link_pump(&c->up);
	if (c->ps != NULL)
		link_pump(&c->down); /* injected answers */
	link_flow(&c->up);
	if (c->closing)
		conn_check_closed(c);
}

static void conn_pump_down(struct conn *c)
{
	proto_down(c);
	link_pump(&c->down);
	link_flow(&c->down);
	if (c->ps != NULL)
		link_flow(&c->up); /* replies came: the client may send more */
	if (c->closing)
		conn_check_closed(c);
}

/* ---- bufferevent callbacks ------------------------------------------------ */

/* The destination drained below its low watermark. */
static void conn_on_client_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (c->closing) {
		conn_check_closed(c);
		return;
	}
	if (!c->down.reading)
		link_flow(&c->down);
}

static void conn_on_server_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (c->closing) {
		conn_check_closed(c);
		return;
	}
	if (!c->up.reading)
		link_flow(&c->up);
	conn_pass_client_fin(c);
}

static void conn_on_client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (what & BEV_EVENT_EOF) {
		/* Perhaps only a half close: replies may still be on their way. */
		c->client_eof = true;
		c->up.reading = false;
		link_read_arm(&c->up);
		conn_pass_client_fin(c);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_close(c, CLOSE_NOW);
}

static void conn_on_server_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		c->server_connected = true;
		bufferevent_set_timeouts(bev, NULL, NULL);
		set_nodelay(bev);
		link_read_arm(&c->down);
		conn_pass_client_fin(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->server_eof = true;
		c->down.reading = false;
		link_read_arm(&c->down);
		conn_close(c, CLOSE_FLUSH);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		/* A reset by the server reaches the client as a reset. */
		int e = EVUTIL_SOCKET_ERROR();
		conn_close(c, c->server_connected && e == ECONNRESET ? CLOSE_RESET : CLOSE_NOW);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		conn_close(c, CLOSE_NOW);
}

/* The source socket of l is readable: one read into its input, then the
 * same pumping a bufferevent read callback did. End of stream and errors
 * go to the bufferevent event callbacks, as libevent would report them. */
static void link_on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct link *l = arg;
	struct conn *c = l->c;
	if (c->dead || !l->reading)
		return;
	/* A bufferevent keeps the end of its input frozen for everyone but
	 * itself; the proxy now fills it, so it thaws it for the read. */
	struct evbuffer *in = bufferevent_get_input(link_src(l));
	struct evbuffer_iovec v;
	evbuffer_unfreeze(in, 0);
	if (evbuffer_reserve_space(in, PROXY_READ_MAX, &v, 1) < 1) {
		evbuffer_freeze(in, 0);
		conn_close(c, CLOSE_NOW);
		return;
	}
	ssize_t n = recv(fd, v.iov_base, v.iov_len, 0);
	int saved = errno;
	int rc = 0;
	if (n > 0) {
		v.iov_len = (size_t)n;
		rc = evbuffer_commit_space(in, &v, 1);
	}
	evbuffer_freeze(in, 0);
	errno = saved;
	if (n > 0) {
		if (rc != 0) {
			conn_close(c, CLOSE_NOW);
			return;
		}
		if (c->p->idle_timeout_ms > 0) /* the clock costs a syscall here */
			c->last_active_us = now_us();
		if (l->up)
			conn_pump_up(c);
		else
			conn_pump_down(c);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	short ev = BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
	if (l->up)
		conn_on_client_event(c->client, ev, c);
	else
		conn_on_server_event(c->server, ev, c);
}

/* ---- accepting -------------------------------------------------------------- */

static void link_init(struct link *l, struct conn *c, bool up, struct event_base *base)
{
	l->c = c;
	l->up = up;
	l->reading = true;
	l->release_ev = evtimer_new(base, link_on_release, l);
	l->deadline_ev = evtimer_new(base, link_on_deadline, l);
}

static void proxy_draw_links(struct proxy *p, struct conn *c, uint32_t slot)
{
	const struct toxic_spec *t = &p->toxics[slot]->spec;
	if (toxic_type_is_protocol(t->type))
		return;
	struct link *l = t->stream == TOXIC_UPSTREAM ? &c->up : &c->down;
	if (prng_chance(&p->rng, t->toxicity))
		link_activate(l, slot);
}

static void proxy_on_accept(struct evconnlistener *lis, evutil_socket_t fd,
                            struct sockaddr *sa, int salen, void *arg)
{
	(void)lis;
	(void)sa;
	(void)salen;
	struct proxy *p = arg;
	if (p->nconns >= p->conns_max) {
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->p = p;
	c->client = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->server = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->close_ev = evtimer_new(p->base, conn_on_close_timer, c);
	link_init(&c->up, c, true, p->base);
	link_init(&c->down, c, false, p->base);
	if (c->client == NULL || c->server == NULL || c->close_ev == NULL ||
	    c->up.release_ev == NULL || c->up.deadline_ev == NULL ||
	    c->down.release_ev == NULL || c->down.deadline_ev == NULL) {
		if (c->client == NULL)
			evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	set_nodelay(c->client);
	bufferevent_setcb(c->client, NULL, conn_on_client_write,
	                  conn_on_client_event, c);
	bufferevent_setcb(c->server, NULL, conn_on_server_write,
	                  conn_on_server_event, c);
	bufferevent_setwatermark(c->client, EV_WRITE, PROXY_BUFFER_MAX / 2, 0);
	bufferevent_setwatermark(c->server, EV_WRITE, PROXY_BUFFER_MAX / 2, 0);
	struct timeval connect_tv = {.tv_sec = PROXY_CONNECT_TIMEOUT_MS / 1000,
	                             .tv_usec = (PROXY_CONNECT_TIMEOUT_MS % 1000) * 1000};
	bufferevent_set_timeouts(c->server, NULL, &connect_tv);
	if (bufferevent_socket_connect(c->server, (struct sockaddr *)&p->up_sa,
	                               (int)p->up_salen) != 0) {
		conn_free(c);
		return;
	}
	set_nodelay(c->server);
	c->up.read_ev = event_new(p->base, fd, EV_READ | EV_PERSIST, link_on_readable, &c->up);
	c->down.read_ev = event_new(p->base, bufferevent_getfd(c->server), EV_READ | EV_PERSIST,
	                            link_on_readable, &c->down);
	if (c->up.read_ev == NULL || c->down.read_ev == NULL) {
		conn_free(c);
		return;
	}
	link_read_arm(&c->up);
	c->last_active_us = now_us();

	c->next = p->conns;
	if (p->conns != NULL)
		p->conns->prev = c;
	p->conns = c;
	p->nconns++;
	p->stats.conns++;

	for (uint32_t k = 0; k < p->ntoxics; k++)
		proxy_draw_links(p, c, p->order[k]);
	link_refresh(&c->up);
	link_refresh(&c->down);
	if (p->proto != PROTO_NONE && conn_start_parsing(c, true) != RESULT_OK)
		conn_close(c, CLOSE_NOW);
}

static void proxy_on_accept_error(struct evconnlistener *lis, void *arg)
{
	struct proxy *p = arg;
	/* Out of descriptors, most likely: pause rather than spin. */
	evconnlistener_disable(lis);
	struct timeval tv = {.tv_sec = 0, .tv_usec = PROXY_ACCEPT_PAUSE_MS * 1000};
	evtimer_add(p->accept_pause_ev, &tv);
}

static void proxy_on_accept_pause(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct proxy *p = arg;
	if (p->listener != NULL)
		evconnlistener_enable(p->listener);
}

static void proxy_on_idle_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct proxy *p = arg;
	uint64_t now = now_us();
	uint64_t idle_us = (uint64_t)p->idle_timeout_ms * 1000u;
	struct conn *c = p->conns;
	while (c != NULL) {
		struct conn *next = c->next;
		if (now - c->last_active_us >= idle_us)
			conn_close(c, CLOSE_NOW);
		c = next;
	}
}

static enum result proxy_listen_now(struct proxy *p)
{
	p->listener = evconnlistener_new_bind(p->base, proxy_on_accept, p,
	                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
	                                      PROXY_BACKLOG, (struct sockaddr *)&p->listen_sa,
	                                      (int)p->listen_salen);
	if (p->listener == NULL) {
		snprintf(p->last_error, sizeof p->last_error, "cannot listen on %s: %s",
		         p->listen_text, strerror(errno));
		return RESULT_ERROR;
	}
	evconnlistener_set_error_cb(p->listener, proxy_on_accept_error);
	/* Keep the port the kernel chose, so enabling again binds it again. */
	socklen_t len = sizeof p->listen_sa;
	getsockname(evconnlistener_get_fd(p->listener), (struct sockaddr *)&p->listen_sa, &len);
	p->listen_salen = len;
	addr_format(&p->listen_sa, p->listen_text, sizeof p->listen_text, &p->listen_port);
	return RESULT_OK;
}

/* ---- the proxy ------------------------------------------------------------ */

struct proxy *proxy_create(struct event_base *base, const struct proxy_config *cfg,
                           char *err, size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(cfg != NULL);
	const char *name = cfg->name != NULL && cfg->name[0] != '\0' ? cfg->name : "proxy";
	if (strlen(name) >= PROXY_NAME_MAX) {
		set_err(err, errsize, "proxy name too long");
		return NULL;
	}
	if (cfg->upstream == NULL) {
		set_err(err, errsize, "missing upstream address");
		return NULL;
	}
	struct proxy *p = calloc(1, sizeof *p);
	if (p == NULL) {
		set_err(err, errsize, "out of memory");
		return NULL;
	}
	p->base = base;
	snprintf(p->name, sizeof p->name, "%s", name);
	const char *listen = cfg->listen != NULL ? cfg->listen : "127.0.0.1:0";
	snprintf(p->listen_text, sizeof p->listen_text, "%s", listen);
	snprintf(p->upstream_text, sizeof p->upstream_text, "%s", cfg->upstream);
	p->conns_max = cfg->conns_max != 0 ? cfg->conns_max : PROXY_CONNS_DEFAULT;
	p->idle_timeout_ms = cfg->idle_timeout_ms;
	struct prng seed;
	prng_init(&seed, cfg->seed);
	prng_fork(&seed, fnv1a(p->name), &p->rng);

	if (resolve(listen, true, &p->listen_sa, &p->listen_salen, err, errsize) != RESULT_OK ||
	    resolve(cfg->upstream, false, &p->up_sa, &p->up_salen, err, errsize) != RESULT_OK)
		goto fail;
	uint16_t port;
	addr_format(&p->listen_sa, p->listen_text, sizeof p->listen_text, &port);
	p->reap_ev = event_new(base, -1, 0, proxy_on_reap, p);
	p->accept_pause_ev = evtimer_new(base, proxy_on_accept_pause, p);
	if (p->reap_ev == NULL || p->accept_pause_ev == NULL) {
		set_err(err, errsize, "out of memory");
		goto fail;
	}
	if (p->idle_timeout_ms > 0) {
		p->idle_ev = event_new(base, -1, EV_PERSIST, proxy_on_idle_sweep, p);
		if (p->idle_ev == NULL) {
			set_err(err, errsize, "out of memory");
			goto fail;
		}
		uint32_t every_ms = p->idle_timeout_ms / 2;
		if (every_ms == 0)
			every_ms = 1;
		if (every_ms > PROXY_IDLE_SWEEP_MS_MAX)
			every_ms = PROXY_IDLE_SWEEP_MS_MAX;
		struct timeval tv = {.tv_sec = every_ms / 1000,
		                     .tv_usec = (suseconds_t)(every_ms % 1000) * 1000};
		evtimer_add(p->idle_ev, &tv);
	}
	if (!cfg->disabled) {
		if (proxy_listen_now(p) != RESULT_OK) {
			set_err(err, errsize, "%s", p->last_error);
			goto fail;
		}
		p->enabled = true;
	}
	return p;
fail:
	proxy_destroy(p);
	return NULL;
}

void proxy_destroy(struct proxy *p)
{
	if (p == NULL)
		return;
	while (p->conns != NULL)
		conn_kill(p->conns);
	proxy_on_reap(-1, 0, p);
	if (p->listener != NULL)
		evconnlistener_free(p->listener);
	if (p->reap_ev != NULL)
		event_free(p->reap_ev);
	if (p->accept_pause_ev != NULL)
		event_free(p->accept_pause_ev);
	if (p->idle_ev != NULL)
		event_free(p->idle_ev);
	for (uint32_t i = 0; i < PROXY_TOXICS_MAX; i++)
		free(p->toxics[i]);
	free(p);
}

const char *proxy_name(const struct proxy *p)
{
	return p->name;
}

const char *proxy_listen(const struct proxy *p)
{
	return p->listen_text;
}

const char *proxy_upstream(const struct proxy *p)
{
	return p->upstream_text;
}

uint16_t proxy_listen_port(const struct proxy *p)
{
	return p->listen_port;
}

bool proxy_is_enabled(const struct proxy *p)
{
	return p->enabled;
}

const char *proxy_last_error(const struct proxy *p)
{
	return p->last_error;
}

void proxy_get_stats(const struct proxy *p, struct proxy_stats *out)
{
	ASSERT(out != NULL);
	*out = p->stats;
}

size_t proxy_conn_count(const struct proxy *p)
{
	return p->nconns;
}

static int toxic_slot(const struct proxy *p, const char *name)
{
	for (uint32_t k = 0; k < p->ntoxics; k++) {
		if (strcmp(p->toxics[p->order[k]]->spec.name, name) == 0)
			return p->order[k];
	}
	return -1;
}

static enum proto proto_of(enum toxic_type type)
{
	if (type == TOXIC_REDIS_COMMAND)
		return PROTO_RESP;
	if (type == TOXIC_PG_COMMAND)
		return PROTO_PG;
	return PROTO_NONE;
}

size_t proxy_toxic_count(const struct proxy *p)
{
	return p->ntoxics;
}

const struct toxic_spec *proxy_toxic_at(const struct proxy *p, size_t i)
{
	ASSERT(i < p->ntoxics);
	return &p->toxics[p->order[i]]->spec;
}

const struct toxic_spec *proxy_find_toxic(const struct proxy *p, const char *name)
{
	int slot = toxic_slot(p, name);
	return slot < 0 ? NULL : &p->toxics[slot]->spec;
}

enum result proxy_add_toxic(struct proxy *p, const struct toxic_spec *spec, char *err,
                            size_t errsize)
{
	ASSERT(p != NULL);
	ASSERT(spec != NULL);
	enum result rc = toxic_spec_check(spec, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	struct toxic_spec t = *spec;
	toxic_spec_default_name(&t);
	if (toxic_slot(p, t.name) >= 0) {
		set_err(err, errsize, "toxic already exists: %s", t.name);
		return RESULT_REJECT;
	}
	enum proto want = proto_of(t.type);
	if (want != PROTO_NONE && p->proto != PROTO_NONE && p->proto != want) {
		set_err(err, errsize, "proxy %s already parses the other protocol", p->name);
		return RESULT_REJECT;
	}
	if (p->ntoxics == PROXY_TOXICS_MAX) {
		set_err(err, errsize, "too many toxics on proxy %s", p->name);
		return RESULT_NOMEM;
	}
	uint32_t slot = 0;
	while (p->toxics[slot] != NULL)
		slot++;
	ASSERT(slot < PROXY_TOXICS_MAX);
	struct toxic *tx = calloc(1, sizeof *tx);
	if (tx == NULL) {
		set_err(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	tx->spec = t;
	p->toxics[slot] = tx;
	p->order[p->ntoxics++] = (uint8_t)slot;

	if (want != PROTO_NONE && p->proto == PROTO_NONE) {
		p->proto = want;
		struct conn *c = p->conns;
		while (c != NULL) {
			struct conn *next = c->next;
			if (c->ps == NULL) {
				bool from_start = c->up.accepted == 0 &&
				                  evbuffer_get_length(bufferevent_get_input(c->client)) == 0;
				if (conn_start_parsing(c, from_start) != RESULT_OK)
					conn_close(c, CLOSE_NOW);
			}
			c = next;
		}
	}
	for (struct conn *c = p->conns; c != NULL; c = c->next) {
		proxy_draw_links(p, c, slot);
		link_refresh(&c->up);
		link_refresh(&c->down);
	}
	return RESULT_OK;
}

enum result proxy_update_toxic(struct proxy *p, const struct toxic_spec *spec, char *err,
                               size_t errsize)
{
	ASSERT(p != NULL);
	ASSERT(spec != NULL);
	int slot = toxic_slot(p, spec->name);
	if (slot < 0) {
		set_err(err, errsize, "toxic not found: %s", spec->name);
		return RESULT_REJECT;
	}
	struct toxic *tx = p->toxics[slot];
	if (spec->type != tx->spec.type) {
		set_err(err, errsize, "the type of toxic %s cannot change", spec->name);
		return RESULT_REJECT;
	}
	enum result rc = toxic_spec_check(spec, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	tx->spec = *spec;
	for (struct conn *c = p->conns; c != NULL; c = c->next) {
		link_refresh(&c->up);
		link_refresh(&c->down);
	}
	return RESULT_OK;
}

bool proxy_remove_toxic(struct proxy *p, const char *name)
{
	ASSERT(p != NULL);
	int slot = toxic_slot(p, name);
	if (slot < 0)
		return false;
	uint32_t bit = 1u << slot;
	for (struct conn *c = p->conns; c != NULL; c = c->next) {
		c->up.active &= ~bit;
		c->down.active &= ~bit;
	}
	free(p->toxics[slot]);
	p->toxics[slot] = NULL;
	uint32_t k = 0;
	while (p->order[k] != (uint8_t)slot)
		k++;
	memmove(&p->order[k], &p->order[k + 1], (p->ntoxics - k - 1) * sizeof p->order[0]);
	p->ntoxics--;
	p->proto = PROTO_NONE;
	for (k = 0; k < p->ntoxics; k++) {
		enum proto pr = proto_of(p->toxics[p->order[k]]->spec.type);
		if (pr != PROTO_NONE)
			p->proto = pr;
	}
	/* Connections parsing already keep parsing: their replies are still
	 * being matched to commands. */
	for (struct conn *c = p->conns; c != NULL; c = c->next) {
		link_refresh(&c->up);
		link_refresh(&c->down);
	}
	return true;
}

void proxy_reset(struct proxy *p)
{
	ASSERT(p != NULL);
	while (p->ntoxics > 0) {
		bool removed = proxy_remove_toxic(p, p->toxics[p->order[0]]->spec.name);
		ASSERT(removed);
	}
	proxy_set_enabled(p, true);
}

void proxy_set_enabled(struct proxy *p, bool enabled)
{
	ASSERT(p != NULL);
	if (enabled == p->enabled)
		return;
	if (!enabled) {
		evconnlistener_free(p->listener);
		p->listener = NULL;
		evtimer_del(p->accept_pause_ev);
		while (p->conns != NULL)
			conn_close(p->conns, CLOSE_NOW);
		p->enabled = false;
		return;
	}
	p->last_error[0] = '\0';
	if (proxy_listen_now(p) == RESULT_OK)
		p->enabled = true;
}
