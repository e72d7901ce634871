/* tests/check_redis_model.c - the Redis model against the Redis 7 rules the
 * fixes depend on, one rule per test, then a sweep that replays random
 * command sequences against a deliberately naive reference model. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/models/redis_model.h"
#include "sim/prng.h"
#include "tests/support/death.h"

#define MS 1000ULL       /* microseconds in a millisecond */
#define SEC 1000000ULL   /* microseconds in a second */

/* Runs one command given as NULL-terminated strings. */
static struct kv_reply run_v(struct redis_model *m, uint64_t now_us, ...)
{
	struct kv_cmd c = {0};
	va_list ap;
	va_start(ap, now_us);
	for (const char *a = va_arg(ap, const char *); a != NULL;
	     a = va_arg(ap, const char *)) {
		ck_assert_int_lt(c.argc, KV_ARGV_MAX);
		c.argv[c.argc++] = a;
	}
	va_end(ap);
	struct kv_reply r;
	redis_model_exec(m, now_us, &c, &r);
	return r;
}
#define R(m, t, ...) run_v((m), (t), __VA_ARGS__, (const char *)NULL)

static struct kv_cmd cmd_of(const char *a0, const char *a1, const char *a2,
                            const char *a3)
{
	struct kv_cmd c = {0};
	const char *a[4] = {a0, a1, a2, a3};
	for (int i = 0; i < 4 && a[i] != NULL; i++)
		c.argv[c.argc++] = a[i];
	return c;
}

#define EXPECT_INT(expr, v) do { \
	struct kv_reply r_ = (expr); \
	ck_assert_int_eq(r_.type, KV_REPLY_INTEGER); \
	ck_assert_int_eq(r_.integer, (v)); \
} while (0)
#define EXPECT_BULK(expr, s) do { \
	struct kv_reply r_ = (expr); \
	ck_assert_int_eq(r_.type, KV_REPLY_BULK); \
	ck_assert_uint_eq(r_.len, strlen(s)); \
	ck_assert_str_eq(r_.str, (s)); \
} while (0)
#define EXPECT_NIL(expr) ck_assert_int_eq((expr).type, KV_REPLY_NIL)
#define EXPECT_OK(expr) do { \
	struct kv_reply r_ = (expr); \
	ck_assert_int_eq(r_.type, KV_REPLY_STATUS); \
	ck_assert_str_eq(r_.str, "OK"); \
} while (0)
#define EXPECT_ERR(expr, s) do { \
	struct kv_reply r_ = (expr); \
	ck_assert_int_eq(r_.type, KV_REPLY_ERROR); \
	ck_assert_str_eq(r_.str, (s)); \
	ck_assert_uint_eq(r_.len, strlen(s)); \
} while (0)

static const char ERR_SYNTAX[] = "ERR syntax error";
static const char ERR_NOT_INT[] = "ERR value is not an integer or out of range";
static const char ERR_OOM[] =
	"OOM command not allowed when used memory > 'maxmemory'.";
static const char ERR_EXECABORT[] =
	"EXECABORT Transaction discarded because of previous errors.";

static struct redis_model *m;

static void setup(void)
{
	m = redis_model_create();
	ck_assert_ptr_nonnull(m);
}

static void teardown(void)
{
	redis_model_destroy(m);
	m = NULL;
}

/* ---- GET and SET -------------------------------------------------------- */

/* Command names and options match in any case, and only whole. */
START_TEST(test_kv_word_is_ignores_case_only)
{
	ck_assert(kv_word_is("SET", "set"));
	ck_assert(kv_word_is("sEt", "set"));
	ck_assert(kv_word_is("PExpire", "pexpire"));
	ck_assert(!kv_word_is("SE", "set"));
	ck_assert(!kv_word_is("SETX", "set"));
	ck_assert(!kv_word_is("", "set"));
	ck_assert(kv_word_is("", ""));
	ck_assert(!kv_word_is("S\x01T", "set"));
	ck_assert(!kv_word_is("\xc5\xd4", "et")); /* only ASCII letters fold */
}
END_TEST

START_TEST(test_redis_get_missing_key_is_nil)
{
	EXPECT_NIL(R(m, 0, "GET", "nope"));
}
END_TEST

START_TEST(test_redis_set_then_get_returns_value)
{
	EXPECT_OK(R(m, 0, "SET", "k", "hello"));
	EXPECT_BULK(R(m, 0, "GET", "k"), "hello");
	EXPECT_OK(R(m, 0, "SET", "k", "a much longer value than the inline room"));
	EXPECT_BULK(R(m, 0, "GET", "k"), "a much longer value than the inline room");
	EXPECT_OK(R(m, 0, "SET", "k", ""));
	EXPECT_BULK(R(m, 0, "GET", "k"), "");
}
END_TEST

START_TEST(test_redis_set_nx_on_existing_key_returns_nil_and_keeps_value)
{
	EXPECT_OK(R(m, 0, "SET", "k", "first", "NX"));
	EXPECT_NIL(R(m, 0, "SET", "k", "second", "NX"));
	EXPECT_BULK(R(m, 0, "GET", "k"), "first");
}
END_TEST

START_TEST(test_redis_set_xx_on_missing_key_returns_nil)
{
	EXPECT_NIL(R(m, 0, "SET", "k", "v", "XX"));
	EXPECT_NIL(R(m, 0, "GET", "k"));
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_OK(R(m, 0, "SET", "k", "w", "XX"));
	EXPECT_BULK(R(m, 0, "GET", "k"), "w");
}
END_TEST

START_TEST(test_redis_set_nx_succeeds_once_the_key_expired)
{
	EXPECT_OK(R(m, 0, "SET", "lock", "a", "NX", "PX", "50"));
	EXPECT_NIL(R(m, 50 * MS, "SET", "lock", "b", "NX", "PX", "50"));
	EXPECT_OK(R(m, 51 * MS, "SET", "lock", "b", "NX", "PX", "50"));
	EXPECT_BULK(R(m, 51 * MS, "GET", "lock"), "b");
}
END_TEST

START_TEST(test_redis_set_ex_sets_ttl_and_plain_set_clears_it)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v", "EX", "10"));
	EXPECT_INT(R(m, 0, "TTL", "k"), 10);
	EXPECT_INT(R(m, 0, "PTTL", "k"), 10000);
	EXPECT_OK(R(m, 0, "SET", "k", "w"));
	EXPECT_INT(R(m, 0, "TTL", "k"), -1);
	EXPECT_BULK(R(m, 20 * SEC, "GET", "k"), "w");
}
END_TEST

START_TEST(test_redis_set_px_counts_milliseconds)
{
	EXPECT_OK(R(m, 5 * MS, "SET", "k", "v", "PX", "250"));
	EXPECT_INT(R(m, 5 * MS, "PTTL", "k"), 250);
	EXPECT_INT(R(m, 105 * MS, "PTTL", "k"), 150);
}
END_TEST

START_TEST(test_redis_set_keepttl_keeps_ttl)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v", "PX", "5000"));
	EXPECT_OK(R(m, 1000 * MS, "SET", "k", "w", "KEEPTTL"));
	EXPECT_INT(R(m, 1000 * MS, "PTTL", "k"), 4000);
	EXPECT_BULK(R(m, 1000 * MS, "GET", "k"), "w");
}
END_TEST

START_TEST(test_redis_set_exat_reads_model_clock_as_unix_time)
{
	EXPECT_OK(R(m, 2 * SEC, "SET", "k", "v", "EXAT", "5"));
	EXPECT_INT(R(m, 2 * SEC, "PTTL", "k"), 3000);
	EXPECT_OK(R(m, 2 * SEC, "SET", "j", "v", "PXAT", "2500"));
	EXPECT_INT(R(m, 2 * SEC, "PTTL", "j"), 500);
}
END_TEST

START_TEST(test_redis_set_get_returns_old_value)
{
	EXPECT_NIL(R(m, 0, "SET", "k", "one", "GET"));
	EXPECT_BULK(R(m, 0, "SET", "k", "two", "GET"), "one");
	/* With NX the old value comes back and nothing is written. */
	EXPECT_BULK(R(m, 0, "SET", "k", "three", "NX", "GET"), "two");
	EXPECT_BULK(R(m, 0, "GET", "k"), "two");
}
END_TEST

START_TEST(test_redis_set_rejects_conflicting_or_bad_options)
{
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "NX", "XX"), ERR_SYNTAX);
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "EX", "1", "PX", "1"), ERR_SYNTAX);
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "KEEPTTL", "EX", "1"), ERR_SYNTAX);
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "PX", "1", "KEEPTTL"), ERR_SYNTAX);
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "EX"), ERR_SYNTAX);
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "BOGUS"), ERR_SYNTAX);
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "EX", "0"),
	           "ERR invalid expire time in 'set' command");
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "PX", "-5"),
	           "ERR invalid expire time in 'set' command");
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "EX", "9223372036854776"),
	           "ERR invalid expire time in 'set' command");
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "EX", "ten"), ERR_NOT_INT);
	EXPECT_ERR(R(m, 0, "SET", "k", "v", "EX", " 10"), ERR_NOT_INT);
	/* None of them wrote anything. */
	EXPECT_NIL(R(m, 0, "GET", "k"));
	/* Repeating an option is not a conflict in Redis; the last EX wins. */
	EXPECT_OK(R(m, 0, "SET", "k", "v", "NX", "EX", "1", "EX", "7"));
	EXPECT_INT(R(m, 0, "TTL", "k"), 7);
}
END_TEST

/* ---- expiry on the clock ------------------------------------------------ */

/* Redis keeps a key while now (ms) <= its expiry and drops it after. */
START_TEST(test_redis_key_expires_just_after_its_boundary_ms)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v", "PX", "100"));
	EXPECT_BULK(R(m, 99 * MS, "GET", "k"), "v");
	EXPECT_BULK(R(m, 100 * MS, "GET", "k"), "v");
	EXPECT_INT(R(m, 100 * MS + 999, "PTTL", "k"), 0);
	EXPECT_NIL(R(m, 101 * MS, "GET", "k"));
	EXPECT_INT(R(m, 101 * MS, "PTTL", "k"), -2);
	EXPECT_INT(R(m, 101 * MS, "TTL", "k"), -2);
}
END_TEST

START_TEST(test_redis_expired_key_is_invisible_to_every_command)
{
	EXPECT_OK(R(m, 0, "SET", "k", "41", "PX", "10"));
	EXPECT_INT(R(m, 11 * MS, "DEL", "k"), 0);
	EXPECT_OK(R(m, 0, "SET", "k", "41", "PX", "10"));
	EXPECT_INT(R(m, 11 * MS, "EXPIRE", "k", "100"), 0);
	EXPECT_OK(R(m, 11 * MS, "SET", "k", "41", "PX", "10"));
	/* INCR starts over at 1 and without a TTL. */
	EXPECT_INT(R(m, 22 * MS, "INCR", "k"), 1);
	EXPECT_INT(R(m, 22 * MS, "TTL", "k"), -1);
}
END_TEST

START_TEST(test_redis_ttl_rounds_to_nearest_second)
{
	EXPECT_OK(R(m, 0, "SET", "a", "v", "PX", "1499"));
	EXPECT_OK(R(m, 0, "SET", "b", "v", "PX", "1500"));
	EXPECT_OK(R(m, 0, "SET", "c", "v", "PX", "499"));
	EXPECT_INT(R(m, 0, "TTL", "a"), 1);
	EXPECT_INT(R(m, 0, "TTL", "b"), 2);
	EXPECT_INT(R(m, 0, "TTL", "c"), 0);
}
END_TEST

START_TEST(test_redis_ttl_is_minus2_when_missing_minus1_without_ttl)
{
	EXPECT_INT(R(m, 0, "TTL", "k"), -2);
	EXPECT_INT(R(m, 0, "PTTL", "k"), -2);
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "TTL", "k"), -1);
	EXPECT_INT(R(m, 0, "PTTL", "k"), -1);
}
END_TEST

/* ---- INCR ----------------------------------------------------------------- */

START_TEST(test_redis_incr_on_missing_key_starts_at_zero)
{
	EXPECT_INT(R(m, 0, "INCR", "n"), 1);
	EXPECT_INT(R(m, 0, "INCR", "n"), 2);
	EXPECT_BULK(R(m, 0, "GET", "n"), "2");
	EXPECT_OK(R(m, 0, "SET", "n", "-5"));
	EXPECT_INT(R(m, 0, "INCR", "n"), -4);
}
END_TEST

START_TEST(test_redis_incr_keeps_ttl)
{
	EXPECT_INT(R(m, 0, "INCR", "n"), 1);
	EXPECT_INT(R(m, 0, "EXPIRE", "n", "60"), 1);
	EXPECT_INT(R(m, 30 * SEC, "INCR", "n"), 2);
	EXPECT_INT(R(m, 30 * SEC, "TTL", "n"), 30);
	EXPECT_NIL(R(m, 60 * SEC + MS, "GET", "n"));
}
END_TEST

START_TEST(test_redis_incr_rejects_non_integers)
{
	const char *bad[] = {"abc", "", "1.5", " 1", "1 ", "+1", "007", "-0",
	                     "9223372036854775808", "-9223372036854775809",
	                     "12345678901234567890123"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		EXPECT_OK(R(m, 0, "SET", "n", bad[i]));
		EXPECT_ERR(R(m, 0, "INCR", "n"), ERR_NOT_INT);
		EXPECT_BULK(R(m, 0, "GET", "n"), bad[i]);
	}
	EXPECT_OK(R(m, 0, "SET", "n", "-9223372036854775808"));
	EXPECT_INT(R(m, 0, "INCR", "n"), LLONG_MIN + 1);
}
END_TEST

START_TEST(test_redis_incr_refuses_to_overflow)
{
	EXPECT_OK(R(m, 0, "SET", "n", "9223372036854775806"));
	EXPECT_INT(R(m, 0, "INCR", "n"), LLONG_MAX);
	EXPECT_ERR(R(m, 0, "INCR", "n"), "ERR increment or decrement would overflow");
	EXPECT_BULK(R(m, 0, "GET", "n"), "9223372036854775807");
}
END_TEST

/* ---- EXPIRE and PEXPIRE ------------------------------------------------- */

START_TEST(test_redis_expire_sets_ttl_and_reports_missing_key)
{
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10"), 0);
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10"), 1);
	EXPECT_INT(R(m, 0, "PTTL", "k"), 10000);
	EXPECT_INT(R(m, 0, "PEXPIRE", "k", "1234"), 1);
	EXPECT_INT(R(m, 0, "PTTL", "k"), 1234);
}
END_TEST

START_TEST(test_redis_expire_nx_keeps_existing_ttl)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10", "NX"), 1);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "99", "nx"), 0);
	EXPECT_INT(R(m, 0, "TTL", "k"), 10);
}
END_TEST

START_TEST(test_redis_expire_xx_needs_an_existing_ttl)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10", "XX"), 0);
	EXPECT_INT(R(m, 0, "TTL", "k"), -1);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10"), 1);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "20", "XX"), 1);
	EXPECT_INT(R(m, 0, "TTL", "k"), 20);
}
END_TEST

START_TEST(test_redis_expire_gt_treats_no_ttl_as_infinite)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10", "GT"), 0);
	EXPECT_INT(R(m, 0, "TTL", "k"), -1);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10"), 1);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "10", "GT"), 0);  /* equal is not greater */
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "5", "GT"), 0);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "11", "GT"), 1);
	EXPECT_INT(R(m, 0, "TTL", "k"), 11);
}
END_TEST

START_TEST(test_redis_expire_lt_treats_no_ttl_as_infinite)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "100", "LT"), 1);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "100", "LT"), 0);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "200", "LT"), 0);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "50", "LT"), 1);
	EXPECT_INT(R(m, 0, "TTL", "k"), 50);
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "60", "XX", "GT"), 1);
	EXPECT_INT(R(m, 0, "TTL", "k"), 60);
}
END_TEST

START_TEST(test_redis_expire_non_positive_deletes_key)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "0"), 1);
	EXPECT_NIL(R(m, 0, "GET", "k"));
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "PEXPIRE", "k", "-100"), 1);
	EXPECT_INT(R(m, 0, "TTL", "k"), -2);
	/* The conditions are checked first: GT on a key without TTL fails
	 * and the key stays; LT passes and the key goes. */
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "-1", "GT"), 0);
	EXPECT_BULK(R(m, 0, "GET", "k"), "v");
	EXPECT_INT(R(m, 0, "EXPIRE", "k", "-1", "LT"), 1);
	EXPECT_NIL(R(m, 0, "GET", "k"));
}
END_TEST

START_TEST(test_redis_expire_rejects_bad_options_and_times)
{
	EXPECT_OK(R(m, 0, "SET", "k", "v"));
	EXPECT_ERR(R(m, 0, "EXPIRE", "k", "10", "NX", "XX"),
	           "ERR NX and XX, GT or LT options at the same time are not compatible");
	EXPECT_ERR(R(m, 0, "EXPIRE", "k", "10", "GT", "NX"),
	           "ERR NX and XX, GT or LT options at the same time are not compatible");
	EXPECT_ERR(R(m, 0, "EXPIRE", "k", "10", "GT", "LT"),
	           "ERR GT and LT options at the same time are not compatible");
	EXPECT_ERR(R(m, 0, "EXPIRE", "k", "10", "SOON"),
	           "ERR Unsupported option SOON");
	EXPECT_ERR(R(m, 0, "EXPIRE", "k", "ten"), ERR_NOT_INT);
	EXPECT_ERR(R(m, 0, "EXPIRE", "k", "9223372036854776"),
	           "ERR invalid expire time in 'expire' command");
	EXPECT_ERR(R(m, 5 * MS, "PEXPIRE", "k", "9223372036854775807"),
	           "ERR invalid expire time in 'pexpire' command");
	/* Option errors come before the missing-key answer, as in Redis. */
	EXPECT_ERR(R(m, 0, "EXPIRE", "missing", "10", "GT", "LT"),
	           "ERR GT and LT options at the same time are not compatible");
	EXPECT_INT(R(m, 0, "TTL", "k"), -1);
}
END_TEST

/* ---- DEL, names, arity, limits ---------------------------------------- */

START_TEST(test_redis_del_counts_deleted_keys)
{
	EXPECT_OK(R(m, 0, "SET", "a", "1"));
	EXPECT_OK(R(m, 0, "SET", "b", "2"));
	EXPECT_OK(R(m, 0, "SET", "c", "3", "PX", "1"));
	EXPECT_INT(R(m, 2 * MS, "DEL", "a", "b", "c", "d", "a"), 2);
	EXPECT_NIL(R(m, 2 * MS, "GET", "a"));
	EXPECT_NIL(R(m, 2 * MS, "GET", "b"));
	EXPECT_INT(R(m, 2 * MS, "DEL", "a"), 0);
}
END_TEST

START_TEST(test_redis_command_names_and_options_are_case_insensitive)
{
	EXPECT_OK(R(m, 0, "sEt", "k", "v", "nX", "pX", "100"));
	EXPECT_BULK(R(m, 0, "get", "k"), "v");
	EXPECT_INT(R(m, 0, "Pttl", "k"), 100);
	EXPECT_INT(R(m, 0, "incr", "n"), 1);
	EXPECT_INT(R(m, 0, "ExPiRe", "n", "5", "nx"), 1);
	EXPECT_INT(R(m, 0, "dEl", "n"), 1);
	/* Keys are not: "K" is another key. */
	EXPECT_NIL(R(m, 0, "GET", "K"));
}
END_TEST

START_TEST(test_redis_unknown_command_gets_redis_error_text)
{
	EXPECT_ERR(R(m, 0, "HSET", "h", "f", "v"),
	           "ERR unknown command 'HSET', with args beginning with: 'h' 'f' 'v' ");
	EXPECT_ERR(R(m, 0, "PING"),
	           "ERR unknown command 'PING', with args beginning with: ");
	EXPECT_ERR(R(m, 0, "MULTI"),
	           "ERR unknown command 'MULTI', with args beginning with: ");
	EXPECT_ERR(R(m, 0, "FOO", "a\r\nb"),
	           "ERR unknown command 'FOO', with args beginning with: 'a  b' ");
}
END_TEST

START_TEST(test_redis_wrong_arity_gets_redis_error_text)
{
	EXPECT_ERR(R(m, 0, "GET"), "ERR wrong number of arguments for 'get' command");
	EXPECT_ERR(R(m, 0, "GET", "a", "b"),
	           "ERR wrong number of arguments for 'get' command");
	EXPECT_ERR(R(m, 0, "SET", "k"), "ERR wrong number of arguments for 'set' command");
	EXPECT_ERR(R(m, 0, "INCR"), "ERR wrong number of arguments for 'incr' command");
	EXPECT_ERR(R(m, 0, "DEL"), "ERR wrong number of arguments for 'del' command");
	EXPECT_ERR(R(m, 0, "EXPIRE", "k"),
	           "ERR wrong number of arguments for 'expire' command");
	EXPECT_ERR(R(m, 0, "PEXPIRE", "k"),
	           "ERR wrong number of arguments for 'pexpire' command");
	EXPECT_ERR(R(m, 0, "TTL"), "ERR wrong number of arguments for 'ttl' command");
	EXPECT_ERR(R(m, 0, "PTTL", "a", "b"),
	           "ERR wrong number of arguments for 'pttl' command");
}
END_TEST

START_TEST(test_redis_rejects_key_and_value_over_their_maximum)
{
	static char key[REDIS_MODEL_KEY_MAX + 2];
	static char val[REDIS_MODEL_VALUE_MAX + 2];
	const char *too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
	memset(key, 'k', REDIS_MODEL_KEY_MAX);
	memset(val, 'v', REDIS_MODEL_VALUE_MAX);
	EXPECT_OK(R(m, 0, "SET", key, val));
	struct kv_reply r = R(m, 0, "GET", key);
	ck_assert_int_eq(r.type, KV_REPLY_BULK);
	ck_assert_uint_eq(r.len, REDIS_MODEL_VALUE_MAX);
	ck_assert_int_eq(memcmp(r.str, val, REDIS_MODEL_VALUE_MAX), 0);

	val[REDIS_MODEL_VALUE_MAX] = 'v';
	EXPECT_ERR(R(m, 0, "SET", "k", val), too_big);
	key[REDIS_MODEL_KEY_MAX] = 'k';
	EXPECT_ERR(R(m, 0, "GET", key), too_big);
	EXPECT_ERR(R(m, 0, "INCR", key), too_big);
	EXPECT_ERR(R(m, 0, "DEL", "a", key), too_big);
	EXPECT_INT(R(m, 0, "DEL", "a", "b"), 0);
	EXPECT_NIL(R(m, 0, "GET", "k"));
}
END_TEST

START_TEST(test_redis_values_are_binary_safe_except_nul)
{
	char bin[256];
	for (int i = 1; i < 256; i++)
		bin[i - 1] = (char)i;
	bin[255] = '\0';
	char key[] = "k\r\ney\x7f\xff";
	EXPECT_OK(R(m, 0, "SET", key, bin));
	struct kv_reply r = R(m, 0, "GET", key);
	ck_assert_int_eq(r.type, KV_REPLY_BULK);
	ck_assert_uint_eq(r.len, 255);
	ck_assert_int_eq(memcmp(r.str, bin, 255), 0);
	ck_assert_int_eq(r.str[255], '\0');
}
END_TEST

/* ---- MULTI/EXEC -------------------------------------------------------- */

START_TEST(test_redis_multi_exec_runs_every_command_in_order)
{
	struct kv_cmd cmds[3] = {
		cmd_of("INCR", "rl", NULL, NULL),
		cmd_of("EXPIRE", "rl", "60", "NX"),
		cmd_of("TTL", "rl", NULL, NULL),
	};
	struct kv_reply r;
	redis_model_exec_multi(m, 0, 3, cmds, &r);
	ck_assert_int_eq(r.type, KV_REPLY_ARRAY);
	ck_assert_uint_eq(r.elements, 3);
	EXPECT_INT(r.element[0], 1);
	EXPECT_INT(r.element[1], 1);
	EXPECT_INT(r.element[2], 60);

	redis_model_exec_multi(m, 10 * SEC, 3, cmds, &r);
	EXPECT_INT(r.element[0], 2);
	EXPECT_INT(r.element[1], 0);   /* NX: the first window's TTL stays */
	EXPECT_INT(r.element[2], 50);
}
END_TEST

START_TEST(test_redis_multi_runtime_error_is_an_element_and_others_run)
{
	EXPECT_OK(R(m, 0, "SET", "s", "text"));
	struct kv_cmd cmds[3] = {
		cmd_of("INCR", "s", NULL, NULL),
		cmd_of("SET", "k", "v", "BADOPT"),
		cmd_of("SET", "j", "w", NULL),
	};
	struct kv_reply r;
	redis_model_exec_multi(m, 0, 3, cmds, &r);
	ck_assert_int_eq(r.type, KV_REPLY_ARRAY);
	ck_assert_uint_eq(r.elements, 3);
	EXPECT_ERR(r.element[0], ERR_NOT_INT);
	EXPECT_ERR(r.element[1], ERR_SYNTAX);
	EXPECT_OK(r.element[2]);
	EXPECT_BULK(R(m, 0, "GET", "j"), "w");
	EXPECT_NIL(R(m, 0, "GET", "k"));
}
END_TEST

START_TEST(test_redis_multi_arity_error_aborts_the_whole_exec)
{
	struct kv_cmd cmds[3] = {
		cmd_of("SET", "a", "1", NULL),
		cmd_of("EXPIRE", "a", NULL, NULL),
		cmd_of("INCR", "b", NULL, NULL),
	};
	struct kv_reply r;
	redis_model_exec_multi(m, 0, 3, cmds, &r);
	EXPECT_ERR(r, ERR_EXECABORT);
	EXPECT_NIL(R(m, 0, "GET", "a"));
	EXPECT_NIL(R(m, 0, "GET", "b"));
}
END_TEST

START_TEST(test_redis_multi_unknown_command_aborts_the_whole_exec)
{
	struct kv_cmd cmds[2] = {
		cmd_of("INCR", "a", NULL, NULL),
		cmd_of("INCRX", "a", NULL, NULL),
	};
	struct kv_reply r;
	redis_model_exec_multi(m, 0, 2, cmds, &r);
	EXPECT_ERR(r, ERR_EXECABORT);
	EXPECT_INT(R(m, 0, "TTL", "a"), -2);
}
END_TEST

START_TEST(test_redis_multi_with_no_commands_is_an_empty_array)
{
	struct kv_reply r;
	redis_model_exec_multi(m, 0, 0, NULL, &r);
	ck_assert_int_eq(r.type, KV_REPLY_ARRAY);
	ck_assert_uint_eq(r.elements, 0);
}
END_TEST

START_TEST(test_redis_multi_reply_survives_later_writes_in_same_exec)
{
	EXPECT_OK(R(m, 0, "SET", "k", "old"));
	struct kv_cmd cmds[4] = {
		cmd_of("GET", "k", NULL, NULL),
		cmd_of("SET", "k", "new", NULL),
		cmd_of("DEL", "k", NULL, NULL),
		cmd_of("GET", "k", NULL, NULL),
	};
	struct kv_reply r;
	redis_model_exec_multi(m, 0, 4, cmds, &r);
	EXPECT_BULK(r.element[0], "old");
	EXPECT_OK(r.element[1]);
	EXPECT_INT(r.element[2], 1);
	EXPECT_NIL(r.element[3]);
}
END_TEST

/* ---- bound, restart, inspection ---------------------------------------- */

START_TEST(test_redis_full_model_refuses_writes_with_oom)
{
	struct redis_model *c = redis_model_create_capped(3);
	ck_assert_ptr_nonnull(c);
	EXPECT_OK(R(c, 0, "SET", "a", "1"));
	EXPECT_OK(R(c, 0, "SET", "b", "1"));
	EXPECT_INT(R(c, 0, "INCR", "t"), 1);
	EXPECT_ERR(R(c, 0, "SET", "d", "1"), ERR_OOM);
	/* Like Redis over maxmemory: even a write to an existing key. */
	EXPECT_ERR(R(c, 0, "INCR", "t"), ERR_OOM);
	/* Reads, DEL and EXPIRE still work. */
	EXPECT_BULK(R(c, 0, "GET", "a"), "1");
	EXPECT_INT(R(c, 0, "PEXPIRE", "t", "10"), 1);
	EXPECT_ERR(R(c, 10 * MS, "SET", "d", "1"), ERR_OOM);
	/* Once t has expired its room is reclaimed. */
	EXPECT_OK(R(c, 11 * MS, "SET", "d", "1"));
	EXPECT_INT(R(c, 11 * MS, "DEL", "a"), 1);
	EXPECT_OK(R(c, 11 * MS, "SET", "e", "1"));
	ck_assert_uint_eq(redis_model_dbsize(c, 11 * MS), 3);
	redis_model_destroy(c);
}
END_TEST

START_TEST(test_redis_multi_aborts_with_execabort_when_full)
{
	struct redis_model *c = redis_model_create_capped(2);
	ck_assert_ptr_nonnull(c);
	EXPECT_OK(R(c, 0, "SET", "a", "1"));
	EXPECT_OK(R(c, 0, "SET", "b", "1"));
	struct kv_cmd cmds[2] = {
		cmd_of("DEL", "a", NULL, NULL),
		cmd_of("SET", "c", "1", NULL),
	};
	struct kv_reply r;
	redis_model_exec_multi(c, 0, 2, cmds, &r);
	EXPECT_ERR(r, ERR_EXECABORT);
	EXPECT_BULK(R(c, 0, "GET", "a"), "1");
	/* A transaction of reads and deletes still runs. */
	struct kv_cmd reads[1] = {cmd_of("DEL", "a", NULL, NULL)};
	redis_model_exec_multi(c, 0, 1, reads, &r);
	ck_assert_int_eq(r.type, KV_REPLY_ARRAY);
	EXPECT_INT(r.element[0], 1);
	redis_model_destroy(c);
}
END_TEST

START_TEST(test_redis_flushall_forgets_every_key)
{
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		EXPECT_OK(R(m, 0, "SET", k, "v", "EX", "100"));
	}
	ck_assert_uint_eq(redis_model_dbsize(m, 0), 100);
	redis_model_flushall(m);
	ck_assert_uint_eq(redis_model_dbsize(m, 0), 0);
	EXPECT_NIL(R(m, 0, "GET", "k7"));
	EXPECT_INT(R(m, 0, "INCR", "k7"), 1);
	EXPECT_INT(R(m, 0, "TTL", "k7"), -1);
}
END_TEST

struct seen {
	int n;
	char keys[8][16];
	char values[8][16];
	int64_t pttl[8];
};

static void collect(void *arg, const char *key, const char *value, int64_t pttl_ms)
{
	struct seen *s = arg;
	ck_assert_int_lt(s->n, 8);
	snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
	snprintf(s->values[s->n], sizeof s->values[0], "%s", value);
	s->pttl[s->n] = pttl_ms;
	s->n++;
}

START_TEST(test_redis_foreach_skips_expired_keys_and_reports_pttl)
{
	EXPECT_OK(R(m, 0, "SET", "a", "1"));
	EXPECT_OK(R(m, 0, "SET", "b", "2", "PX", "100"));
	EXPECT_OK(R(m, 0, "SET", "c", "3", "PX", "5"));
	struct seen s = {0};
	redis_model_foreach(m, 50 * MS, collect, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.keys[0], "a");
	ck_assert_str_eq(s.values[0], "1");
	ck_assert_int_eq(s.pttl[0], -1);
	ck_assert_str_eq(s.keys[1], "b");
	ck_assert_str_eq(s.values[1], "2");
	ck_assert_int_eq(s.pttl[1], 50);
	ck_assert_uint_eq(redis_model_dbsize(m, 50 * MS), 2);
	/* Inspection changed nothing: the earlier clock still sees c. */
	ck_assert_uint_eq(redis_model_dbsize(m, 5 * MS), 3);
	EXPECT_INT(R(m, 5 * MS, "PTTL", "c"), 0);
}
END_TEST

static void reenter(void *arg, const char *key, const char *value, int64_t pttl_ms)
{
	(void)value;
	(void)pttl_ms;
	struct kv_reply r;
	struct kv_cmd c = cmd_of("DEL", key, NULL, NULL);
	redis_model_exec(arg, 0, &c, &r);
}

START_TEST(test_redis_foreach_callback_must_not_call_the_model)
{
	death_expect("!m->in_foreach");
	EXPECT_OK(R(m, 0, "SET", "a", "1"));
	redis_model_foreach(m, 0, reenter, m);
}
END_TEST

START_TEST(test_redis_commands_counts_every_received_command)
{
	ck_assert_uint_eq(redis_model_commands(m), 0);
	R(m, 0, "SET", "a", "1");
	R(m, 0, "NOPE");
	struct kv_cmd cmds[2] = {cmd_of("GET", "a", NULL, NULL),
	                         cmd_of("GET", NULL, NULL, NULL)};
	struct kv_reply r;
	redis_model_exec_multi(m, 0, 2, cmds, &r);
	ck_assert_uint_eq(redis_model_commands(m), 4);
}
END_TEST

/* Many keys: the index grows, and deletes in the middle of probe clusters
 * keep every other key reachable. */
START_TEST(test_redis_many_keys_survive_growth_and_deletes)
{
	enum { N = 20000 };
	char k[32], v[32];
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "user:%d:window", i);
		snprintf(v, sizeof v, "%d", i * 7);
		EXPECT_OK(R(m, 0, "SET", k, v));
	}
	for (int i = 0; i < N; i += 3) {
		snprintf(k, sizeof k, "user:%d:window", i);
		EXPECT_INT(R(m, 0, "DEL", k), 1);
	}
	size_t live = 0;
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "user:%d:window", i);
		struct kv_reply r = R(m, 0, "GET", k);
		if (i % 3 == 0) {
			EXPECT_NIL(r);
		} else {
			snprintf(v, sizeof v, "%d", i * 7);
			EXPECT_BULK(r, v);
			live++;
		}
	}
	ck_assert_uint_eq(redis_model_dbsize(m, 0), live);
}
END_TEST

/* Keys that are never read again go away in the background. */
START_TEST(test_redis_unread_expired_keys_are_reclaimed_over_time)
{
	char k[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof k, "old:%d", i);
		EXPECT_OK(R(m, 0, "SET", k, "1", "PX", "10"));
	}
	struct redis_model *c = redis_model_create_capped(1000);
	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof k, "old:%d", i);
		EXPECT_OK(R(c, 0, "SET", k, "1", "PX", "10"));
	}
	/* A full capped model reclaims them at once when a write needs room. */
	EXPECT_OK(R(c, 20 * MS, "SET", "new", "1"));
	ck_assert_uint_eq(redis_model_dbsize(c, 20 * MS), 1);
	redis_model_destroy(c);
	/* The uncapped model sweeps a couple of keys per command. */
	ck_assert_uint_eq(redis_model_keys_held(m), 1000);
	for (int i = 0; i < 499; i++)
		R(m, 20 * MS, "GET", "unrelated");
	ck_assert_uint_gt(redis_model_keys_held(m), 0);
	R(m, 20 * MS, "GET", "unrelated");
	ck_assert_uint_eq(redis_model_keys_held(m), 0);
}
END_TEST

/* ---- the sweep against a reference ---------------------------------------- */

/* The reference: a handful of keys in a plain array, every rule written
 * out the slow, obvious way. Values stay short so strings fit. */
#define REF_KEYS 6
#define REF_VAL_MAX 32

struct ref_key {
	bool used;
	char val[REF_VAL_MAX];
	long long exp_ms; /* -1: no TTL */
};

struct ref {
	struct ref_key k[REF_KEYS];
};

static const char *const ref_names[REF_KEYS] = {"a", "b", "c", "rl:1", "rl:2", "x"};

static int ref_index(const char *key)
{
	for (int i = 0; i < REF_KEYS; i++)
		if (strcmp(ref_names[i], key) == 0)
			return i;
	ck_abort_msg("unknown key %s", key);
	return -1;
}

static bool ref_live(struct ref *r, int i, long long now_ms)
{
	if (r->k[i].used && r->k[i].exp_ms != -1 && now_ms > r->k[i].exp_ms)
		r->k[i].used = false;
	return r->k[i].used;
}

static bool ref_is_int(const char *s, long long *out)
{
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return true;
	}
	const char *p = s[0] == '-' ? s + 1 : s;
	if (*p < '1' || *p > '9' || strlen(p) > 19)
		return false;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* The expected reply of one command; strings go into buf. */
static struct kv_reply ref_exec(struct ref *r, long long now_ms,
                                const struct kv_cmd *c, char *buf)
{
	struct kv_reply x = {.str = ""};
	const char *op = c->argv[0];
	if (strcmp(op, "GET") == 0) {
		int i = ref_index(c->argv[1]);
		if (!ref_live(r, i, now_ms)) {
			x.type = KV_REPLY_NIL;
		} else {
			x.type = KV_REPLY_BULK;
			strcpy(buf, r->k[i].val);
			x.str = buf;
			x.len = strlen(buf);
		}
	} else if (strcmp(op, "SET") == 0) {
		int i = ref_index(c->argv[1]);
		bool nx = false, xx = false, keep = false, get = false;
		long long exp = -1;
		bool bad_time = false;
		for (int j = 3; j < c->argc; j++) {
			if (strcmp(c->argv[j], "NX") == 0) nx = true;
			else if (strcmp(c->argv[j], "XX") == 0) xx = true;
			else if (strcmp(c->argv[j], "KEEPTTL") == 0) keep = true;
			else if (strcmp(c->argv[j], "GET") == 0) get = true;
			else {
				long long v = atoll(c->argv[j + 1]);
				if (v <= 0)
					bad_time = true;
				exp = now_ms + (strcmp(c->argv[j], "EX") == 0 ? v * 1000 : v);
				j++;
			}
		}
		if (bad_time) {
			x.type = KV_REPLY_ERROR;
			x.str = "ERR invalid expire time in 'set' command";
			x.len = strlen(x.str);
			return x;
		}
		bool live = ref_live(r, i, now_ms);
		if (get) {
			if (live) {
				x.type = KV_REPLY_BULK;
				strcpy(buf, r->k[i].val);
				x.str = buf;
				x.len = strlen(buf);
			} else {
				x.type = KV_REPLY_NIL;
			}
		}
		if ((nx && live) || (xx && !live)) {
			if (!get)
				x.type = KV_REPLY_NIL;
			return x;
		}
		long long old_exp = live ? r->k[i].exp_ms : -1;
		r->k[i].used = true;
		snprintf(r->k[i].val, REF_VAL_MAX, "%s", c->argv[2]);
		r->k[i].exp_ms = exp != -1 ? exp : (keep ? old_exp : -1);
		if (!get) {
			x.type = KV_REPLY_STATUS;
			x.str = "OK";
			x.len = 2;
		}
	} else if (strcmp(op, "INCR") == 0) {
		int i = ref_index(c->argv[1]);
		long long v = 0;
		bool live = ref_live(r, i, now_ms);
		if (live && !ref_is_int(r->k[i].val, &v)) {
			x.type = KV_REPLY_ERROR;
			x.str = ERR_NOT_INT;
		} else if (v == LLONG_MAX) {
			x.type = KV_REPLY_ERROR;
			x.str = "ERR increment or decrement would overflow";
		} else {
			if (!live) {
				r->k[i].used = true;
				r->k[i].exp_ms = -1;
			}
			snprintf(r->k[i].val, REF_VAL_MAX, "%lld", v + 1);
			x.type = KV_REPLY_INTEGER;
			x.integer = v + 1;
		}
		x.len = strlen(x.str);
	} else if (strcmp(op, "DEL") == 0) {
		x.type = KV_REPLY_INTEGER;
		for (int j = 1; j < c->argc; j++) {
			int i = ref_index(c->argv[j]);
			if (ref_live(r, i, now_ms)) {
				r->k[i].used = false;
				x.integer++;
			}
		}
	} else if (strcmp(op, "EXPIRE") == 0 || strcmp(op, "PEXPIRE") == 0) {
		int i = ref_index(c->argv[1]);
		long long v = atoll(c->argv[2]);
		long long when = now_ms + (op[0] == 'E' ? v * 1000 : v);
		const char *flag = c->argc > 3 ? c->argv[3] : "";
		x.type = KV_REPLY_INTEGER;
		if (!ref_live(r, i, now_ms))
			return x;
		long long cur = r->k[i].exp_ms;
		bool ok = true;
		if (strcmp(flag, "NX") == 0) ok = cur == -1;
		if (strcmp(flag, "XX") == 0) ok = cur != -1;
		if (strcmp(flag, "GT") == 0) ok = cur != -1 && when > cur;
		if (strcmp(flag, "LT") == 0) ok = cur == -1 || when < cur;
		if (!ok)
			return x;
		if (when <= now_ms)
			r->k[i].used = false;
		else
			r->k[i].exp_ms = when;
		x.integer = 1;
	} else if (strcmp(op, "TTL") == 0 || strcmp(op, "PTTL") == 0) {
		int i = ref_index(c->argv[1]);
		x.type = KV_REPLY_INTEGER;
		if (!ref_live(r, i, now_ms)) {
			x.integer = -2;
		} else if (r->k[i].exp_ms == -1) {
			x.integer = -1;
		} else {
			long long left = r->k[i].exp_ms - now_ms;
			x.integer = op[0] == 'P' ? left : (left + 500) / 1000;
		}
	} else {
		ck_abort_msg("reference has no %s", op);
	}
	return x;
}

/* Builds a random, well-formed command; strings live in store. */
static struct kv_cmd random_cmd(struct prng *p, char store[KV_ARGV_MAX][24])
{
	static const char *const vals[] = {"0", "1", "41", "-3", "x", "",
	                                   "9223372036854775806", "07"};
	static const char *const eflags[] = {"", "NX", "XX", "GT", "LT"};
	struct kv_cmd c = {0};
	const char *key = ref_names[prng_below(p, REF_KEYS)];
	switch (prng_below(p, 8)) {
	case 0:
		c = cmd_of("GET", key, NULL, NULL);
		break;
	case 1: {
		c = cmd_of("SET", key, vals[prng_below(p, 8)], NULL);
		uint64_t cond = prng_below(p, 3);
		if (cond == 1)
			c.argv[c.argc++] = "NX";
		else if (cond == 2)
			c.argv[c.argc++] = "XX";
		uint64_t ttl = prng_below(p, 4);
		if (ttl == 1 || ttl == 2) {
			c.argv[c.argc++] = ttl == 1 ? "EX" : "PX";
			long long v = ttl == 1 ? (long long)prng_below(p, 4)
			                       : (long long)prng_below(p, 3000) - 50;
			snprintf(store[0], 24, "%lld", v);
			c.argv[c.argc++] = store[0];
		} else if (ttl == 3) {
			c.argv[c.argc++] = "KEEPTTL";
		}
		if (prng_chance(p, 0.2))
			c.argv[c.argc++] = "GET";
		break;
	}
	case 2:
	case 3:
		c = cmd_of("INCR", key, NULL, NULL);
		break;
	case 4:
		c = cmd_of("DEL", key, NULL, NULL);
		if (prng_chance(p, 0.5))
			c.argv[c.argc++] = ref_names[prng_below(p, REF_KEYS)];
		break;
	case 5: {
		bool ms = prng_chance(p, 0.5);
		long long v = ms ? (long long)prng_below(p, 4000) - 200
		                 : (long long)prng_below(p, 6) - 1;
		snprintf(store[1], 24, "%lld", v);
		c = cmd_of(ms ? "PEXPIRE" : "EXPIRE", key, store[1], NULL);
		const char *f = eflags[prng_below(p, 5)];
		if (f[0] != '\0')
			c.argv[c.argc++] = f;
		break;
	}
	case 6:
		c = cmd_of("TTL", key, NULL, NULL);
		break;
	default:
		c = cmd_of("PTTL", key, NULL, NULL);
		break;
	}
	return c;
}

static void expect_same_reply(const struct kv_reply *got,
                              const struct kv_reply *want, int step)
{
	ck_assert_msg(got->type == want->type, "step %d: type %d, want %d (%s)",
	              step, got->type, want->type, got->str);
	if (want->type == KV_REPLY_INTEGER)
		ck_assert_msg(got->integer == want->integer,
		              "step %d: %lld, want %lld", step, got->integer,
		              want->integer);
	if (want->type == KV_REPLY_BULK || want->type == KV_REPLY_ERROR ||
	    want->type == KV_REPLY_STATUS) {
		ck_assert_msg(got->len == want->len &&
		              memcmp(got->str, want->str, want->len) == 0,
		              "step %d: '%s', want '%s'", step, got->str, want->str);
	}
}

struct live_set {
	int n;
	char key[REF_KEYS][8];
	char val[REF_KEYS][REF_VAL_MAX];
	int64_t pttl[REF_KEYS];
};

static void collect_live(void *arg, const char *key, const char *value,
                         int64_t pttl_ms)
{
	struct live_set *s = arg;
	ck_assert_int_lt(s->n, REF_KEYS);
	snprintf(s->key[s->n], 8, "%s", key);
	snprintf(s->val[s->n], REF_VAL_MAX, "%s", value);
	s->pttl[s->n] = pttl_ms;
	s->n++;
}

static void expect_same_state(struct redis_model *mm, struct ref *r,
                              uint64_t now_us, int step)
{
	long long now_ms = (long long)(now_us / 1000);
	struct live_set s = {0};
	redis_model_foreach(mm, now_us, collect_live, &s);
	int want = 0;
	for (int i = 0; i < REF_KEYS; i++) {
		if (!ref_live(r, i, now_ms))
			continue;
		want++;
		int found = -1;
		for (int j = 0; j < s.n; j++)
			if (strcmp(s.key[j], ref_names[i]) == 0)
				found = j;
		ck_assert_msg(found >= 0, "step %d: %s missing", step, ref_names[i]);
		ck_assert_str_eq(s.val[found], r->k[i].val);
		long long pttl = r->k[i].exp_ms == -1 ? -1 : r->k[i].exp_ms - now_ms;
		ck_assert_int_eq(s.pttl[found], pttl);
	}
	ck_assert_int_eq(s.n, want);
	ck_assert_uint_eq(redis_model_dbsize(mm, now_us), (size_t)want);
}

START_TEST(test_redis_matches_reference_on_random_sequences)
{
	struct prng p;
	prng_init(&p, (uint64_t)_i);
	struct redis_model *mm = redis_model_create();
	ck_assert_ptr_nonnull(mm);
	struct ref r;
	memset(&r, 0, sizeof r);
	uint64_t now_us = prng_below(&p, 1000000);
	char want_buf[KV_TXN_MAX][REF_VAL_MAX + 8];
	char store[KV_TXN_MAX][KV_ARGV_MAX][24];

	for (int step = 0; step < 1500; step++) {
		now_us += prng_chance(&p, 0.3) ? prng_below(&p, 1500 * MS) : prng_below(&p, 3 * MS);
		long long now_ms = (long long)(now_us / 1000);
		if (prng_chance(&p, 0.15)) {
			int n = (int)prng_below(&p, KV_TXN_MAX) + 1;
			struct kv_cmd cmds[KV_TXN_MAX];
			for (int i = 0; i < n; i++)
				cmds[i] = random_cmd(&p, store[i]);
			bool abort = prng_chance(&p, 0.1);
			if (abort)
				cmds[prng_below(&p, (uint64_t)n)].argv[0] = "NOSUCH";
			struct kv_reply got;
			redis_model_exec_multi(mm, now_us, n, cmds, &got);
			if (abort) {
				ck_assert_int_eq(got.type, KV_REPLY_ERROR);
				ck_assert_str_eq(got.str, ERR_EXECABORT);
			} else {
				ck_assert_int_eq(got.type, KV_REPLY_ARRAY);
				ck_assert_uint_eq(got.elements, (size_t)n);
				for (int i = 0; i < n; i++) {
					struct kv_reply want = ref_exec(&r, now_ms, &cmds[i],
					                                want_buf[i]);
					expect_same_reply(&got.element[i], &want, step);
				}
			}
		} else {
			struct kv_cmd c = random_cmd(&p, store[0]);
			struct kv_reply got;
			redis_model_exec(mm, now_us, &c, &got);
			struct kv_reply want = ref_exec(&r, now_ms, &c, want_buf[0]);
			expect_same_reply(&got, &want, step);
		}
		if (step % 50 == 0)
			expect_same_state(mm, &r, now_us, step);
	}
	expect_same_state(mm, &r, now_us, -1);
	redis_model_destroy(mm);
}
END_TEST

Suite *check_redis_model_suite(void);
Suite *check_redis_model_suite(void)
{
	Suite *s = suite_create("redis_model");

	TCase *tc = tcase_create("get_set");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kv_word_is_ignores_case_only);
	tcase_add_test(tc, test_redis_get_missing_key_is_nil);
	tcase_add_test(tc, test_redis_set_then_get_returns_value);
	tcase_add_test(tc, test_redis_set_nx_on_existing_key_returns_nil_and_keeps_value);
	tcase_add_test(tc, test_redis_set_xx_on_missing_key_returns_nil);
	tcase_add_test(tc, test_redis_set_nx_succeeds_once_the_key_expired);
	tcase_add_test(tc, test_redis_set_ex_sets_ttl_and_plain_set_clears_it);
	tcase_add_test(tc, test_redis_set_px_counts_milliseconds);
	tcase_add_test(tc, test_redis_set_keepttl_keeps_ttl);
	tcase_add_test(tc, test_redis_set_exat_reads_model_clock_as_unix_time);
	tcase_add_test(tc, test_redis_set_get_returns_old_value);
	tcase_add_test(tc, test_redis_set_rejects_conflicting_or_bad_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("expiry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_redis_key_expires_just_after_its_boundary_ms);
	tcase_add_test(tc, test_redis_expired_key_is_invisible_to_every_command);
	tcase_add_test(tc, test_redis_ttl_rounds_to_nearest_second);
	tcase_add_test(tc, test_redis_ttl_is_minus2_when_missing_minus1_without_ttl);
	tcase_add_test(tc, test_redis_expire_sets_ttl_and_reports_missing_key);
	tcase_add_test(tc, test_redis_expire_nx_keeps_existing_ttl);
	tcase_add_test(tc, test_redis_expire_xx_needs_an_existing_ttl);
	tcase_add_test(tc, test_redis_expire_gt_treats_no_ttl_as_infinite);
	tcase_add_test(tc, test_redis_expire_lt_treats_no_ttl_as_infinite);
	tcase_add_test(tc, test_redis_expire_non_positive_deletes_key);
	tcase_add_test(tc, test_redis_expire_rejects_bad_options_and_times);
	suite_add_tcase(s, tc);

	tc = tcase_create("incr_del_errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_redis_incr_on_missing_key_starts_at_zero);
	tcase_add_test(tc, test_redis_incr_keeps_ttl);
	tcase_add_test(tc, test_redis_incr_rejects_non_integers);
	tcase_add_test(tc, test_redis_incr_refuses_to_overflow);
	tcase_add_test(tc, test_redis_del_counts_deleted_keys);
	tcase_add_test(tc, test_redis_command_names_and_options_are_case_insensitive);
	tcase_add_test(tc, test_redis_unknown_command_gets_redis_error_text);
	tcase_add_test(tc, test_redis_wrong_arity_gets_redis_error_text);
	tcase_add_test(tc, test_redis_rejects_key_and_value_over_their_maximum);
	tcase_add_test(tc, test_redis_values_are_binary_safe_except_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("multi_exec");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_redis_multi_exec_runs_every_command_in_order);
	tcase_add_test(tc, test_redis_multi_runtime_error_is_an_element_and_others_run);
	tcase_add_test(tc, test_redis_multi_arity_error_aborts_the_whole_exec);
	tcase_add_test(tc, test_redis_multi_unknown_command_aborts_the_whole_exec);
	tcase_add_test(tc, test_redis_multi_with_no_commands_is_an_empty_array);
	tcase_add_test(tc, test_redis_multi_reply_survives_later_writes_in_same_exec);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_redis_full_model_refuses_writes_with_oom);
	tcase_add_test(tc, test_redis_multi_aborts_with_execabort_when_full);
	tcase_add_test(tc, test_redis_flushall_forgets_every_key);
	tcase_add_test(tc, test_redis_foreach_skips_expired_keys_and_reports_pttl);
	tcase_add_test_raise_signal(tc, test_redis_foreach_callback_must_not_call_the_model,
	                            SIGABRT);
	tcase_add_test(tc, test_redis_commands_counts_every_received_command);
	tcase_add_test(tc, test_redis_many_keys_survive_growth_and_deletes);
	tcase_add_test(tc, test_redis_unread_expired_keys_are_reclaimed_over_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_add_loop_test(tc, test_redis_matches_reference_on_random_sequences, 0, 40);
	suite_add_tcase(s, tc);
	return s;
}
