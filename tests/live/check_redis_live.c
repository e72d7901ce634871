/* tests/check_redis_live.c - the key-value port on a real redis-server:
 * replies, MULTI/EXEC, deadlines (the connection goes with them), refused and killed
 * connections. Needs FAULTLINE_REDIS_URL (tests/live_test.sh starts a
 * server); without it the suite is empty and says so in one line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "live/redis_live.h"
#include "sim/sched.h"

#define LOOP_PASSES_MAX 100000
#define REPLY_COPY_MAX 256

struct fixture {
	struct event_base *base;
	struct sched *s;
	struct redis_live *rl;
	struct kv_port kv;
};

/* What one callback saw, copied out of the borrowed reply. */
struct seen {
	int calls;
	enum outcome oc;
	bool had_reply;
	enum kv_reply_type type;
	long long integer;
	char str[REPLY_COPY_MAX];
	size_t elements;
	enum kv_reply_type elem_type[KV_TXN_MAX];
	long long elem_int[KV_TXN_MAX];
	uint64_t at_us;
	struct sched *s;
};

static void on_done(void *arg, enum outcome oc, const struct kv_reply *r)
{
	struct seen *w = arg;
	w->calls++;
	w->oc = oc;
	w->at_us = sched_now_us(w->s);
	w->had_reply = r != NULL;
	if (r == NULL)
		return;
	w->type = r->type;
	w->integer = r->integer;
	if (r->str != NULL)
		snprintf(w->str, sizeof w->str, "%s", r->str);
	w->elements = r->elements;
	for (size_t i = 0; i < r->elements && i < KV_TXN_MAX; i++) {
		w->elem_type[i] = r->element[i].type;
		w->elem_int[i] = r->element[i].integer;
	}
}

static void on_guard(void *arg)
{
	*(bool *)arg = true;
}

/* Runs the loop until *flag or max_us pass. */
static void loop_until(struct fixture *f, const int *calls, uint64_t max_us)
{
	bool expired = false;
	struct sched_timer guard = sched_after(f->s, max_us, on_guard, &expired);
	for (int n = 0; n < LOOP_PASSES_MAX && *calls == 0 && !expired; n++)
		event_base_loop(f->base, EVLOOP_ONCE);
	sched_cancel(f->s, guard);
}

static void loop_for(struct fixture *f, uint64_t us)
{
	int never = 0;
	loop_until(f, &never, us);
}

static void fixture_init_url(struct fixture *f, const char *url,
                             uint64_t timeout_us)
{
	char err[128];
	f->base = sched_base_new(SCHED_REAL);
	ck_assert_ptr_nonnull(f->base);
	f->s = sched_create(f->base, SCHED_REAL, NULL);
	ck_assert_ptr_nonnull(f->s);
	f->rl = redis_live_create(f->base, f->s, url, timeout_us, err, sizeof err);
	ck_assert_msg(f->rl != NULL, "redis_live_create: %s", err);
	redis_live_port(f->rl, &f->kv);
}

static void fixture_init(struct fixture *f, uint64_t timeout_us)
{
	fixture_init_url(f, getenv("FAULTLINE_REDIS_URL"), timeout_us);
}

static void fixture_fini(struct fixture *f)
{
	redis_live_destroy(f->rl);
	sched_destroy(f->s);
	event_base_free(f->base);
}

static struct kv_cmd cmd3(const char *a, const char *b, const char *c)
{
	struct kv_cmd cmd = {.argc = 1, .argv = {a}};
	if (b != NULL)
		cmd.argv[cmd.argc++] = b;
	if (c != NULL)
		cmd.argv[cmd.argc++] = c;
	return cmd;
}

/* Runs one command to completion and returns what the callback saw. */
static struct seen run_cmd(struct fixture *f, const char *a, const char *b,
                           const char *c)
{
	struct seen w = {.s = f->s};
	struct kv_cmd cmd = cmd3(a, b, c);
	f->kv.command(f->kv.ctx, &cmd, on_done, &w);
	ck_assert_int_eq(w.calls, 0); /* never before the call returns */
	loop_until(f, &w.calls, 2000000);
	ck_assert_int_eq(w.calls, 1);
	return w;
}

START_TEST(test_redis_live_set_get_incr_and_nil)
{
	struct fixture f;
	fixture_init(&f, 1000000);
	run_cmd(&f, "DEL", "rl:a", NULL);

	struct seen w = run_cmd(&f, "SET", "rl:a", "41");
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	ck_assert_int_eq(w.type, KV_REPLY_STATUS);
	ck_assert_str_eq(w.str, "OK");

	w = run_cmd(&f, "INCR", "rl:a", NULL);
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	ck_assert_int_eq(w.type, KV_REPLY_INTEGER);
	ck_assert_int_eq(w.integer, 42);

	w = run_cmd(&f, "GET", "rl:a", NULL);
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	ck_assert_int_eq(w.type, KV_REPLY_BULK);
	ck_assert_str_eq(w.str, "42");

	w = run_cmd(&f, "GET", "rl:missing", NULL);
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	ck_assert_int_eq(w.type, KV_REPLY_NIL);
	ck_assert_uint_eq(redis_live_connects(f.rl), 1);
	ck_assert_uint_eq(redis_live_pending(f.rl), 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_redis_live_error_reply_is_outcome_error)
{
	struct fixture f;
	fixture_init(&f, 1000000);
	run_cmd(&f, "SET", "rl:text", "abc");
	struct seen w = run_cmd(&f, "INCR", "rl:text", NULL);
	ck_assert_int_eq(w.oc, OUTCOME_ERROR);
	ck_assert(w.had_reply);
	ck_assert_int_eq(w.type, KV_REPLY_ERROR);
	ck_assert_str_eq(w.str, "ERR value is not an integer or out of range");
	fixture_fini(&f);
}
END_TEST

START_TEST(test_redis_live_transaction_returns_exec_array)
{
	struct fixture f;
	fixture_init(&f, 1000000);
	run_cmd(&f, "DEL", "rl:rate", NULL);
	struct kv_cmd cmds[2] = {
		{.argc = 2, .argv = {"INCR", "rl:rate"}},
		{.argc = 4, .argv = {"EXPIRE", "rl:rate", "60", "NX"}},
	};
	for (int round = 1; round <= 2; round++) {
		struct seen w = {.s = f.s};
		f.kv.transaction(f.kv.ctx, 2, cmds, on_done, &w);
		ck_assert_int_eq(w.calls, 0);
		loop_until(&f, &w.calls, 2000000);
		ck_assert_int_eq(w.calls, 1);
		ck_assert_int_eq(w.oc, OUTCOME_OK);
		ck_assert_int_eq(w.type, KV_REPLY_ARRAY);
		ck_assert_uint_eq(w.elements, 2);
		ck_assert_int_eq(w.elem_type[0], KV_REPLY_INTEGER);
		ck_assert_int_eq(w.elem_int[0], round);
		ck_assert_int_eq(w.elem_type[1], KV_REPLY_INTEGER);
		/* NX: only the first round sets the TTL. */
		ck_assert_int_eq(w.elem_int[1], round == 1 ? 1 : 0);
	}
	struct seen ttl = run_cmd(&f, "TTL", "rl:rate", NULL);
	ck_assert_int_eq(ttl.type, KV_REPLY_INTEGER);
	ck_assert_int_gt(ttl.integer, 0);
	ck_assert_int_le(ttl.integer, 60);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_redis_live_transaction_with_bad_command_applies_nothing)
{
	struct fixture f;
	fixture_init(&f, 1000000);
	run_cmd(&f, "DEL", "rl:txbad", NULL);
	struct kv_cmd cmds[2] = {
		{.argc = 2, .argv = {"INCR", "rl:txbad"}},
		{.argc = 1, .argv = {"EXPIRE"}}, /* wrong arity: queued error */
	};
	struct seen w = {.s = f.s};
	f.kv.transaction(f.kv.ctx, 2, cmds, on_done, &w);
	loop_until(&f, &w.calls, 2000000);
	ck_assert_int_eq(w.calls, 1);
	ck_assert_int_eq(w.oc, OUTCOME_ERROR);
	ck_assert_int_eq(w.type, KV_REPLY_ERROR);
	ck_assert_str_eq(w.str,
	                 "ERR wrong number of arguments for 'expire' command");
	struct seen get = run_cmd(&f, "GET", "rl:txbad", NULL);
	ck_assert_int_eq(get.type, KV_REPLY_NIL); /* EXECABORT: INCR not run */
	fixture_fini(&f);
}
END_TEST

START_TEST(test_redis_live_timeout_drops_the_connection)
{
	struct fixture f;
	fixture_init(&f, 100000);
	/* A first command connects, so the deadline below measures only the
	 * BLPOP; its own outcome does not matter here. */
	run_cmd(&f, "PING", NULL, NULL);

	/* BLPOP on a key no test creates holds the reply for 0.4 s, past the
	 * 100 ms deadline. */
	struct seen slow = {.s = f.s};
	struct kv_cmd blpop = cmd3("BLPOP", "rl:never-created", "0.4");
	uint64_t t0 = sched_now_us(f.s);
	f.kv.command(f.kv.ctx, &blpop, on_done, &slow);
	/* Queued behind it on the same connection. */
	struct seen after = {.s = f.s};
	struct kv_cmd ping = cmd3("PING", NULL, NULL);
	f.kv.command(f.kv.ctx, &ping, on_done, &after);

	loop_until(&f, &slow.calls, 1000000);
	ck_assert_int_eq(slow.calls, 1);
	ck_assert_int_eq(slow.oc, OUTCOME_TIMEOUT);
	ck_assert(!slow.had_reply);
	ck_assert_uint_ge(slow.at_us - t0, 100000);
	ck_assert_uint_lt(slow.at_us - t0, 350000);

	/* The connection went with the deadline: the PING behind the BLPOP
	 * is lost with it, at once rather than at its own deadline. */
	loop_until(&f, &after.calls, 1000000);
	ck_assert_int_eq(after.calls, 1);
	ck_assert_int_eq(after.oc, OUTCOME_CONN_LOST);
	ck_assert_uint_lt(after.at_us - t0, 190000);

	/* No reply arrives later on a closed connection; the next command
	 * opens a new one and gets its own reply. */
	loop_for(&f, 450000);
	ck_assert_uint_eq(redis_live_late_replies(f.rl), 0);
	ck_assert_int_eq(slow.calls, 1);
	ck_assert_int_eq(after.calls, 1);
	struct seen echo = run_cmd(&f, "ECHO", "mine", NULL);
	ck_assert_int_eq(echo.oc, OUTCOME_OK);
	ck_assert_str_eq(echo.str, "mine");
	ck_assert_uint_eq(redis_live_connects(f.rl), 2);
	fixture_fini(&f);
}
END_TEST

/* ---- a server that loses a command --------------------------------------
 * Answers ECHO with its argument, except an ECHO of "lost", which it
 * swallows, as a link that drops bytes (a black hole, a proxy's timeout
 * toxic) does. One client at a time; commands as RESP arrays of bulks. */

#define SWALLOW_BUF_MAX 4096

struct swallower {
	int lfd;
	int cfd;
	struct event *on_accept;
	struct event *on_read;
	char buf[SWALLOW_BUF_MAX];
	size_t len;
	int accepted;
	int swallowed;
};

/* Length of one complete command at b (its last argument in *arg, *arglen),
 * or 0 while it is incomplete. */
static size_t resp_command(const char *b, size_t n, const char **arg, size_t *arglen)
{
	const char *end = b + n, *p = b;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || *p != '*')
		return 0;
	long argc = strtol(p + 1, NULL, 10);
	p = nl + 1;
	for (long i = 0; i < argc; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return 0;
		long l = strtol(p + 1, NULL, 10);
		p = nl + 1;
		if (end - p < l + 2)
			return 0;
		*arg = p;
		*arglen = (size_t)l;
		p += l + 2;
	}
	return (size_t)(p - b);
}

static void swallower_read(evutil_socket_t fd, short what, void *arg)
{
	struct swallower *w = arg;
	(void)what;
	ssize_t got = read(fd, w->buf + w->len, sizeof w->buf - w->len);
	if (got <= 0) {
		event_free(w->on_read);
		w->on_read = NULL;
		close(w->cfd);
		w->cfd = -1;
		w->len = 0;
		return;
	}
	w->len += (size_t)got;
	const char *a = NULL;
	size_t alen = 0, used;
	while ((used = resp_command(w->buf, w->len, &a, &alen)) > 0) {
		if (alen == 4 && memcmp(a, "lost", 4) == 0) {
			w->swallowed++;
		} else {
			char out[SWALLOW_BUF_MAX];
			int k = snprintf(out, sizeof out, "$%zu\r\n%.*s\r\n", alen, (int)alen, a);
			ck_assert_int_eq(write(fd, out, (size_t)k), k);
		}
		memmove(w->buf, w->buf + used, w->len - used);
		w->len -= used;
	}
}

static void swallower_accept(evutil_socket_t fd, short what, void *arg)
{
	struct swallower *w = arg;
	(void)what;
	int c = accept(fd, NULL, NULL);
	if (c < 0)
		return;
	if (w->on_read != NULL) { /* a new client replaces the old one */
		event_free(w->on_read);
		close(w->cfd);
	}
	w->accepted++;
	w->cfd = c;
	w->len = 0;
	w->on_read = event_new(event_get_base(w->on_accept), c, EV_READ | EV_PERSIST, swallower_read, w);
	event_add(w->on_read, NULL);
}

static int swallower_start(struct swallower *w, struct event_base *base)
{
	memset(w, 0, sizeof *w);
	w->cfd = -1;
	w->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(w->lfd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(w->lfd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(w->lfd, 4), 0);
	socklen_t alen = sizeof a;
	ck_assert_int_eq(getsockname(w->lfd, (struct sockaddr *)&a, &alen), 0);
	w->on_accept = event_new(base, w->lfd, EV_READ | EV_PERSIST, swallower_accept, w);
	event_add(w->on_accept, NULL);
	return ntohs(a.sin_port);
}

static void swallower_stop(struct swallower *w)
{
	if (w->on_read != NULL) {
		event_free(w->on_read);
		close(w->cfd);
	}
	event_free(w->on_accept);
	close(w->lfd);
}

START_TEST(test_redis_live_lost_command_does_not_shift_replies)
{
	struct fixture f;
	/* The swallower runs on the fixture's loop, so the adapter is made
	 * again once its port is known (creating one does not connect). */
	fixture_init_url(&f, "redis://127.0.0.1:1", 100000);
	struct swallower w;
	int port = swallower_start(&w, f.base);
	char url[64], err[128];
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	redis_live_destroy(f.rl);
	f.rl = redis_live_create(f.base, f.s, url, 100000, err, sizeof err);
	ck_assert_msg(f.rl != NULL, "redis_live_create: %s", err);
	redis_live_port(f.rl, &f.kv);

	struct seen first = run_cmd(&f, "ECHO", "first", NULL);
	ck_assert_int_eq(first.oc, OUTCOME_OK);
	ck_assert_str_eq(first.str, "first");

	struct seen lost = run_cmd(&f, "ECHO", "lost", NULL);
	ck_assert_int_eq(lost.oc, OUTCOME_TIMEOUT);
	ck_assert_int_eq(w.swallowed, 1);

	/* Each later command gets its own reply, not the one of the command
	 * sent after it. */
	const char *words[] = {"mine", "yours", "theirs"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		struct seen e = run_cmd(&f, "ECHO", words[i], NULL);
		ck_assert_int_eq(e.oc, OUTCOME_OK);
		ck_assert_str_eq(e.str, words[i]);
	}
	ck_assert_int_eq(w.accepted, 2);
	redis_live_destroy(f.rl);
	f.rl = NULL;
	swallower_stop(&w);
	sched_destroy(f.s);
	event_base_free(f.base);
}
END_TEST

/* A loopback port with nothing listening on it. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(test_redis_live_refused_connection_is_conn_lost)
{
	char url[64];
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", closed_port());
	struct fixture f;
	fixture_init_url(&f, url, 500000);
	struct seen w = run_cmd(&f, "PING", NULL, NULL);
	ck_assert_int_eq(w.oc, OUTCOME_CONN_LOST);
	ck_assert(!w.had_reply);
	ck_assert_uint_lt(w.at_us, 400000); /* refused, not timed out */
	/* Within the reconnect gap the next command fails fast, no attempt. */
	w = run_cmd(&f, "PING", NULL, NULL);
	ck_assert_int_eq(w.oc, OUTCOME_CONN_LOST);
	ck_assert_uint_eq(redis_live_connects(f.rl), 1);
	fixture_fini(&f);
}
END_TEST

/* Kills every other client connection through a separate blocking client. */
static void kill_other_clients(void)
{
	const char *url = getenv("FAULTLINE_REDIS_URL");
	const char *port = strrchr(url, ':');
	ck_assert_ptr_nonnull(port);
	redisContext *c = redisConnect("127.0.0.1", atoi(port + 1));
	ck_assert(c != NULL && c->err == 0);
	redisReply *r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_int_ge(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
}

START_TEST(test_redis_live_killed_connection_fails_pending_then_reconnects)
{
	struct fixture f;
	fixture_init(&f, 3000000);
	run_cmd(&f, "DEL", "rl:never", NULL);
	struct seen blocked = {.s = f.s};
	struct kv_cmd blpop = cmd3("BLPOP", "rl:never", "2");
	f.kv.command(f.kv.ctx, &blpop, on_done, &blocked);
	loop_for(&f, 50000); /* sent, now blocked in the server */
	ck_assert_int_eq(blocked.calls, 0);

	kill_other_clients();
	loop_until(&f, &blocked.calls, 1000000);
	ck_assert_int_eq(blocked.calls, 1);
	ck_assert_int_eq(blocked.oc, OUTCOME_CONN_LOST);
	ck_assert_uint_lt(blocked.at_us, 1500000);

	struct seen w = run_cmd(&f, "PING", NULL, NULL);
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	ck_assert_str_eq(w.str, "PONG");
	ck_assert_uint_eq(redis_live_connects(f.rl), 2);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_redis_live_reply_past_limit_is_error)
{
	struct fixture f;
	fixture_init(&f, 2000000);
	size_t n = REDIS_LIVE_REPLY_BYTES_MAX + 1;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	big[n] = '\0';
	struct seen w = run_cmd(&f, "SET", "rl:big", big);
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	free(big);
	w = run_cmd(&f, "GET", "rl:big", NULL);
	ck_assert_int_eq(w.oc, OUTCOME_ERROR);
	ck_assert_str_eq(w.str, "ERR faultline: reply exceeds limits");
	run_cmd(&f, "DEL", "rl:big", NULL);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_redis_live_rejects_bad_url)
{
	struct event_base *base = sched_base_new(SCHED_REAL);
	struct sched *s = sched_create(base, SCHED_REAL, NULL);
	char err[128] = "";
	ck_assert_ptr_null(redis_live_create(base, s, "http://127.0.0.1:6379",
	                                     1000, err, sizeof err));
	ck_assert_str_eq(err, "bad Redis URL: want redis://HOST[:PORT]");
	ck_assert_ptr_null(redis_live_create(base, s, "redis://127.0.0.1:70000",
	                                     1000, err, sizeof err));
	ck_assert_ptr_null(redis_live_create(base, s, "redis://:6379", 1000, err,
	                                     sizeof err));
	struct redis_live *rl = redis_live_create(base, s, "redis://[::1]:7000/",
	                                          1000, err, sizeof err);
	ck_assert_ptr_nonnull(rl);
	redis_live_destroy(rl);
	redis_live_destroy(NULL);
	sched_destroy(s);
	event_base_free(base);
}
END_TEST

Suite *check_redis_live_suite(void);
Suite *check_redis_live_suite(void)
{
	Suite *s = suite_create("redis_live");
	TCase *url = tcase_create("url");
	tcase_add_test(url, test_redis_live_rejects_bad_url);
	tcase_add_test(url, test_redis_live_lost_command_does_not_shift_replies);
	suite_add_tcase(s, url);
	const char *only = getenv("CK_RUN_SUITE");
	if (getenv("FAULTLINE_REDIS_URL") == NULL) {
		if (only == NULL || strcmp(only, "redis_live") == 0)
			printf("redis_live: skipped, FAULTLINE_REDIS_URL is not set "
			       "(tests/live_test.sh runs it)\n");
		return s;
	}
	TCase *tc = tcase_create("contract");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_redis_live_set_get_incr_and_nil);
	tcase_add_test(tc, test_redis_live_error_reply_is_outcome_error);
	tcase_add_test(tc, test_redis_live_transaction_returns_exec_array);
	tcase_add_test(tc, test_redis_live_transaction_with_bad_command_applies_nothing);
	tcase_add_test(tc, test_redis_live_reply_past_limit_is_error);
	suite_add_tcase(s, tc);

	TCase *faults = tcase_create("faults");
	tcase_set_timeout(faults, 10);
	tcase_add_test(faults, test_redis_live_timeout_drops_the_connection);
	tcase_add_test(faults, test_redis_live_refused_connection_is_conn_lost);
	tcase_add_test(faults, test_redis_live_killed_connection_fails_pending_then_reconnects);
	suite_add_tcase(s, faults);
	return s;
}
