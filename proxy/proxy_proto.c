/* proxy/proxy_proto.c - the protocol stage of a link: RESP and PostgreSQL frames
 * parsed as they pass, and the protocol-aware toxics (redis_command,
 * pg_command) that answer, drop, stall or close on a matching command. */
#include "proxy/proxy.h"

#include "proxy/proxy_int.h"

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
			proxy_conn_close(c, CLOSE_FLUSH);
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
			return; /* proxy_link_flow stops reading until replies come */
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
				proxy_conn_close(c, CLOSE_FLUSH);
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

enum result proxy_conn_start_parsing(struct conn *c, bool from_start)
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
void proxy_conn_pump_up(struct conn *c)
{
	proto_up(c);
	proxy_link_pump(&c->up);
	if (c->ps != NULL)
		proxy_link_pump(&c->down); /* injected answers */
	proxy_link_flow(&c->up);
	if (c->closing)
		proxy_conn_check_closed(c);
}

void proxy_conn_pump_down(struct conn *c)
{
	proto_down(c);
	proxy_link_pump(&c->down);
	proxy_link_flow(&c->down);
	if (c->ps != NULL)
		proxy_link_flow(&c->up); /* replies came: the client may send more */
	if (c->closing)
		proxy_conn_check_closed(c);
}
