/* tests/check_resp_wire.c - RESP framing: commands and replies whole, byte
 * by byte and pipelined; malformed and oversized input refused without a
 * crash; random splits of a valid stream give the same frames. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/resp_wire.h"
#include "sim/prng.h"

#define EVENTS_MAX 256

struct event_rec {
	enum resp_status st;
	enum resp_kind kind;
	bool error;
	uint64_t len;
	char name[RESP_NAME_MAX + 1];
};

struct run {
	struct event_rec ev[EVENTS_MAX];
	int n;
	bool bad;
	size_t bad_at; /* bytes accepted before the refusal */
	const char *error;
};

/* Feeds buf in pieces of at most chunk bytes (0: random sizes from rng). */
static void feed(struct resp_parser *p, const void *data, size_t len, size_t chunk,
                 struct prng *rng, struct run *out)
{
	const uint8_t *buf = data;
	size_t off = 0;
	memset(out, 0, sizeof *out);
	int guard = 0;
	while (off <= len && guard++ < 1000000) {
		size_t n = len - off;
		size_t want = chunk ? chunk : 1 + (size_t)prng_below(rng, 7);
		if (n > want)
			n = want;
		size_t piece_off = 0;
		for (;;) {
			size_t used = 0;
			enum resp_status st = resp_parse(p, buf + off + piece_off, n - piece_off, &used);
			piece_off += used;
			ck_assert_uint_le(piece_off, n);
			if (st == RESP_MORE) {
				ck_assert_uint_eq(piece_off, n);
				break;
			}
			if (st == RESP_BAD) {
				out->bad = true;
				out->bad_at = off + piece_off;
				out->error = resp_parser_error(p);
				return;
			}
			ck_assert_int_lt(out->n, EVENTS_MAX);
			const struct resp_frame *f = resp_parser_frame(p);
			struct event_rec *e = &out->ev[out->n++];
			e->st = st;
			e->kind = f->kind;
			e->error = f->error;
			e->len = f->len;
			memcpy(e->name, f->name, sizeof e->name);
		}
		off += n;
		if (off == len)
			break;
	}
}

static void parse_all(enum resp_side side, const char *s, size_t chunk, struct run *out)
{
	struct resp_parser p;
	resp_parser_init(&p, side);
	feed(&p, s, strlen(s), chunk, NULL, out);
}

#define SET_KV "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"

START_TEST(test_resp_command_whole_is_named_then_done)
{
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, SET_KV, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0].st, RESP_NAMED);
	ck_assert_int_eq(r.ev[0].kind, RESP_KIND_COMMAND);
	ck_assert_str_eq(r.ev[0].name, "SET");
	ck_assert_uint_eq(r.ev[0].len, 13); /* "*3\r\n$3\r\nSET\r\n" */
	ck_assert_int_eq(r.ev[1].st, RESP_DONE);
	ck_assert_uint_eq(r.ev[1].len, strlen(SET_KV));
}
END_TEST

START_TEST(test_resp_command_name_is_upper_cased)
{
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, "*3\r\n$6\r\nexpire\r\n$1\r\nk\r\n$2\r\n10\r\n", 4096, &r);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.ev[0].name, "EXPIRE");
}
END_TEST

START_TEST(test_resp_command_byte_by_byte_gives_same_frames)
{
	struct run whole, bytes;
	parse_all(RESP_SIDE_REQUESTS, SET_KV, 4096, &whole);
	parse_all(RESP_SIDE_REQUESTS, SET_KV, 1, &bytes);
	ck_assert_int_eq(bytes.n, whole.n);
	for (int i = 0; i < whole.n; i++) {
		ck_assert_int_eq(bytes.ev[i].st, whole.ev[i].st);
		ck_assert_uint_eq(bytes.ev[i].len, whole.ev[i].len);
		ck_assert_str_eq(bytes.ev[i].name, whole.ev[i].name);
	}
}
END_TEST

START_TEST(test_resp_pipelined_commands_are_split_in_order)
{
	const char *s = SET_KV "*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n"
	                       "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, s, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 6);
	ck_assert_str_eq(r.ev[0].name, "SET");
	ck_assert_str_eq(r.ev[2].name, "EXPIRE");
	ck_assert_str_eq(r.ev[4].name, "GET");
	ck_assert_uint_eq(r.ev[1].len + r.ev[3].len + r.ev[5].len, strlen(s));
	ck_assert_uint_eq(r.ev[5].len, strlen("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
}
END_TEST

START_TEST(test_resp_single_argument_command_is_named_and_done_at_once)
{
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, "*1\r\n$4\r\nPING\r\n", 4096, &r);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0].st, RESP_NAMED);
	ck_assert_str_eq(r.ev[0].name, "PING");
	ck_assert_int_eq(r.ev[1].st, RESP_DONE);
	ck_assert_uint_eq(r.ev[1].len, 14);
}
END_TEST

START_TEST(test_resp_inline_commands_are_named_by_first_token)
{
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, "PING\r\n  set k v\n\"get\" k\r\n", 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 6);
	ck_assert_str_eq(r.ev[0].name, "PING");
	ck_assert_uint_eq(r.ev[1].len, 6);
	ck_assert_str_eq(r.ev[2].name, "SET");
	ck_assert_uint_eq(r.ev[3].len, 10);
	ck_assert_str_eq(r.ev[4].name, "GET");
	ck_assert_uint_eq(r.ev[5].len, 9);
}
END_TEST

START_TEST(test_resp_blank_line_and_star_zero_are_empty_frames)
{
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, "\r\n*0\r\n*-1\r\n", 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 6);
	for (int i = 0; i < 6; i += 2) {
		ck_assert_int_eq(r.ev[i].st, RESP_NAMED);
		ck_assert_int_eq(r.ev[i].kind, RESP_KIND_EMPTY);
		ck_assert_int_eq(r.ev[i + 1].st, RESP_DONE);
	}
	ck_assert_uint_eq(r.ev[1].len, 2);
	ck_assert_uint_eq(r.ev[3].len, 4);
	ck_assert_uint_eq(r.ev[5].len, 5);
}
END_TEST

START_TEST(test_resp_long_first_argument_is_named_at_its_header)
{
	char s[256];
	char arg[100];
	memset(arg, 'A', sizeof arg - 1);
	arg[sizeof arg - 1] = '\0';
	snprintf(s, sizeof s, "*1\r\n$%zu\r\n%s\r\n", strlen(arg), arg);
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, s, 4096, &r);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0].st, RESP_NAMED);
	ck_assert_str_eq(r.ev[0].name, "");
	ck_assert_uint_eq(r.ev[0].len, strlen("*1\r\n$99\r\n"));
	ck_assert_uint_eq(r.ev[1].len, strlen(s));
}
END_TEST

static void expect_bad(enum resp_side side, const char *s, size_t bad_at, const char *why)
{
	struct run r;
	parse_all(side, s, 4096, &r);
	ck_assert_msg(r.bad, "accepted: %s", s);
	ck_assert_uint_eq(r.bad_at, bad_at);
	ck_assert_str_eq(r.error, why);
}

START_TEST(test_resp_malformed_requests_are_refused)
{
	expect_bad(RESP_SIDE_REQUESTS, "*2\r\n:3\r\n", 4, "expected '$' before an argument");
	expect_bad(RESP_SIDE_REQUESTS, "*x\r\n", 1, "malformed length or count");
	expect_bad(RESP_SIDE_REQUESTS, "*\r\n", 1, "malformed length or count");
	expect_bad(RESP_SIDE_REQUESTS, "*1\r\n$3\r\nSETxx", 11, "expected CRLF after bulk data");
	expect_bad(RESP_SIDE_REQUESTS, "*1\r\n$-3\r\n", 8, "invalid bulk length");
	expect_bad(RESP_SIDE_REQUESTS, "*1\r\n$3\rX", 7, "expected LF after CR");
	expect_bad(RESP_SIDE_REQUESTS, "\"get k\n", 6, "unbalanced quotes in inline command");
}
END_TEST

START_TEST(test_resp_oversized_requests_are_refused)
{
	expect_bad(RESP_SIDE_REQUESTS, "*2000000\r\n", 9, "invalid multibulk length");
	expect_bad(RESP_SIDE_REQUESTS, "*1\r\n$600000000\r\n", 15, "invalid bulk length");
	expect_bad(RESP_SIDE_REQUESTS, "*11111111111111111111\r\n", 20, "number too long");

	size_t n = RESP_INLINE_MAX + 10;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', n);
	big[n] = '\0';
	struct run r;
	parse_all(RESP_SIDE_REQUESTS, big, 4096, &r);
	ck_assert(r.bad);
	ck_assert_uint_eq(r.bad_at, RESP_INLINE_MAX);
	ck_assert_str_eq(r.error, "inline command too long");
	free(big);
}
END_TEST

START_TEST(test_resp_refusal_is_sticky)
{
	struct resp_parser p;
	resp_parser_init(&p, RESP_SIDE_REQUESTS);
	size_t used = 99;
	ck_assert_int_eq(resp_parse(&p, (const uint8_t *)"*z", 2, &used), RESP_BAD);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(resp_parse(&p, (const uint8_t *)SET_KV, strlen(SET_KV), &used), RESP_BAD);
	ck_assert_uint_eq(used, 0);
	ck_assert_ptr_nonnull(resp_parser_error(&p));
}
END_TEST

START_TEST(test_resp_replies_of_every_type_are_framed)
{
	const char *replies[] = {
		"+OK\r\n", "-ERR no\r\n", ":42\r\n", "$3\r\nfoo\r\n", "$0\r\n\r\n", "$-1\r\n",
		"*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n*1\r\n+x\r\n*0\r\n",
		"_\r\n", ",3.14\r\n", "#t\r\n", "(123456789012345678901\r\n", "!3\r\nbad\r\n",
		"=7\r\ntxt:abc\r\n", "%1\r\n+a\r\n:1\r\n", "~2\r\n:1\r\n:2\r\n",
		"|1\r\n+ttl\r\n:5\r\n+OK\r\n",
	};
	size_t total = 0;
	char all[1024] = "";
	for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
		struct run r;
		parse_all(RESP_SIDE_REPLIES, replies[i], 4096, &r);
		ck_assert_msg(!r.bad, "refused %s: %s", replies[i], r.error);
		ck_assert_int_eq(r.n, 2);
		ck_assert_int_eq(r.ev[0].st, RESP_NAMED);
		ck_assert_int_eq(r.ev[0].kind, RESP_KIND_REPLY);
		ck_assert_int_eq(r.ev[1].st, RESP_DONE);
		ck_assert_uint_eq(r.ev[1].len, strlen(replies[i]));
		ck_assert_int_eq(r.ev[0].error, replies[i][0] == '-' || replies[i][0] == '!');
		total += strlen(replies[i]);
		strcat(all, replies[i]);
	}
	/* The same replies back to back: one frame each, byte by byte too. */
	struct run r;
	parse_all(RESP_SIDE_REPLIES, all, 1, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 2 * (int)(sizeof replies / sizeof replies[0]));
	uint64_t sum = 0;
	for (int i = 1; i < r.n; i += 2)
		sum += r.ev[i].len;
	ck_assert_uint_eq(sum, total);
}
END_TEST

START_TEST(test_resp_push_is_out_of_band)
{
	struct run r;
	parse_all(RESP_SIDE_REPLIES, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n+OK\r\n", 4096, &r);
	ck_assert_int_eq(r.n, 4);
	ck_assert_int_eq(r.ev[0].kind, RESP_KIND_PUSH);
	ck_assert_int_eq(r.ev[2].kind, RESP_KIND_REPLY);
}
END_TEST

START_TEST(test_resp_malformed_replies_are_refused)
{
	expect_bad(RESP_SIDE_REPLIES, "@x\r\n", 0, "unknown reply type");
	expect_bad(RESP_SIDE_REPLIES, "+OK\n", 3, "expected CRLF at end of line");
	expect_bad(RESP_SIDE_REPLIES, "$-2\r\n", 4, "invalid bulk length");
	expect_bad(RESP_SIDE_REPLIES, "*-2\r\n", 4, "invalid aggregate length");
	expect_bad(RESP_SIDE_REPLIES, "$3\r\nfooX", 7, "expected CRLF after bulk data");
	expect_bad(RESP_SIDE_REPLIES, "*4294967297\r\n", 12, "aggregate too long");
	expect_bad(RESP_SIDE_REPLIES, "%2147483649\r\n", 12, "aggregate too long");
}
END_TEST

START_TEST(test_resp_nesting_beyond_depth_max_is_refused)
{
	char s[4 * (RESP_DEPTH_MAX + 2) + 1] = "";
	for (int i = 0; i < RESP_DEPTH_MAX + 1; i++)
		strcat(s, "*1\r\n");
	struct run r;
	parse_all(RESP_SIDE_REPLIES, s, 4096, &r);
	ck_assert(r.bad);
	ck_assert_str_eq(r.error, "aggregates nested too deep");

	/* Exactly RESP_DEPTH_MAX levels is fine. */
	char ok[4 * RESP_DEPTH_MAX + 8] = "";
	for (int i = 0; i < RESP_DEPTH_MAX; i++)
		strcat(ok, "*1\r\n");
	strcat(ok, ":1\r\n");
	parse_all(RESP_SIDE_REPLIES, ok, 4096, &r);
	ck_assert(!r.bad);
	ck_assert_int_eq(r.n, 2);
	ck_assert_uint_eq(r.ev[1].len, strlen(ok));
}
END_TEST

/* A random stream of valid commands, split at random points, gives the
 * same frames as the whole stream. The loop index is the seed. */
START_TEST(test_resp_random_splits_give_same_frames)
{
	struct prng rng;
	prng_init(&rng, (uint64_t)_i);
	static const char *names[] = {"SET", "get", "EXPIRE", "incr", "MULTI", "EXEC"};
	char stream[8192];
	size_t len = 0;
	int ncmds = 1 + (int)prng_below(&rng, 20);
	for (int c = 0; c < ncmds; c++) {
		int nargs = 1 + (int)prng_below(&rng, 4);
		len += (size_t)snprintf(stream + len, sizeof stream - len, "*%d\r\n", nargs);
		for (int a = 0; a < nargs; a++) {
			const char *arg = a == 0 ? names[prng_below(&rng, 6)] : "value\r\nwith crlf";
			len += (size_t)snprintf(stream + len, sizeof stream - len, "$%zu\r\n%s\r\n",
			                        strlen(arg), arg);
		}
	}
	struct resp_parser p;
	struct run whole, split;
	resp_parser_init(&p, RESP_SIDE_REQUESTS);
	feed(&p, stream, len, len, NULL, &whole);
	resp_parser_init(&p, RESP_SIDE_REQUESTS);
	feed(&p, stream, len, 0, &rng, &split);
	ck_assert(!whole.bad);
	ck_assert(!split.bad);
	ck_assert_int_eq(whole.n, 2 * ncmds);
	ck_assert_int_eq(split.n, whole.n);
	for (int i = 0; i < whole.n; i++) {
		ck_assert_int_eq(split.ev[i].st, whole.ev[i].st);
		ck_assert_uint_eq(split.ev[i].len, whole.ev[i].len);
		ck_assert_str_eq(split.ev[i].name, whole.ev[i].name);
	}
}
END_TEST

/* Random bytes never crash the parser, and it never reads past len. */
START_TEST(test_resp_random_bytes_never_crash)
{
	struct prng rng;
	prng_init(&rng, 1000 + (uint64_t)_i);
	uint8_t buf[512];
	static const uint8_t alphabet[] = "*$+-:\r\n0123456789-%|>~_,#(!=abc ";
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = prng_below(&rng, 4) == 0 ? (uint8_t)prng_next(&rng)
		                                   : alphabet[prng_below(&rng, sizeof alphabet - 1)];
	for (int side = 0; side < 2; side++) {
		struct resp_parser p;
		resp_parser_init(&p, side == 0 ? RESP_SIDE_REQUESTS : RESP_SIDE_REPLIES);
		struct run r;
		feed(&p, buf, sizeof buf, 0, &rng, &r);
		if (r.bad)
			ck_assert_uint_le(r.bad_at, sizeof buf);
	}
}
END_TEST

Suite *check_resp_wire_suite(void);
Suite *check_resp_wire_suite(void)
{
	Suite *s = suite_create("resp_wire");
	TCase *tc = tcase_create("requests");
	tcase_add_test(tc, test_resp_command_whole_is_named_then_done);
	tcase_add_test(tc, test_resp_command_name_is_upper_cased);
	tcase_add_test(tc, test_resp_command_byte_by_byte_gives_same_frames);
	tcase_add_test(tc, test_resp_pipelined_commands_are_split_in_order);
	tcase_add_test(tc, test_resp_single_argument_command_is_named_and_done_at_once);
	tcase_add_test(tc, test_resp_inline_commands_are_named_by_first_token);
	tcase_add_test(tc, test_resp_blank_line_and_star_zero_are_empty_frames);
	tcase_add_test(tc, test_resp_long_first_argument_is_named_at_its_header);
	suite_add_tcase(s, tc);
	tc = tcase_create("replies");
	tcase_add_test(tc, test_resp_replies_of_every_type_are_framed);
	tcase_add_test(tc, test_resp_push_is_out_of_band);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_test(tc, test_resp_malformed_requests_are_refused);
	tcase_add_test(tc, test_resp_oversized_requests_are_refused);
	tcase_add_test(tc, test_resp_refusal_is_sticky);
	tcase_add_test(tc, test_resp_malformed_replies_are_refused);
	tcase_add_test(tc, test_resp_nesting_beyond_depth_max_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("random");
	tcase_add_loop_test(tc, test_resp_random_splits_give_same_frames, 0, 50);
	tcase_add_loop_test(tc, test_resp_random_bytes_never_crash, 0, 50);
	suite_add_tcase(s, tc);
	return s;
}
