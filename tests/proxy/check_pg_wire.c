/* tests/check_pg_wire.c - PostgreSQL framing: startup packets, simple and
 * extended query units, prepared statement names, backend messages; whole,
 * byte by byte and pipelined; malformed and oversized input refused; random
 * splits give the same units; the answers the proxy writes itself. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pg_wire.h"
#include "sim/prng.h"

#define WIRE_MAX (1u << 20)
#define EVENTS_MAX 256

struct wire {
	uint8_t *b;
	size_t len;
};

static void wire_init(struct wire *w)
{
	w->b = malloc(WIRE_MAX);
	ck_assert_ptr_nonnull(w->b);
	w->len = 0;
}

static void put32(struct wire *w, uint32_t v)
{
	ck_assert_uint_le(w->len + 4, WIRE_MAX);
	w->b[w->len++] = (uint8_t)(v >> 24);
	w->b[w->len++] = (uint8_t)(v >> 16);
	w->b[w->len++] = (uint8_t)(v >> 8);
	w->b[w->len++] = (uint8_t)v;
}

static void put(struct wire *w, const void *data, size_t n)
{
	ck_assert_uint_le(w->len + n, WIRE_MAX);
	memcpy(w->b + w->len, data, n);
	w->len += n;
}

static void putstr(struct wire *w, const char *s)
{
	put(w, s, strlen(s) + 1);
}

/* A typed message: type, then body built by the caller between begin/end. */
static size_t msg_begin(struct wire *w, char type)
{
	put(w, &type, 1);
	size_t at = w->len;
	put32(w, 0);
	return at;
}

static void msg_end(struct wire *w, size_t at)
{
	uint32_t len = (uint32_t)(w->len - at);
	w->b[at] = (uint8_t)(len >> 24);
	w->b[at + 1] = (uint8_t)(len >> 16);
	w->b[at + 2] = (uint8_t)(len >> 8);
	w->b[at + 3] = (uint8_t)len;
}

static void startup(struct wire *w)
{
	size_t at = w->len;
	put32(w, 0);
	put32(w, 196608);
	putstr(w, "user");
	putstr(w, "faultline");
	putstr(w, "database");
	putstr(w, "faultline");
	put(w, "", 1);
	uint32_t len = (uint32_t)(w->len - at);
	w->b[at] = (uint8_t)(len >> 24);
	w->b[at + 1] = (uint8_t)(len >> 16);
	w->b[at + 2] = (uint8_t)(len >> 8);
	w->b[at + 3] = (uint8_t)len;
}

static void ssl_request(struct wire *w)
{
	put32(w, 8);
	put32(w, 80877103);
}

static void query(struct wire *w, const char *sql)
{
	size_t at = msg_begin(w, 'Q');
	putstr(w, sql);
	msg_end(w, at);
}

static void parse_msg(struct wire *w, const char *name, const char *sql)
{
	size_t at = msg_begin(w, 'P');
	putstr(w, name);
	putstr(w, sql);
	uint8_t zero[2] = {0, 0};
	put(w, zero, 2);
	msg_end(w, at);
}

static void bind_msg(struct wire *w, const char *portal, const char *stmt)
{
	size_t at = msg_begin(w, 'B');
	putstr(w, portal);
	putstr(w, stmt);
	uint8_t zeros[6] = {0};
	put(w, zeros, 6);
	msg_end(w, at);
}

static void simple_msg(struct wire *w, char type)
{
	size_t at = msg_begin(w, type);
	msg_end(w, at);
}

static void describe_execute(struct wire *w)
{
	size_t at = msg_begin(w, 'D');
	put(w, "P", 1);
	putstr(w, "");
	msg_end(w, at);
	at = msg_begin(w, 'E');
	putstr(w, "");
	put32(w, 0);
	msg_end(w, at);
}

struct rec {
	enum pg_wire_status st;
	enum pg_wire_kind kind;
	bool expects_reply;
	uint8_t type;
	char txn;
	uint64_t len;
	char keyword[PG_WIRE_KEYWORD_MAX + 1];
	char statement[PG_WIRE_NAME_MAX + 1];
};

struct run {
	struct rec ev[EVENTS_MAX];
	int n;
	bool bad;
	size_t bad_at;
	const char *error;
};

static void feed(struct pg_wire_parser *p, const uint8_t *buf, size_t len, size_t chunk,
                 struct prng *rng, struct run *out)
{
	memset(out, 0, sizeof *out);
	size_t off = 0;
	while (off < len) {
		size_t n = len - off;
		size_t want = chunk ? chunk : 1 + (size_t)prng_below(rng, 9);
		if (n > want)
			n = want;
		size_t po = 0;
		for (;;) {
			size_t used = 0;
			enum pg_wire_status st = pg_wire_parse(p, buf + off + po, n - po, &used);
			po += used;
			ck_assert_uint_le(po, n);
			if (st == PG_WIRE_MORE) {
				ck_assert_uint_eq(po, n);
				break;
			}
			if (st == PG_WIRE_BAD) {
				out->bad = true;
				out->bad_at = off + po;
				out->error = pg_wire_error(p);
				return;
			}
			ck_assert_int_lt(out->n, EVENTS_MAX);
			const struct pg_wire_frame *f = pg_wire_frame(p);
			struct rec *r = &out->ev[out->n++];
			r->st = st;
			r->kind = f->kind;
			r->expects_reply = f->expects_reply;
			r->type = f->type;
			r->txn = f->txn_status;
			r->len = f->len;
			memcpy(r->keyword, f->keyword, sizeof r->keyword);
			memcpy(r->statement, f->statement, sizeof r->statement);
		}
		off += n;
	}
	/* A DONE may still be due right after the last NAMED. */
	size_t used = 0;
	if (out->n > 0 && out->ev[out->n - 1].st == PG_WIRE_NAMED &&
	    pg_wire_parse(p, buf, 0, &used) == PG_WIRE_DONE) {
		const struct pg_wire_frame *f = pg_wire_frame(p);
		struct rec *r = &out->ev[out->n++];
		memset(r, 0, sizeof *r);
		r->st = PG_WIRE_DONE;
		r->kind = f->kind;
		r->txn = f->txn_status;
		r->len = f->len;
	}
}

static void front(const struct wire *w, size_t chunk, struct run *out)
{
	struct pg_wire_parser p;
	pg_wire_init(&p, PG_WIRE_FRONTEND, false);
	feed(&p, w->b, w->len, chunk, NULL, out);
}

START_TEST(test_pg_startup_then_query_are_units_expecting_replies)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	size_t startup_len = w.len;
	query(&w, "select 1");
	struct run r;
	front(&w, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 4);
	ck_assert_int_eq(r.ev[0].st, PG_WIRE_NAMED);
	ck_assert_int_eq(r.ev[0].kind, PG_KIND_STARTUP);
	ck_assert(r.ev[0].expects_reply);
	ck_assert_int_eq(r.ev[1].st, PG_WIRE_DONE);
	ck_assert_uint_eq(r.ev[1].len, startup_len);
	ck_assert_int_eq(r.ev[2].st, PG_WIRE_NAMED);
	ck_assert_int_eq(r.ev[2].kind, PG_KIND_QUERY);
	ck_assert(r.ev[2].expects_reply);
	ck_assert_str_eq(r.ev[2].keyword, "SELECT");
	ck_assert_int_eq(r.ev[3].st, PG_WIRE_DONE);
	ck_assert_uint_eq(r.ev[3].len, w.len - startup_len);
	free(w.b);
}
END_TEST

START_TEST(test_pg_ssl_request_is_a_unit_of_its_own_before_startup)
{
	struct wire w;
	wire_init(&w);
	ssl_request(&w);
	startup(&w);
	struct run r;
	front(&w, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 4);
	ck_assert_int_eq(r.ev[0].kind, PG_KIND_SSL_REQUEST);
	ck_assert(!r.ev[0].expects_reply);
	ck_assert_uint_eq(r.ev[1].len, 8);
	ck_assert_int_eq(r.ev[2].kind, PG_KIND_STARTUP);
	free(w.b);
}
END_TEST

START_TEST(test_pg_cancel_request_expects_no_reply)
{
	struct wire w;
	wire_init(&w);
	put32(&w, 16);
	put32(&w, 80877102);
	put32(&w, 1234);
	put32(&w, 5678);
	struct run r;
	front(&w, 4096, &r);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0].kind, PG_KIND_CANCEL);
	ck_assert(!r.ev[0].expects_reply);
	ck_assert_uint_eq(r.ev[1].len, 16);
	free(w.b);
}
END_TEST

START_TEST(test_pg_query_keyword_skips_blanks_comments_and_parens)
{
	static const struct {
		const char *sql;
		const char *kw;
	} cases[] = {
		{"COMMIT", "COMMIT"},
		{"  \n\tcommit;", "COMMIT"},
		{"-- why\n/* block ** */ (select 1) union select 2", "SELECT"},
		{"insert into t values (1)", "INSERT"},
		{"", ""},
		{"123", ""},
		{"- 1", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct wire w;
		wire_init(&w);
		startup(&w);
		query(&w, cases[i].sql);
		struct run r;
		front(&w, 4096, &r);
		ck_assert(!r.bad);
		ck_assert_int_eq(r.n, 4);
		ck_assert_msg(strcmp(r.ev[2].keyword, cases[i].kw) == 0, "%s -> '%s'", cases[i].sql,
		              r.ev[2].keyword);
		free(w.b);
	}
}
END_TEST

START_TEST(test_pg_keyword_longer_than_max_is_unknown)
{
	char sql[PG_WIRE_KEYWORD_MAX + 10];
	memset(sql, 'x', sizeof sql - 1);
	sql[sizeof sql - 1] = '\0';
	struct wire w;
	wire_init(&w);
	startup(&w);
	query(&w, sql);
	struct run r;
	front(&w, 4096, &r);
	ck_assert_int_eq(r.n, 4);
	ck_assert_str_eq(r.ev[2].keyword, "");
	free(w.b);
}
END_TEST

START_TEST(test_pg_extended_batch_is_one_unit_named_at_bind)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	size_t start = w.len;
	parse_msg(&w, "", "insert into t values ($1)");
	size_t before_bind = w.len;
	bind_msg(&w, "", "");
	describe_execute(&w);
	simple_msg(&w, 'S');
	struct run r;
	front(&w, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 4);
	ck_assert_int_eq(r.ev[2].st, PG_WIRE_NAMED);
	ck_assert_int_eq(r.ev[2].kind, PG_KIND_EXTENDED);
	ck_assert(r.ev[2].expects_reply);
	ck_assert_int_eq(r.ev[2].type, 'P');
	ck_assert_str_eq(r.ev[2].keyword, "INSERT");
	ck_assert_str_eq(r.ev[2].statement, "");
	/* Named as soon as Bind named its statement: type, length, "", "". */
	ck_assert_uint_eq(r.ev[2].len, before_bind - start + 5 + 2);
	ck_assert_int_eq(r.ev[3].st, PG_WIRE_DONE);
	ck_assert_uint_eq(r.ev[3].len, w.len - start);
	free(w.b);
}
END_TEST

START_TEST(test_pg_prepared_statement_is_named_by_name_and_keyword)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	parse_msg(&w, "customer_insert", "INSERT INTO stripe_customers VALUES ($1, $2)");
	simple_msg(&w, 'S');
	bind_msg(&w, "", "customer_insert");
	describe_execute(&w);
	simple_msg(&w, 'S');
	struct pg_wire_parser p;
	pg_wire_init(&p, PG_WIRE_FRONTEND, false);
	struct run r;
	feed(&p, w.b, w.len, 4096, NULL, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 6);
	ck_assert_str_eq(r.ev[2].keyword, "INSERT"); /* the Parse batch, named at Sync */
	ck_assert_str_eq(r.ev[4].keyword, "INSERT");
	ck_assert_str_eq(r.ev[4].statement, "customer_insert");
	ck_assert_str_eq(pg_wire_statement_keyword(&p, "customer_insert"), "INSERT");
	ck_assert_ptr_null(pg_wire_statement_keyword(&p, "nope"));
	free(w.b);
}
END_TEST

START_TEST(test_pg_close_forgets_a_statement)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	parse_msg(&w, "s1", "commit");
	size_t at = msg_begin(&w, 'C');
	put(&w, "S", 1);
	putstr(&w, "s1");
	msg_end(&w, at);
	simple_msg(&w, 'S');
	struct pg_wire_parser p;
	pg_wire_init(&p, PG_WIRE_FRONTEND, false);
	struct run r;
	feed(&p, w.b, w.len, 4096, NULL, &r);
	ck_assert(!r.bad);
	ck_assert_ptr_null(pg_wire_statement_keyword(&p, "s1"));
	free(w.b);
}
END_TEST

START_TEST(test_pg_statement_table_is_bounded)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	for (int i = 0; i < PG_WIRE_STMTS_MAX + 8; i++) {
		char name[16];
		snprintf(name, sizeof name, "s%d", i);
		parse_msg(&w, name, i % 2 ? "select 1" : "update t set x = 1");
		simple_msg(&w, 'S');
	}
	struct pg_wire_parser p;
	pg_wire_init(&p, PG_WIRE_FRONTEND, false);
	struct run r;
	feed(&p, w.b, w.len, 4096, NULL, &r);
	ck_assert(!r.bad);
	ck_assert_ptr_null(pg_wire_statement_keyword(&p, "s0"));
	ck_assert_str_eq(pg_wire_statement_keyword(&p, "s39"), "SELECT");
	ck_assert_str_eq(pg_wire_statement_keyword(&p, "s38"), "UPDATE");
	free(w.b);
}
END_TEST

START_TEST(test_pg_flush_names_a_batch_that_ends_at_sync)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	size_t start = w.len;
	parse_msg(&w, "", "begin");
	simple_msg(&w, 'H');
	size_t named_at = w.len;
	simple_msg(&w, 'S');
	struct run r;
	front(&w, 4096, &r);
	ck_assert_int_eq(r.n, 4);
	ck_assert_str_eq(r.ev[2].keyword, "BEGIN");
	ck_assert_uint_eq(r.ev[2].len, named_at - start);
	ck_assert_uint_eq(r.ev[3].len, w.len - start);
	free(w.b);
}
END_TEST

START_TEST(test_pg_terminate_and_copy_data_expect_no_reply)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	size_t at = msg_begin(&w, 'd');
	put(&w, "1\t2\n", 4);
	msg_end(&w, at);
	simple_msg(&w, 'c');
	simple_msg(&w, 'X');
	struct run r;
	front(&w, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 8);
	for (int i = 2; i < 8; i += 2) {
		ck_assert_int_eq(r.ev[i].kind, PG_KIND_OTHER);
		ck_assert(!r.ev[i].expects_reply);
	}
	ck_assert_int_eq(r.ev[6].type, 'X');
	free(w.b);
}
END_TEST

static void session(struct wire *w)
{
	startup(w);
	query(w, "BEGIN");
	parse_msg(w, "ins", "insert into t values ($1)");
	bind_msg(w, "", "ins");
	describe_execute(w);
	simple_msg(w, 'S');
	query(w, "/* c */ COMMIT");
	simple_msg(w, 'X');
}

START_TEST(test_pg_pipelined_session_byte_by_byte_matches_whole)
{
	struct wire w;
	wire_init(&w);
	session(&w);
	struct run whole, bytes;
	front(&w, w.len, &whole);
	front(&w, 1, &bytes);
	ck_assert(!whole.bad);
	ck_assert_int_eq(whole.n, 10);
	ck_assert_str_eq(whole.ev[2].keyword, "BEGIN");
	ck_assert_str_eq(whole.ev[4].keyword, "INSERT");
	ck_assert_str_eq(whole.ev[4].statement, "ins");
	ck_assert_str_eq(whole.ev[6].keyword, "COMMIT");
	ck_assert_int_eq(whole.ev[8].kind, PG_KIND_OTHER);
	ck_assert_int_eq(bytes.n, whole.n);
	uint64_t sum = 0;
	for (int i = 0; i < whole.n; i++) {
		ck_assert_int_eq(bytes.ev[i].st, whole.ev[i].st);
		ck_assert_uint_eq(bytes.ev[i].len, whole.ev[i].len);
		ck_assert_str_eq(bytes.ev[i].keyword, whole.ev[i].keyword);
		if (whole.ev[i].st == PG_WIRE_DONE)
			sum += whole.ev[i].len;
	}
	ck_assert_uint_eq(sum, w.len);
	free(w.b);
}
END_TEST

START_TEST(test_pg_after_startup_mode_reads_typed_messages_at_once)
{
	struct wire w;
	wire_init(&w);
	query(&w, "rollback");
	struct pg_wire_parser p;
	pg_wire_init(&p, PG_WIRE_FRONTEND, true);
	struct run r;
	feed(&p, w.b, w.len, 4096, NULL, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.ev[0].keyword, "ROLLBACK");
	free(w.b);
}
END_TEST

START_TEST(test_pg_big_batch_is_named_within_hold_max)
{
	struct wire w;
	wire_init(&w);
	startup(&w);
	size_t start = w.len;
	size_t at = msg_begin(&w, 'P');
	putstr(&w, "");
	size_t n = PG_WIRE_HOLD_MAX + 1000;
	ck_assert_uint_lt(w.len + n + 16, WIRE_MAX);
	memcpy(w.b + w.len, "select ", 7);
	memset(w.b + w.len + 7, ' ', n - 7);
	w.len += n;
	put(&w, "", 1);
	uint8_t zero[2] = {0, 0};
	put(&w, zero, 2);
	msg_end(&w, at);
	simple_msg(&w, 'S');
	struct run r;
	front(&w, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 4);
	ck_assert_int_eq(r.ev[2].st, PG_WIRE_NAMED);
	ck_assert_uint_le(r.ev[2].len, PG_WIRE_HOLD_MAX);
	ck_assert_str_eq(r.ev[2].keyword, "");
	ck_assert_uint_eq(r.ev[3].len, w.len - start);
	free(w.b);
}
END_TEST

START_TEST(test_pg_backend_messages_end_replies_at_ready_for_query)
{
	struct wire w;
	wire_init(&w);
	size_t at = msg_begin(&w, 'R');
	put32(&w, 0);
	msg_end(&w, at);
	at = msg_begin(&w, 'C');
	putstr(&w, "COMMIT");
	msg_end(&w, at);
	at = msg_begin(&w, 'Z');
	put(&w, "T", 1);
	msg_end(&w, at);
	for (size_t chunk = 1; chunk <= 4096; chunk *= 4096) {
		struct pg_wire_parser p;
		pg_wire_init(&p, PG_WIRE_BACKEND, false);
		struct run r;
		feed(&p, w.b, w.len, chunk, NULL, &r);
		ck_assert(!r.bad);
		ck_assert_int_eq(r.n, 6);
		ck_assert_int_eq(r.ev[0].type, 'R');
		ck_assert_int_eq(r.ev[2].type, 'C');
		ck_assert_uint_eq(r.ev[3].len, 5 + 7);
		ck_assert_int_eq(r.ev[4].type, 'Z');
		ck_assert_int_eq(r.ev[5].txn, 'T');
	}
	free(w.b);
}
END_TEST

static void expect_bad(enum pg_wire_side side, bool after_startup, const struct wire *w,
                       size_t bad_at, const char *why)
{
	struct pg_wire_parser p;
	pg_wire_init(&p, side, after_startup);
	struct run r;
	feed(&p, w->b, w->len, 4096, NULL, &r);
	ck_assert(r.bad);
	ck_assert_uint_eq(r.bad_at, bad_at);
	ck_assert_str_eq(r.error, why);
	/* Sticky. */
	size_t used = 7;
	ck_assert_int_eq(pg_wire_parse(&p, w->b, w->len, &used), PG_WIRE_BAD);
	ck_assert_uint_eq(used, 0);
}

START_TEST(test_pg_malformed_input_is_refused)
{
	struct wire w;
	wire_init(&w);
	put(&w, "Q", 1);
	put32(&w, 3);
	expect_bad(PG_WIRE_FRONTEND, true, &w, 4, "message length below 4");
	expect_bad(PG_WIRE_BACKEND, false, &w, 4, "message length below 4");

	w.len = 0;
	put32(&w, 8);
	put32(&w, 1234);
	expect_bad(PG_WIRE_FRONTEND, false, &w, 7, "unsupported protocol version");

	w.len = 0;
	put32(&w, 12);
	put32(&w, 80877103);
	put32(&w, 0);
	expect_bad(PG_WIRE_FRONTEND, false, &w, 7, "bad encryption request length");

	w.len = 0;
	put32(&w, 4);
	put32(&w, 196608);
	expect_bad(PG_WIRE_FRONTEND, false, &w, 7, "bad startup packet length");
	free(w.b);
}
END_TEST

START_TEST(test_pg_oversized_input_is_refused)
{
	struct wire w;
	wire_init(&w);
	put(&w, "Q", 1);
	put32(&w, PG_WIRE_MSG_MAX + 5);
	expect_bad(PG_WIRE_FRONTEND, true, &w, 4, "message too long");
	expect_bad(PG_WIRE_BACKEND, false, &w, 4, "message too long");

	w.len = 0;
	put32(&w, PG_WIRE_STARTUP_MAX + 1);
	put32(&w, 196608);
	expect_bad(PG_WIRE_FRONTEND, false, &w, 7, "bad startup packet length");
	free(w.b);
}
END_TEST

START_TEST(test_pg_written_error_and_ready_parse_back)
{
	uint8_t buf[256];
	size_t n = pg_wire_write_error(buf, sizeof buf, "XX000", "injected by faultline");
	ck_assert_uint_eq(n, 1 + 4 + 7 + 7 + 7 + 23 + 1);
	size_t z = pg_wire_write_ready(buf + n, sizeof buf - n, 'E');
	ck_assert_uint_eq(z, 6);
	ck_assert_uint_eq(pg_wire_write_error(buf, 10, "XX000", "too small"), 0);
	ck_assert_uint_eq(pg_wire_write_ready(buf, 5, 'I'), 0);

	struct pg_wire_parser p;
	pg_wire_init(&p, PG_WIRE_BACKEND, false);
	struct run r;
	feed(&p, buf, n + z, 4096, NULL, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 4);
	ck_assert_int_eq(r.ev[0].type, 'E');
	ck_assert_uint_eq(r.ev[1].len, n);
	ck_assert_int_eq(r.ev[2].type, 'Z');
	ck_assert_int_eq(r.ev[3].txn, 'E');
	ck_assert(memmem(buf, n, "C" "XX000", 6) != NULL);
}
END_TEST

START_TEST(test_pg_random_splits_give_same_units)
{
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	struct wire w;
	wire_init(&w);
	startup(&w);
	int units = 1 + (int)prng_below(&rng, 12);
	for (int u = 0; u < units; u++) {
		switch (prng_below(&rng, 3)) {
		case 0:
			query(&w, "select 1");
			break;
		case 1:
			parse_msg(&w, "", "update t set x = $1");
			bind_msg(&w, "", "");
			describe_execute(&w);
			simple_msg(&w, 'S');
			break;
		default:
			simple_msg(&w, 'c');
			break;
		}
	}
	struct pg_wire_parser p;
	struct run whole, split;
	pg_wire_init(&p, PG_WIRE_FRONTEND, false);
	feed(&p, w.b, w.len, w.len, NULL, &whole);
	pg_wire_init(&p, PG_WIRE_FRONTEND, false);
	feed(&p, w.b, w.len, 0, &rng, &split);
	ck_assert(!whole.bad);
	ck_assert_int_eq(whole.n, 2 * (units + 1));
	ck_assert_int_eq(split.n, whole.n);
	for (int i = 0; i < whole.n; i++) {
		ck_assert_int_eq(split.ev[i].st, whole.ev[i].st);
		ck_assert_uint_eq(split.ev[i].len, whole.ev[i].len);
		ck_assert_str_eq(split.ev[i].keyword, whole.ev[i].keyword);
	}
	free(w.b);
}
END_TEST

START_TEST(test_pg_random_bytes_never_crash)
{
	struct prng rng;
	prng_init(&rng, 500 + (uint64_t)_i);
	uint8_t buf[600];
	static const uint8_t alphabet[] = {'Q', 'P', 'B', 'E', 'S', 'Z', 'X', 0, 0, 0, 4, 5, 8,
	                                   'a', ' ', '-', '*', '/'};
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = prng_below(&rng, 3) == 0 ? (uint8_t)prng_next(&rng)
		                                   : alphabet[prng_below(&rng, sizeof alphabet)];
	for (int mode = 0; mode < 3; mode++) {
		struct pg_wire_parser p;
		pg_wire_init(&p, mode == 2 ? PG_WIRE_BACKEND : PG_WIRE_FRONTEND, mode == 1);
		struct run r;
		feed(&p, buf, sizeof buf, 0, &rng, &r);
		if (r.bad)
			ck_assert_uint_le(r.bad_at, sizeof buf);
	}
}
END_TEST

Suite *check_pg_wire_suite(void);
Suite *check_pg_wire_suite(void)
{
	Suite *s = suite_create("pg_wire");
	TCase *tc = tcase_create("frontend");
	tcase_add_test(tc, test_pg_startup_then_query_are_units_expecting_replies);
	tcase_add_test(tc, test_pg_ssl_request_is_a_unit_of_its_own_before_startup);
	tcase_add_test(tc, test_pg_cancel_request_expects_no_reply);
	tcase_add_test(tc, test_pg_query_keyword_skips_blanks_comments_and_parens);
	tcase_add_test(tc, test_pg_keyword_longer_than_max_is_unknown);
	tcase_add_test(tc, test_pg_extended_batch_is_one_unit_named_at_bind);
	tcase_add_test(tc, test_pg_prepared_statement_is_named_by_name_and_keyword);
	tcase_add_test(tc, test_pg_close_forgets_a_statement);
	tcase_add_test(tc, test_pg_statement_table_is_bounded);
	tcase_add_test(tc, test_pg_flush_names_a_batch_that_ends_at_sync);
	tcase_add_test(tc, test_pg_terminate_and_copy_data_expect_no_reply);
	tcase_add_test(tc, test_pg_pipelined_session_byte_by_byte_matches_whole);
	tcase_add_test(tc, test_pg_after_startup_mode_reads_typed_messages_at_once);
	tcase_add_test(tc, test_pg_big_batch_is_named_within_hold_max);
	suite_add_tcase(s, tc);
	tc = tcase_create("backend");
	tcase_add_test(tc, test_pg_backend_messages_end_replies_at_ready_for_query);
	tcase_add_test(tc, test_pg_written_error_and_ready_parse_back);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_test(tc, test_pg_malformed_input_is_refused);
	tcase_add_test(tc, test_pg_oversized_input_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("random");
	tcase_add_loop_test(tc, test_pg_random_splits_give_same_units, 0, 50);
	tcase_add_loop_test(tc, test_pg_random_bytes_never_crash, 0, 50);
	suite_add_tcase(s, tc);
	return s;
}
