/* tests/check_email_check.c - the pure name and address checks behind the
 * hardened quote e-mail, table-driven over each kind of malformed input,
 * and RFC 2047 encoded-words against vectors computed with Python's base64. */
#include <check.h>
#include <string.h>

#include "core/email_check.h"

#define LEN(s) (sizeof(s) - 1)

struct name_case {
	const char *what;
	const char *s;
	size_t len;
	enum email_check_status want;
};

static const struct name_case name_cases[] = {
	{"plain", "Ann Lee", LEN("Ann Lee"), EMAIL_CHECK_OK},
	{"accented", "Jos\xc3\xa9 \xc3\x81lvarez", LEN("Jos\xc3\xa9 \xc3\x81lvarez"), EMAIL_CHECK_OK},
	{"cjk", "\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d", 9, EMAIL_CHECK_OK},
	{"quote and backslash", "Ann \"A\\B\" Lee", LEN("Ann \"A\\B\" Lee"), EMAIL_CHECK_OK},
	{"empty", "", 0, EMAIL_CHECK_BLANK},
	{"ascii spaces", "  \t ", 4, EMAIL_CHECK_CONTROL}, /* tab is a C0 control */
	{"spaces only", "   ", 3, EMAIL_CHECK_BLANK},
	{"nbsp only", "\xc2\xa0", 2, EMAIL_CHECK_BLANK},
	{"ideographic space", "\xe3\x80\x80", 3, EMAIL_CHECK_BLANK},
	{"em space and nnbsp", "\xe2\x80\x83\xe2\x80\xaf", 6, EMAIL_CHECK_BLANK},
	{"ogham and line separator", "\xe1\x9a\x80\xe2\x80\xa8", 6, EMAIL_CHECK_BLANK},
	{"zero width space is not white space", "\xe2\x80\x8b", 3, EMAIL_CHECK_OK},
	{"crlf injection", "Ann\r\nBcc: x@evil.example", LEN("Ann\r\nBcc: x@evil.example"),
	 EMAIL_CHECK_CONTROL},
	{"lone lf", "Ann\nLee", 7, EMAIL_CHECK_CONTROL},
	{"lone cr", "Ann\rLee", 7, EMAIL_CHECK_CONTROL},
	{"nul inside", "Ann\0Lee", 7, EMAIL_CHECK_CONTROL},
	{"escape", "Ann\x1b[31m", 8, EMAIL_CHECK_CONTROL},
	{"del", "Ann\x7f", 4, EMAIL_CHECK_CONTROL},
	{"c1 nel", "Ann\xc2\x85Lee", 8, EMAIL_CHECK_CONTROL},
	{"c1 csi", "Ann\xc2\x9b", 5, EMAIL_CHECK_CONTROL},
	{"bare continuation", "Ann\x80", 4, EMAIL_CHECK_BAD_UTF8},
	{"latin1 byte", "Jos\xe9", 4, EMAIL_CHECK_BAD_UTF8},
	{"overlong slash", "\xc0\xaf", 2, EMAIL_CHECK_BAD_UTF8},
	{"overlong lf", "Ann\xc0\x8a", 5, EMAIL_CHECK_BAD_UTF8},
	{"overlong 3 octets", "\xe0\x80\xaf", 3, EMAIL_CHECK_BAD_UTF8},
	{"surrogate", "\xed\xa0\x80", 3, EMAIL_CHECK_BAD_UTF8},
	{"above U+10FFFF", "\xf4\x90\x80\x80", 4, EMAIL_CHECK_BAD_UTF8},
	{"f5 lead", "\xf5\x80\x80\x80", 4, EMAIL_CHECK_BAD_UTF8},
	{"cut short", "Ann\xe2\x80", 5, EMAIL_CHECK_BAD_UTF8},
	{"four octet emoji", "Ann \xf0\x9f\x98\x80", 8, EMAIL_CHECK_OK},
};

START_TEST(test_email_check_name_table)
{
	const struct name_case *c = &name_cases[_i];
	ck_assert_msg(email_check_name(c->s, c->len) == c->want, "%s: got %s, want %s", c->what,
	              email_check_status_name(email_check_name(c->s, c->len)),
	              email_check_status_name(c->want));
}
END_TEST

START_TEST(test_email_check_name_null_is_missing)
{
	ck_assert_int_eq(email_check_name(NULL, 0), EMAIL_CHECK_MISSING);
}
END_TEST

START_TEST(test_email_check_name_length_limit_is_exact)
{
	char name[EMAIL_CHECK_NAME_MAX + 1];
	memset(name, 'a', sizeof name);
	ck_assert_int_eq(email_check_name(name, EMAIL_CHECK_NAME_MAX), EMAIL_CHECK_OK);
	ck_assert_int_eq(email_check_name(name, EMAIL_CHECK_NAME_MAX + 1), EMAIL_CHECK_TOO_LONG);
}
END_TEST

struct addr_case {
	const char *what;
	const char *s;
	size_t len;
	enum email_check_status want;
};

static const struct addr_case addr_cases[] = {
	{"plain", "ann@example.com", LEN("ann@example.com"), EMAIL_CHECK_OK},
	{"plus and dots", "ann.lee+quotes@mail.example.co.uk", LEN("ann.lee+quotes@mail.example.co.uk"),
	 EMAIL_CHECK_OK},
	{"apostrophe", "o'brien@example.ie", LEN("o'brien@example.ie"), EMAIL_CHECK_OK},
	{"hyphen inside label", "a@my-host.example", LEN("a@my-host.example"), EMAIL_CHECK_OK},
	{"empty", "", 0, EMAIL_CHECK_BLANK},
	{"spaces only", "   ", 3, EMAIL_CHECK_BLANK},
	{"unicode space only", "\xe3\x80\x80", 3, EMAIL_CHECK_BLANK},
	{"no at", "ann.example.com", LEN("ann.example.com"), EMAIL_CHECK_BAD_ADDRESS},
	{"two at", "ann@lee@example.com", LEN("ann@lee@example.com"), EMAIL_CHECK_BAD_ADDRESS},
	{"empty local", "@example.com", LEN("@example.com"), EMAIL_CHECK_BAD_ADDRESS},
	{"empty domain", "ann@", LEN("ann@"), EMAIL_CHECK_BAD_ADDRESS},
	{"domain without dot", "ann@localhost", LEN("ann@localhost"), EMAIL_CHECK_BAD_ADDRESS},
	{"empty label", "ann@example..com", LEN("ann@example..com"), EMAIL_CHECK_BAD_ADDRESS},
	{"trailing dot", "ann@example.com.", LEN("ann@example.com."), EMAIL_CHECK_BAD_ADDRESS},
	{"label starts with hyphen", "ann@-x.example", LEN("ann@-x.example"), EMAIL_CHECK_BAD_ADDRESS},
	{"label ends with hyphen", "ann@x-.example", LEN("ann@x-.example"), EMAIL_CHECK_BAD_ADDRESS},
	{"underscore in domain", "ann@my_host.example", LEN("ann@my_host.example"),
	 EMAIL_CHECK_BAD_ADDRESS},
	{"space in local", "ann lee@example.com", LEN("ann lee@example.com"), EMAIL_CHECK_BAD_ADDRESS},
	{"leading space", " ann@example.com", LEN(" ann@example.com"), EMAIL_CHECK_BAD_ADDRESS},
	{"double quote", "\"ann\"@example.com", LEN("\"ann\"@example.com"), EMAIL_CHECK_BAD_ADDRESS},
	{"angle bracket", "ann@example.com>", LEN("ann@example.com>"), EMAIL_CHECK_BAD_ADDRESS},
	{"angle injection", "a@x.example>, <b@y.example", LEN("a@x.example>, <b@y.example"),
	 EMAIL_CHECK_BAD_ADDRESS},
	{"comma", "a@x.example,b@y.example", LEN("a@x.example,b@y.example"), EMAIL_CHECK_BAD_ADDRESS},
	{"leading dot in local", ".ann@example.com", LEN(".ann@example.com"), EMAIL_CHECK_BAD_ADDRESS},
	{"double dot in local", "ann..lee@example.com", LEN("ann..lee@example.com"),
	 EMAIL_CHECK_BAD_ADDRESS},
	{"crlf injection", "ann@example.com\r\nBcc: x@evil.example",
	 LEN("ann@example.com\r\nBcc: x@evil.example"), EMAIL_CHECK_CONTROL},
	{"nul inside", "ann@example.com\0x", LEN("ann@example.com\0x"), EMAIL_CHECK_CONTROL},
	{"tab", "ann\t@example.com", LEN("ann\t@example.com"), EMAIL_CHECK_CONTROL},
	{"invalid utf8", "ann\xff@example.com", LEN("ann\xff@example.com"), EMAIL_CHECK_BAD_UTF8},
	{"non-ascii local", "jos\xc3\xa9@example.com", LEN("jos\xc3\xa9@example.com"),
	 EMAIL_CHECK_BAD_ADDRESS},
	{"nbsp inside", "ann\xc2\xa0@example.com", LEN("ann\xc2\xa0@example.com"),
	 EMAIL_CHECK_BAD_ADDRESS},
};

START_TEST(test_email_check_address_table)
{
	const struct addr_case *c = &addr_cases[_i];
	enum email_check_status got = email_check_address(c->s, c->len);
	ck_assert_msg(got == c->want, "%s: got %s, want %s", c->what, email_check_status_name(got),
	              email_check_status_name(c->want));
}
END_TEST

START_TEST(test_email_check_address_null_is_missing)
{
	ck_assert_int_eq(email_check_address(NULL, 0), EMAIL_CHECK_MISSING);
}
END_TEST

/* Builds local@domain with the given part lengths; labels of 'a' joined by
 * dots so that each label stays <= label_len. */
static size_t build_address(char *out, size_t local_len, size_t domain_len, size_t label_len)
{
	size_t pos = 0;
	memset(out, 'a', local_len);
	pos = local_len;
	out[pos++] = '@';
	size_t in_label = 0;
	for (size_t i = 0; i < domain_len; i++) {
		/* a dot before the last octet guarantees at least two labels */
		bool dot = (in_label == label_len || i + 2 == domain_len) && in_label > 0 &&
		           i + 1 < domain_len;
		out[pos++] = dot ? '.' : 'b';
		in_label = dot ? 0 : in_label + 1;
	}
	out[pos] = '\0';
	return pos;
}

START_TEST(test_email_check_address_length_limits_are_exact)
{
	char a[600];
	size_t n;

	n = build_address(a, 64, 20, 63);
	ck_assert_int_eq(email_check_address(a, n), EMAIL_CHECK_OK);
	n = build_address(a, 65, 20, 63);
	ck_assert_int_eq(email_check_address(a, n), EMAIL_CHECK_TOO_LONG);

	/* a 63-octet label passes, 64 does not */
	memcpy(a, "x@", 2);
	memset(a + 2, 'c', 63);
	memcpy(a + 65, ".example", 9);
	ck_assert_int_eq(email_check_address(a, strlen(a)), EMAIL_CHECK_OK);
	memset(a + 2, 'c', 64);
	memcpy(a + 66, ".example", 9);
	ck_assert_int_eq(email_check_address(a, strlen(a)), EMAIL_CHECK_TOO_LONG);

	/* whole address: 254 octets pass, 255 do not */
	n = build_address(a, 64, 254 - 65, 50);
	ck_assert_uint_eq(n, 254);
	ck_assert_int_eq(email_check_address(a, n), EMAIL_CHECK_OK);
	n = build_address(a, 64, 255 - 65, 50);
	ck_assert_uint_eq(n, 255);
	ck_assert_int_eq(email_check_address(a, n), EMAIL_CHECK_TOO_LONG);
}
END_TEST

START_TEST(test_email_check_required_is_the_seed_rule)
{
	ck_assert_int_eq(email_check_required(NULL, 0), EMAIL_CHECK_MISSING);
	ck_assert_int_eq(email_check_required("", 0), EMAIL_CHECK_BLANK);
	ck_assert_int_eq(email_check_required(" \t\r\n", 4), EMAIL_CHECK_BLANK);
	ck_assert_int_eq(email_check_required("Ann", 3), EMAIL_CHECK_OK);
	/* What the seed misses: CR/LF inside and Unicode white space. */
	ck_assert_int_eq(email_check_required("Ann\r\nBcc: x", 11), EMAIL_CHECK_OK);
	ck_assert_int_eq(email_check_required("\xc2\xa0", 2), EMAIL_CHECK_OK);
	ck_assert_int_eq(email_check_required("\xe3\x80\x80", 3), EMAIL_CHECK_OK);
}
END_TEST

START_TEST(test_email_check_unicode_space_set_is_exact)
{
	static const uint32_t spaces[] = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
	                                  0x2000, 0x2005, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
	                                  0x3000};
	static const uint32_t others[] = {0x00, 0x08, 0x0E, 0x1F, 0x21, 0x84, 0x86, 0x9F, 0xA1,
	                                  0x180E, 0x1FFF, 0x200B, 0x200D, 0x2027, 0x202A, 0x2060,
	                                  0xFEFF, 0x3001};
	for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
		ck_assert_msg(email_check_is_unicode_space(spaces[i]), "U+%04X", spaces[i]);
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		ck_assert_msg(!email_check_is_unicode_space(others[i]), "U+%04X", others[i]);
}
END_TEST

START_TEST(test_email_check_utf8_next_decodes_each_length)
{
	uint32_t cp = 0;
	ck_assert_uint_eq(email_check_utf8_next("A", 1, &cp), 1);
	ck_assert_uint_eq(cp, 0x41);
	ck_assert_uint_eq(email_check_utf8_next("\xc3\xa9", 2, &cp), 2);
	ck_assert_uint_eq(cp, 0xE9);
	ck_assert_uint_eq(email_check_utf8_next("\xe3\x80\x80", 3, &cp), 3);
	ck_assert_uint_eq(cp, 0x3000);
	ck_assert_uint_eq(email_check_utf8_next("\xf4\x8f\xbf\xbf", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x10FFFF);
	ck_assert_uint_eq(email_check_utf8_next("\xc3", 1, &cp), 0);
	ck_assert_uint_eq(email_check_utf8_next("\xc3\x41", 2, &cp), 0);
}
END_TEST

struct word_case {
	const char *s;
	bool unicode;
	const char *want;
};

static const struct word_case word_cases[] = {
	{"Ann Lee", false, "Ann"},
	{"  Ann  Lee", false, "Ann"},
	{"Ann", false, "Ann"},
	{"", false, ""},
	{"Ann\tLee", false, "Ann"},
	/* ASCII splitting keeps a no-break space inside the word */
	{"Ann\xc2\xa0Lee", false, "Ann\xc2\xa0Lee"},
	{"Ann\xc2\xa0Lee", true, "Ann"},
	{"\xe3\x80\x80\xe6\x9d\x8e\xe3\x80\x80\xe5\xb0\x8f", true, "\xe6\x9d\x8e"},
	{"Jos\xc3\xa9\xe2\x80\x83\xc3\x81lvarez", true, "Jos\xc3\xa9"},
	{"Ann\xe2\x80\x8bLee", true, "Ann\xe2\x80\x8bLee"},
};

START_TEST(test_email_check_first_word_table)
{
	const struct word_case *c = &word_cases[_i];
	size_t start = 99;
	size_t n = 99;
	email_check_first_word(c->s, strlen(c->s), c->unicode, &start, &n);
	ck_assert_uint_eq(n, strlen(c->want));
	ck_assert_msg(memcmp(c->s + start, c->want, n) == 0, "case %d", _i);
}
END_TEST

#define SHAN "\xe5\xb1\xb1" /* U+5C71, 3 octets */

struct encode_case {
	const char *name;
	const char *want;
};

/* Expected values from python3: base64.b64encode(chunk.encode()). */
static const struct encode_case encode_cases[] = {
	{"Ann Lee", "\"Ann Lee\""},
	{"Ann \"A\" \\Lee", "\"Ann \\\"A\\\" \\\\Lee\""},
	{"", "\"\""},
	{"Jos\xc3\xa9 \xc3\x81lvarez", "=?UTF-8?B?Sm9zw6kgw4FsdmFyZXo=?="},
	{"Zo\xc3\xab", "=?UTF-8?B?Wm/Dqw==?="},
	{"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d", "=?UTF-8?B?5p2O5bCP6b6N?="},
	/* 43 'a' and one e-acute: exactly 45 octets, one word of 75 chars */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9",
	 "=?UTF-8?B?YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYcOp?="},
	/* 44 'a' and one e-acute: 46 octets; the split never cuts a character,
	 * and the first word ends on 42 octets, a multiple of 3, so it has no
	 * '=' padding (GMime, joining the words, stopped at one and dropped
	 * the rest of the name) */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9",
	 "=?UTF-8?B?YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh?=\r\n"
	 " =?UTF-8?B?YWHDqQ==?="},
	/* 23 e-acute: 44 octets would fit, 42 end on a multiple of 3 */
	{"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	 "\xc3\xa9\xc3\xa9\xc3\xa9",
	 "=?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp?=\r\n"
	 " =?UTF-8?B?w6nDqQ==?="},
	/* "Ann" + euro sign, 12 times: 3-octet characters on the boundary */
	{"Ann\xe2\x82\xac" "Ann\xe2\x82\xac" "Ann\xe2\x82\xac" "Ann\xe2\x82\xac" "Ann\xe2\x82\xac"
	 "Ann\xe2\x82\xac" "Ann\xe2\x82\xac" "Ann\xe2\x82\xac" "Ann\xe2\x82\xac" "Ann\xe2\x82\xac"
	 "Ann\xe2\x82\xac" "Ann\xe2\x82\xac",
	 "=?UTF-8?B?QW5u4oKsQW5u4oKsQW5u4oKsQW5u4oKsQW5u4oKsQW5u4oKsQW5u4oKsQW5u?=\r\n"
	 " =?UTF-8?B?4oKsQW5u4oKsQW5u4oKsQW5u4oKsQW5u4oKs?="},
	/* "A" and 15 CJK letters: 46 octets, and every character boundary
	 * falls on 1, 4, 7 ... octets, so no first word of base64 could end
	 * without padding (GMime read this name as "A" and 14 letters): the
	 * name is Q-encoded, in words of whole characters */
	{"A" SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN SHAN,
	 "=?UTF-8?Q?A=E5=B1=B1=E5=B1=B1=E5=B1=B1=E5=B1=B1=E5=B1=B1=E5=B1=B1?=\r\n"
	 " =?UTF-8?Q?=E5=B1=B1=E5=B1=B1=E5=B1=B1=E5=B1=B1=E5=B1=B1=E5=B1=B1=E5=B1=B1?=\r\n"
	 " =?UTF-8?Q?=E5=B1=B1=E5=B1=B1?="},
};

START_TEST(test_email_check_encode_name_vectors)
{
	const struct encode_case *c = &encode_cases[_i];
	char out[512];
	size_t n = email_check_encode_name(c->name, strlen(c->name), out, sizeof out);
	ck_assert_str_eq(out, c->want);
	ck_assert_uint_eq(n, strlen(c->want));
}
END_TEST

/* Every encoded-word in out is at most EMAIL_CHECK_WORD_MAX characters. */
static void assert_words_fit(const char *out)
{
	const char *p = out;
	while (p != NULL) {
		const char *end = strstr(p, "?=");
		ck_assert_ptr_nonnull(end);
		ck_assert_uint_le((size_t)(end + 2 - p), EMAIL_CHECK_WORD_MAX);
		p = strstr(end, "=?UTF-8?");
	}
}

START_TEST(test_email_check_encoded_words_never_exceed_75_chars)
{
	/* Every length of a name of 2-octet characters, up to the name max. */
	char name[EMAIL_CHECK_NAME_MAX];
	char out[2048];
	for (size_t chars = 1; chars <= EMAIL_CHECK_NAME_MAX / 2; chars++) {
		for (size_t i = 0; i < chars; i++)
			memcpy(name + 2 * i, "\xc3\xa9", 2);
		size_t n = email_check_encode_name(name, 2 * chars, out, sizeof out);
		ck_assert_uint_gt(n, 0);
		assert_words_fit(out);
	}
}
END_TEST

/* Names whose character boundaries never fall on a multiple of 3 octets
 * (a head of 1 or 2 octets, then a repeated unit of 3 octets, or of 1 and
 * 2, or of 4 and 2), at every length up to the name max: each is encoded
 * into the quote's 1024-octet display buffer, in words of at most 75
 * characters. */
START_TEST(test_email_check_q_fallback_fits)
{
	static const struct {
		const char *head, *unit;
	} shapes[] = {
		{"A", SHAN}, {"Ab", SHAN}, {"\xc3\xa9", SHAN}, {"A", "A\xc3\xa9"},
		{"A", "\xf0\x9f\x98\x80\xc3\xa9"},
	};
	char name[EMAIL_CHECK_NAME_MAX];
	char out[1024];
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		size_t hl = strlen(shapes[s].head), ul = strlen(shapes[s].unit);
		memcpy(name, shapes[s].head, hl);
		for (size_t len = hl + ul; len <= EMAIL_CHECK_NAME_MAX; len += ul) {
			memcpy(name + len - ul, shapes[s].unit, ul);
			size_t n = email_check_encode_name(name, len, out, sizeof out);
			ck_assert_msg(n > 0, "shape %zu, %zu octets: did not fit", s, len);
			assert_words_fit(out);
			if (len > EMAIL_CHECK_WORD_OCTETS)
				ck_assert_msg(strstr(out, "=?UTF-8?B?") == NULL, "shape %zu, %zu octets: "
				              "B words where none can end without padding", s, len);
		}
	}
}
END_TEST

START_TEST(test_email_check_encode_name_refuses_bad_input_and_small_buffers)
{
	char out[16];
	ck_assert_uint_eq(email_check_encode_name("Ann\r\nBcc", 8, out, sizeof out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(email_check_encode_name("Jos\xe9", 4, out, sizeof out), 0);
	ck_assert_uint_eq(email_check_encode_name(NULL, 0, out, sizeof out), 0);
	char small[20];
	ck_assert_uint_eq(email_check_encode_name("Zo\xc3\xab", 4, small, sizeof small), 0); /* needs 21 */
	/* Nothing half-written is left behind (found by fuzz/fuzz_quote_email.c). */
	ck_assert_str_eq(small, "");
	char fit[21];
	ck_assert_uint_eq(email_check_encode_name("Zo\xc3\xab", 4, fit, sizeof fit), 20);
	ck_assert_uint_eq(email_check_encode_name("Ann", 3, out, 5), 0); /* needs 6 */
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_email_check_escape_makes_log_safe_text)
{
	char out[64];
	ck_assert_str_eq(email_check_escape("a@b.c", 5, out, sizeof out), "a@b.c");
	ck_assert_str_eq(email_check_escape("a\r\nb", 4, out, sizeof out), "a\\x0d\\x0ab");
	ck_assert_str_eq(email_check_escape("a\0b", 3, out, sizeof out), "a\\x00b");
	ck_assert_str_eq(email_check_escape("a\\b", 3, out, sizeof out), "a\\\\b");
	ck_assert_str_eq(email_check_escape(NULL, 0, out, sizeof out), "(null)");
	/* a unit that does not fit is left out whole */
	ck_assert_str_eq(email_check_escape("ab\xff", 3, out, 6), "ab");
}
END_TEST

Suite *check_email_check_suite(void);
Suite *check_email_check_suite(void)
{
	Suite *s = suite_create("email_check");
	TCase *tc = tcase_create("names");
	tcase_add_loop_test(tc, test_email_check_name_table, 0,
	                    (int)(sizeof name_cases / sizeof name_cases[0]));
	tcase_add_test(tc, test_email_check_name_null_is_missing);
	tcase_add_test(tc, test_email_check_name_length_limit_is_exact);
	tcase_add_test(tc, test_email_check_required_is_the_seed_rule);
	tcase_add_test(tc, test_email_check_unicode_space_set_is_exact);
	tcase_add_test(tc, test_email_check_utf8_next_decodes_each_length);
	tcase_add_loop_test(tc, test_email_check_first_word_table, 0,
	                    (int)(sizeof word_cases / sizeof word_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("addresses");
	tcase_add_loop_test(tc, test_email_check_address_table, 0,
	                    (int)(sizeof addr_cases / sizeof addr_cases[0]));
	tcase_add_test(tc, test_email_check_address_null_is_missing);
	tcase_add_test(tc, test_email_check_address_length_limits_are_exact);
	suite_add_tcase(s, tc);

	tc = tcase_create("formatting");
	tcase_add_loop_test(tc, test_email_check_encode_name_vectors, 0,
	                    (int)(sizeof encode_cases / sizeof encode_cases[0]));
	tcase_add_test(tc, test_email_check_encoded_words_never_exceed_75_chars);
	tcase_add_test(tc, test_email_check_q_fallback_fits);
	tcase_add_test(tc, test_email_check_encode_name_refuses_bad_input_and_small_buffers);
	tcase_add_test(tc, test_email_check_escape_makes_log_safe_text);
	suite_add_tcase(s, tc);
	return s;
}
