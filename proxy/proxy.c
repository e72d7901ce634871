/* proxy/proxy.c - the fault proxy: per client connection two
 * bufferevents joined by two links, each moving bytes through a protocol
 * stage (only once a protocol toxic exists) and a stream stage (drop, reset,
 * byte limit, release queue). Not the HTTP API (control_api.c). */
#include "proxy/proxy.h"

#include "proxy/proxy_int.h"

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
void proxy_link_flow(struct link *l)
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
			proxy_conn_pump_up(l->c);
		else
			proxy_conn_pump_down(l->c);
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

void proxy_conn_check_closed(struct conn *c)
{
	if (c->dead || !c->closing)
		return;
	uint64_t now = now_us();
	if (now >= c->close_deadline_us) {
		proxy_conn_close(c, CLOSE_NOW);
		return;
	}
	if (conn_is_flushed(c)) {
		if (now >= c->close_not_before_us) {
			proxy_conn_close(c, CLOSE_NOW);
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
void proxy_link_pump(struct link *l)
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
			proxy_conn_close(c, CLOSE_RESET);
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
		/* The rest moves whole; proxy_link_flow stops reading the source once
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
				proxy_conn_close(c, CLOSE_NOW);
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
		proxy_conn_close(c, CLOSE_FLUSH);
		return;
	}
	proxy_link_flow(l);
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
	proxy_link_pump(l);
	proxy_link_flow(l);
	if (l->up)
		conn_pass_client_fin(c);
	if (c->closing)
		proxy_conn_check_closed(c);
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
		proxy_conn_close(c, CLOSE_RESET);
		return;
	}
	if (l->fx.timeout_at_us != 0 && now >= l->fx.timeout_at_us) {
		proxy_conn_close(c, CLOSE_NOW);
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

void proxy_conn_close(struct conn *c, enum close_how how)
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
		proxy_link_pump(&c->up);
		proxy_link_pump(&c->down);
		proxy_conn_check_closed(c);
		return;
	}
}

static void conn_on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proxy_conn_check_closed(arg);
}

/* ---- bufferevent callbacks ------------------------------------------------ */

/* The destination drained below its low watermark. */
static void conn_on_client_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (c->closing) {
		proxy_conn_check_closed(c);
		return;
	}
	if (!c->down.reading)
		proxy_link_flow(&c->down);
}

static void conn_on_server_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (c->closing) {
		proxy_conn_check_closed(c);
		return;
	}
	if (!c->up.reading)
		proxy_link_flow(&c->up);
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
		proxy_conn_close(c, CLOSE_NOW);
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
		proxy_conn_close(c, CLOSE_FLUSH);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		/* A reset by the server reaches the client as a reset. */
		int e = EVUTIL_SOCKET_ERROR();
		proxy_conn_close(c, c->server_connected && e == ECONNRESET ? CLOSE_RESET : CLOSE_NOW);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		proxy_conn_close(c, CLOSE_NOW);
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
		proxy_conn_close(c, CLOSE_NOW);
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
			proxy_conn_close(c, CLOSE_NOW);
			return;
		}
		if (c->p->idle_timeout_ms > 0) /* the clock costs a syscall here */
			c->last_active_us = now_us();
		if (l->up)
			proxy_conn_pump_up(c);
		else
			proxy_conn_pump_down(c);
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
	if (p->proto != PROTO_NONE && proxy_conn_start_parsing(c, true) != RESULT_OK)
		proxy_conn_close(c, CLOSE_NOW);
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
			proxy_conn_close(c, CLOSE_NOW);
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
				if (proxy_conn_start_parsing(c, from_start) != RESULT_OK)
					proxy_conn_close(c, CLOSE_NOW);
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
			proxy_conn_close(p->conns, CLOSE_NOW);
		p->enabled = false;
		return;
	}
	p->last_error[0] = '\0';
	if (proxy_listen_now(p) == RESULT_OK)
		p->enabled = true;
}
