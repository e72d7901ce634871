/* live/redis_live.c - the key-value port on hiredis's asynchronous API.
 * Each operation is a struct rcmd that hiredis and the port share: hiredis
 * holds it until it has called back for every part sent, the port until the
 * caller's callback has run. User callbacks always run from a scheduler
 * timer, never inside hiredis, so no caller can re-enter hiredis mid-reply. */
#include "live/redis_live.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "core/assert.h"
#include "sim/sched.h"

#define REDIS_LIVE_HOST_MAX 256

struct rcmd {
	struct redis_live *rl;
	struct rcmd *prev, *next;   /* rl->cmds: every command not yet freed */
	kv_done_fn *done;
	void *arg;
	struct sched_timer timer;   /* deadline, then the delivery */
	int parts;                  /* replies expected: 1, or ncmds + 2 */
	int parts_seen;             /* replies (or NULLs) hiredis gave back */
	int hiredis_refs;           /* callbacks hiredis still owes */
	bool answered;              /* the outcome is decided */
	bool timed_out;
	bool delivered;             /* the caller's callback has run */
	enum outcome oc;
	struct kv_reply *reply;     /* heap copy, or NULL */
	bool reply_owned;           /* reply points at our heap copy */
};

struct redis_live {
	struct event_base *base;
	struct sched *s;
	char host[REDIS_LIVE_HOST_MAX];
	int port;
	uint64_t timeout_us;
	redisAsyncContext *ac;       /* NULL when not connected */
	bool connected;              /* ac finished its connect */
	bool failed_once;            /* a connect attempt has failed */
	uint64_t failed_at_us;       /* when the last attempt failed */
	bool destroying;
	int in_callback;             /* depth of caller callbacks running */
	struct rcmd *cmds;
	uint64_t inflight;           /* commands hiredis holds */
	uint64_t pending;            /* commands not yet delivered */
	uint64_t late_replies;
	uint64_t connects;
};

static const struct kv_reply redis_live_too_big = {
	.type = KV_REPLY_ERROR,
	.str = "ERR faultline: reply exceeds limits",
	.len = sizeof "ERR faultline: reply exceeds limits" - 1,
};

static void set_err(char *err, size_t errsize, const char *msg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s", msg);
}

/* "redis://HOST[:PORT][/]" into host and port. */
static bool url_parse(const char *url, char *host, size_t hostsize, int *port)
{
	static const char scheme[] = "redis://";
	if (strncmp(url, scheme, sizeof scheme - 1) != 0)
		return false;
	const char *p = url + sizeof scheme - 1;
	const char *end;
	if (*p == '[') { /* [::1]:6379 */
		end = strchr(p, ']');
		if (end == NULL)
			return false;
		p++;
	} else {
		end = p + strcspn(p, ":/");
	}
	size_t n = (size_t)(end - p);
	if (n == 0 || n >= hostsize)
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	p = end + (*end == ']');
	long v = 6379;
	if (*p == ':') {
		char *stop;
		p++;
		if (*p < '0' || *p > '9')
			return false;
		v = strtol(p, &stop, 10);
		if (v < 1 || v > 65535)
			return false;
		p = stop;
	}
	if (*p == '/')
		p++;
	if (*p != '\0')
		return false;
	*port = (int)v;
	return true;
}

struct redis_live *redis_live_create(struct event_base *base, struct sched *s,
                                     const char *url, uint64_t timeout_us,
                                     char *err, size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(s != NULL);
	ASSERT(sched_clock_kind(s) == SCHED_REAL);

	struct redis_live *rl = calloc(1, sizeof *rl);
	if (rl == NULL) {
		set_err(err, errsize, "out of memory");
		return NULL;
	}
	if (url == NULL || !url_parse(url, rl->host, sizeof rl->host, &rl->port)) {
		set_err(err, errsize, "bad Redis URL: want redis://HOST[:PORT]");
		free(rl);
		return NULL;
	}
	if (timeout_us == 0) {
		set_err(err, errsize, "Redis command timeout must be positive");
		free(rl);
		return NULL;
	}
	rl->base = base;
	rl->s = s;
	rl->timeout_us = timeout_us;
	return rl;
}

static void rcmd_free(struct rcmd *c)
{
	struct redis_live *rl = c->rl;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rl->cmds = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->reply_owned)
		free(c->reply);
	free(c);
}

void redis_live_destroy(struct redis_live *rl)
{
	if (rl == NULL)
		return;
	ASSERT(rl->in_callback == 0); /* never from inside its own callback */
	rl->destroying = true;
	if (rl->ac != NULL) {
		redisAsyncContext *ac = rl->ac;
		rl->ac = NULL;
		redisAsyncFree(ac); /* calls back every pending part with NULL */
	}
	for (struct rcmd *c = rl->cmds, *next; c != NULL; c = next) {
		next = c->next;
		sched_cancel(rl->s, c->timer);
		rcmd_free(c);
	}
	free(rl);
}

uint64_t redis_live_late_replies(const struct redis_live *rl)
{
	return rl->late_replies;
}

uint64_t redis_live_connects(const struct redis_live *rl)
{
	return rl->connects;
}

uint64_t redis_live_pending(const struct redis_live *rl)
{
	return rl->pending;
}

/* ---- reply copies ------------------------------------------------------ */

struct reply_size {
	size_t nodes;
	size_t bytes;
};

/* Counts what a copy of r needs; false past a limit. */
static bool reply_measure(const redisReply *r, int depth, struct reply_size *sz)
{
	if (depth > REDIS_LIVE_REPLY_DEPTH_MAX)
		return false;
	sz->nodes++;
	if (sz->nodes > REDIS_LIVE_REPLY_ELEMENTS_MAX)
		return false;
	switch (r->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		if (r->len > REDIS_LIVE_REPLY_BYTES_MAX - sz->bytes)
			return false;
		sz->bytes += r->len + 1;
		if (sz->bytes > REDIS_LIVE_REPLY_BYTES_MAX)
			return false;
		return true;
	case REDIS_REPLY_ARRAY:
		if (r->elements > REDIS_LIVE_REPLY_ELEMENTS_MAX)
			return false;
		for (size_t i = 0; i < r->elements; i++) {
			if (!reply_measure(r->element[i], depth + 1, sz))
				return false;
		}
		return true;
	default:
		return true;
	}
}

struct reply_fill {
	struct kv_reply *nodes;
	size_t next_node;
	char *bytes;
	size_t next_byte;
};

static void reply_fill(const redisReply *r, struct kv_reply *out,
                       struct reply_fill *f)
{
	memset(out, 0, sizeof *out);
	switch (r->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR: {
		out->type = r->type == REDIS_REPLY_STRING ? KV_REPLY_BULK :
		            r->type == REDIS_REPLY_STATUS ? KV_REPLY_STATUS :
		                                            KV_REPLY_ERROR;
		char *dst = f->bytes + f->next_byte;
		if (r->len > 0)
			memcpy(dst, r->str, r->len);
		dst[r->len] = '\0';
		f->next_byte += r->len + 1;
		out->str = dst;
		out->len = r->len;
		break;
	}
	case REDIS_REPLY_INTEGER:
		out->type = KV_REPLY_INTEGER;
		out->integer = r->integer;
		break;
	case REDIS_REPLY_ARRAY: {
		out->type = KV_REPLY_ARRAY;
		out->elements = r->elements;
		struct kv_reply *elems = f->nodes + f->next_node;
		f->next_node += r->elements;
		out->element = elems;
		for (size_t i = 0; i < r->elements; i++)
			reply_fill(r->element[i], &elems[i], f);
		break;
	}
	default: /* REDIS_REPLY_NIL */
		out->type = KV_REPLY_NIL;
		break;
	}
}

/* A heap copy of r in one block, or the "exceeds limits" error reply (not
 * owned) when r is past the limits or memory is short. */
static void reply_copy(const redisReply *r, struct kv_reply **out, bool *owned)
{
	struct reply_size sz = {0, 0};
	*out = (struct kv_reply *)&redis_live_too_big;
	*owned = false;
	if (!reply_measure(r, 0, &sz))
		return;
	struct kv_reply *block = malloc(sz.nodes * sizeof *block + sz.bytes);
	if (block == NULL)
		return;
	struct reply_fill f = {
		.nodes = block,
		.next_node = 1,
		.bytes = (char *)(block + sz.nodes),
		.next_byte = 0,
	};
	reply_fill(r, &block[0], &f);
	ASSERT(f.next_node == sz.nodes);
	ASSERT(f.next_byte == sz.bytes);
	*out = block;
	*owned = true;
}

/* ---- completion --------------------------------------------------------- */

static void rcmd_deliver(struct rcmd *c)
{
	struct redis_live *rl = c->rl;
	ASSERT(c->answered);
	ASSERT(!c->delivered);
	c->delivered = true;
	rl->pending--;
	const struct kv_reply *reply =
		(c->oc == OUTCOME_OK || c->oc == OUTCOME_ERROR) ? c->reply : NULL;
	rl->in_callback++;
	c->done(c->arg, c->oc, reply);
	rl->in_callback--;
	if (c->reply_owned)
		free(c->reply);
	c->reply = NULL;
	c->reply_owned = false;
	if (c->hiredis_refs == 0)
		rcmd_free(c);
}

static void rcmd_on_deliver(void *arg)
{
	rcmd_deliver(arg);
}

/* Decides the outcome and schedules the caller's callback. */
static void rcmd_answer(struct rcmd *c, enum outcome oc)
{
	ASSERT(!c->answered);
	c->answered = true;
	c->oc = oc;
	sched_cancel(c->rl->s, c->timer);
	c->timer = sched_after(c->rl->s, 0, rcmd_on_deliver, c);
}

static void redis_on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_live *rl = ac->data;
	if (rl->ac != ac)
		return;
	if (status == REDIS_OK) {
		rl->connected = true;
		return;
	}
	/* hiredis frees ac right after this callback. */
	rl->ac = NULL;
	rl->connected = false;
	rl->failed_once = true;
	rl->failed_at_us = sched_now_us(rl->s);
}

static void redis_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_live *rl = ac->data;
	(void)status;
	if (rl->ac == ac) {
		rl->ac = NULL;
		rl->connected = false;
	}
}

/* Drops the connection: hiredis calls back every pending part with NULL,
 * which completes those commands with OUTCOME_CONN_LOST. */
static void redis_drop_connection(struct redis_live *rl)
{
	redisAsyncContext *ac = rl->ac;
	if (ac == NULL)
		return;
	rl->ac = NULL;
	rl->connected = false;
	redisAsyncFree(ac);
}

static bool redis_ensure_connection(struct redis_live *rl)
{
	if (rl->ac != NULL)
		return true;
	if (rl->failed_once &&
	    sched_now_us(rl->s) - rl->failed_at_us < REDIS_LIVE_RECONNECT_GAP_US)
		return false;
	rl->connects++;
	redisAsyncContext *ac = redisAsyncConnect(rl->host, rl->port);
	if (ac == NULL || ac->err != 0) {
		if (ac != NULL)
			redisAsyncFree(ac);
		rl->failed_once = true;
		rl->failed_at_us = sched_now_us(rl->s);
		return false;
	}
	ac->data = rl;
	if (redisLibeventAttach(ac, rl->base) != REDIS_OK) {
		redisAsyncFree(ac);
		return false;
	}
	redisAsyncSetConnectCallback(ac, redis_on_connect);
	redisAsyncSetDisconnectCallback(ac, redis_on_disconnect);
	rl->ac = ac;
	rl->connected = false;
	return true;
}

static void rcmd_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rcmd *c = privdata;
	struct redis_live *rl = c->rl;
	const redisReply *r = reply;
	(void)ac;

	ASSERT(c->hiredis_refs > 0);
	c->hiredis_refs--;
	c->parts_seen++;
	if (c->hiredis_refs == 0)
		rl->inflight--;
	if (rl->destroying)
		return; /* destroy frees every command after hiredis is gone */

	bool last = c->parts_seen == c->parts;
	if (c->answered) {
		/* A timed-out command's reply: count it once, drop it. */
		if (c->timed_out && last && r != NULL)
			rl->late_replies++;
		if (c->hiredis_refs == 0 && c->delivered)
			rcmd_free(c);
		return;
	}
	if (r == NULL) {
		rcmd_answer(c, OUTCOME_CONN_LOST);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR && c->reply == NULL) {
		/* The first error wins; for a transaction it names the cause
		 * better than EXEC's EXECABORT. */
		reply_copy(r, &c->reply, &c->reply_owned);
	}
	if (!last)
		return;
	if (c->reply != NULL) {
		rcmd_answer(c, OUTCOME_ERROR);
		return;
	}
	reply_copy(r, &c->reply, &c->reply_owned);
	rcmd_answer(c, c->reply->type == KV_REPLY_ERROR ? OUTCOME_ERROR :
	                                                  OUTCOME_OK);
}

static void rcmd_on_deadline(void *arg)
{
	struct rcmd *c = arg;
	struct redis_live *rl = c->rl;
	ASSERT(!c->answered);
	if (rl->ac != NULL && !rl->connected) {
		/* Never connected: nothing was sent, so this is a lost
		 * connection, not an ambiguous timeout. */
		rl->failed_once = true;
		rl->failed_at_us = sched_now_us(rl->s);
		redis_drop_connection(rl);
		if (!c->answered)
			rcmd_answer(c, OUTCOME_CONN_LOST);
		return;
	}
	c->answered = true;
	c->timed_out = true;
	c->oc = OUTCOME_TIMEOUT;
	/* After a deadline the connection's reply stream can no longer be
	 * trusted: if the link lost the command or its reply (a black hole, a
	 * proxy dropping bytes), hiredis would hand every later reply to the
	 * command before it, and a SET NX would read another's answer. So the
	 * connection goes; what else was in flight on it completes with
	 * CONN_LOST, and the next command opens a fresh one. */
	redis_drop_connection(rl);
	rcmd_deliver(c);
}

static struct rcmd *rcmd_new(struct redis_live *rl, int parts, kv_done_fn *done,
                             void *arg)
{
	struct rcmd *c = calloc(1, sizeof *c);
	ASSERT(c != NULL); /* out of memory in the harness is fatal */
	c->rl = rl;
	c->done = done;
	c->arg = arg;
	c->parts = parts;
	c->next = rl->cmds;
	if (rl->cmds != NULL)
		rl->cmds->prev = c;
	rl->cmds = c;
	rl->pending++;
	return c;
}

static bool rcmd_send_part(struct rcmd *c, const struct kv_cmd *cmd)
{
	const char *argv[KV_ARGV_MAX]; /* hiredis wants it non-const */
	size_t lens[KV_ARGV_MAX];
	ASSERT(cmd->argc > 0);
	ASSERT(cmd->argc <= KV_ARGV_MAX);
	for (int i = 0; i < cmd->argc; i++) {
		ASSERT(cmd->argv[i] != NULL);
		argv[i] = cmd->argv[i];
		lens[i] = strlen(cmd->argv[i]);
	}
	int rc = redisAsyncCommandArgv(c->rl->ac, rcmd_on_reply, c, cmd->argc,
	                               argv, lens);
	if (rc != REDIS_OK)
		return false;
	if (c->hiredis_refs == 0)
		c->rl->inflight++;
	c->hiredis_refs++;
	return true;
}

/* Sends the parts of one operation, or completes it with CONN_LOST. */
static void redis_submit(struct redis_live *rl, int nparts,
                         const struct kv_cmd *parts, kv_done_fn *done, void *arg)
{
	ASSERT(!rl->destroying);
	ASSERT(done != NULL);
	struct rcmd *c = rcmd_new(rl, nparts, done, arg);
	if (rl->inflight >= REDIS_LIVE_INFLIGHT_MAX ||
	    !redis_ensure_connection(rl)) {
		c->answered = true;
		c->oc = OUTCOME_CONN_LOST;
		c->timer = sched_after(rl->s, 0, rcmd_on_deliver, c);
		return;
	}
	c->timer = sched_after(rl->s, rl->timeout_us, rcmd_on_deadline, c);
	for (int i = 0; i < nparts; i++) {
		if (rcmd_send_part(c, &parts[i]))
			continue;
		if (i == 0) {
			rcmd_answer(c, OUTCOME_CONN_LOST);
			return;
		}
		/* A MULTI without its EXEC would poison the connection. */
		c->parts = c->hiredis_refs;
		redis_drop_connection(rl);
		return;
	}
}

static void redis_port_command(void *ctx, const struct kv_cmd *cmd,
                               kv_done_fn *done, void *arg)
{
	redis_submit(ctx, 1, cmd, done, arg);
}

static void redis_port_transaction(void *ctx, int ncmds,
                                   const struct kv_cmd *cmds, kv_done_fn *done,
                                   void *arg)
{
	struct kv_cmd parts[KV_TXN_MAX + 2];
	ASSERT(ncmds > 0);
	ASSERT(ncmds <= KV_TXN_MAX);
	parts[0] = (struct kv_cmd){.argc = 1, .argv = {"MULTI"}};
	for (int i = 0; i < ncmds; i++)
		parts[i + 1] = cmds[i];
	parts[ncmds + 1] = (struct kv_cmd){.argc = 1, .argv = {"EXEC"}};
	redis_submit(ctx, ncmds + 2, parts, done, arg);
}

void redis_live_port(struct redis_live *rl, struct kv_port *out)
{
	ASSERT(rl != NULL);
	ASSERT(out != NULL);
	out->ctx = rl;
	out->command = redis_port_command;
	out->transaction = redis_port_transaction;
}
