/* fuzz/fuzz_quote_email.c - fuzz target over customer data for the quote
 * e-mail: the pure checks and encodings of core/email_check.h, then
 * quote_email_send in all three variants on tests/support/fake_env. Checks
 * that the hardened variant sends no mail for invalid data, that no CR, LF
 * or other control from the input reaches a header line, that encoded names
 * decode back to the input, and that a quote is mailed at most once.
 * Input: mode, name length (2 bytes), ref length, two buffer sizes (2 + 2),
 * then the name, the ref and the address (the rest). */
#include "fuzz/fuzz.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/assert.h"
#include "core/email_check.h"
#include "core/quote_email.h"
#include "tests/support/fake_env.h"

#define FUZZ_QE_FROM_ADDRESS "quotes@faultline.example"
#define FUZZ_QE_FROM_NAME "Faultline Quotes"
#define FUZZ_QE_REF_DEFAULT "Q-1"
#define FUZZ_QE_FIELD_MAX 2048   /* bytes of name or ref taken from an input */
#define FUZZ_QE_ENCODE_MAX 8192  /* room for any name of FUZZ_QE_FIELD_MAX */
#define FUZZ_QE_HEADERS 6        /* header fields the builder writes */

enum fuzz_qe_mode_bits {
	FUZZ_QE_NAME_NULL = 0x04,
	FUZZ_QE_EMAIL_NULL = 0x08,
	FUZZ_QE_REF_INPUT = 0x10, /* the ref comes from the input */
	FUZZ_QE_TWICE = 0x20,     /* the same quote is sent again */
	FUZZ_QE_MAIL_FAIL = 0x40, /* the first send fails (0x80: times out) */
};

/* ---- the pure checks --------------------------------------------------- */

static bool fuzz_qe_printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static void fuzz_qe_check_utf8(const char *s, size_t len)
{
	size_t i = 0;
	bool valid = true;
	while (i < len) {
		uint32_t cp = 0;
		size_t n = email_check_utf8_next(s + i, len - i, &cp);
		ASSERT(n <= 4);
		ASSERT(n <= len - i);
		if (n == 0) {
			valid = false;
			i++;
			continue;
		}
		ASSERT(cp <= 0x10FFFF);
		ASSERT(cp < 0xD800 || cp > 0xDFFF);
		ASSERT(n == 1 || cp >= 0x80);
		i += n;
	}
	ASSERT(email_check_is_utf8(s, len) == valid);
}

/* Undoes a quoted-string or the encoded-words of email_check_encode_name
 * and compares with the name it came from. */
static void fuzz_qe_check_decodes(const char *out, size_t n, const char *name, size_t len)
{
	static char back[FUZZ_QE_ENCODE_MAX];
	size_t bl = 0;

	if (out[0] == '"') {
		ASSERT(n >= 2 && out[n - 1] == '"');
		for (size_t i = 1; i + 1 < n; i++) {
			if (out[i] == '\\')
				i++;
			else
				ASSERT(out[i] != '"');
			ASSERT(i + 1 < n);
			back[bl++] = out[i];
		}
		ASSERT(bl == len && memcmp(back, name, len) == 0);
		return;
	}
	size_t i = 0;
	bool q_name = false;
	while (i < n) {
		if (i > 0) {
			ASSERT(n - i > 3 && memcmp(out + i, "\r\n ", 3) == 0);
			i += 3;
		}
		size_t w = i;
		while (w < n && out[w] != '\r')
			w++;
		size_t wl = w - i;
		ASSERT(wl <= EMAIL_CHECK_WORD_MAX);
		ASSERT(wl > 12 && memcmp(out + w - 2, "?=", 2) == 0);
		unsigned char chunk[EMAIL_CHECK_WORD_MAX];
		int cl = 0;
		if (memcmp(out + i, "=?UTF-8?Q?", 10) == 0) {
			/* A Q name is Q throughout. */
			ASSERT(i == 0 || q_name);
			q_name = true;
			for (size_t k = i + 10; k < w - 2; k++) {
				char c = out[k];
				if (c == '_') {
					chunk[cl++] = ' ';
				} else if (c == '=') {
					ASSERT(k + 2 < w - 2 && isxdigit((unsigned char)out[k + 1]) &&
					       isxdigit((unsigned char)out[k + 2]));
					char hex[3] = {out[k + 1], out[k + 2], '\0'};
					chunk[cl++] = (unsigned char)strtoul(hex, NULL, 16);
					k += 2;
				} else {
					ASSERT(isalnum((unsigned char)c));
					chunk[cl++] = (unsigned char)c;
				}
			}
			ASSERT(cl > 0);
		} else {
			ASSERT(memcmp(out + i, "=?UTF-8?B?", 10) == 0 && !q_name);
			const unsigned char *b64 = (const unsigned char *)out + i + 10;
			int b64_len = (int)wl - 12;
			ASSERT(b64_len % 4 == 0);
			cl = EVP_DecodeBlock(chunk, b64, b64_len);
			ASSERT(cl > 0);
			/* EVP_DecodeBlock counts the bytes that padding stands for. */
			for (int p = b64_len - 1; p >= 0 && b64[p] == '='; p--)
				cl--;
			ASSERT(cl > 0 && cl <= EMAIL_CHECK_WORD_OCTETS);
			/* Only the last word may end in padding: readers that join
			 * the words before decoding (GMime) stop at an '='. */
			ASSERT(w == n || cl % 3 == 0);
		}
		/* Words split between characters, never inside one. */
		ASSERT(email_check_is_utf8((const char *)chunk, (size_t)cl));
		ASSERT(bl + (size_t)cl <= sizeof back);
		memcpy(back + bl, chunk, (size_t)cl);
		bl += (size_t)cl;
		i = w;
	}
	ASSERT(bl == len && memcmp(back, name, len) == 0);
}

static void fuzz_qe_check_pure(const char *name, size_t len, size_t out_size, size_t log_size)
{
	fuzz_qe_check_utf8(name, len);

	enum email_check_status st = email_check_name(name, len);
	ASSERT(strcmp(email_check_status_name(st), "?") != 0);
	if (st == EMAIL_CHECK_OK) {
		ASSERT(len <= EMAIL_CHECK_NAME_MAX);
		ASSERT(email_check_is_utf8(name, len));
		ASSERT(!email_check_is_blank_unicode(name, len));
		for (size_t i = 0; i < len;) {
			uint32_t cp;
			size_t k = email_check_utf8_next(name + i, len - i, &cp);
			ASSERT(k > 0);
			ASSERT(!email_check_is_control(cp));
			i += k;
		}
	}
	st = email_check_address(name, len);
	if (st == EMAIL_CHECK_OK) {
		ASSERT(len <= EMAIL_CHECK_ADDRESS_MAX);
		const char *at = memchr(name, '@', len);
		ASSERT(at != NULL && memchr(at + 1, '@', len - (size_t)(at - name) - 1) == NULL);
		for (size_t i = 0; i < len; i++)
			ASSERT(fuzz_qe_printable((unsigned char)name[i]) && name[i] != ' ');
	}
	if (email_check_required(name, len) == EMAIL_CHECK_OK)
		ASSERT(!email_check_is_blank_ascii(name, len));

	for (int unicode = 0; unicode <= 1; unicode++) {
		size_t start = len + 1, word = len + 1;
		email_check_first_word(name, len, unicode != 0, &start, &word);
		ASSERT(start <= len);
		ASSERT(word <= len - start);
		ASSERT(start + word == len || word > 0 || start == len);
	}

	/* Any valid name encodes into a large enough buffer; into a small one
	 * it fits or gives 0, never a partial header. */
	static char out[FUZZ_QE_ENCODE_MAX];
	bool chars_ok = email_check_is_utf8(name, len);
	for (size_t i = 0; chars_ok && i < len;) {
		uint32_t cp;
		size_t k = email_check_utf8_next(name + i, len - i, &cp);
		chars_ok = !email_check_is_control(cp);
		i += k;
	}
	size_t sizes[2] = {sizeof out, out_size % sizeof out + 1};
	for (int s = 0; s < 2; s++) {
		memset(out, 'X', sizeof out);
		size_t n = email_check_encode_name(name, len, out, sizes[s]);
		ASSERT(n < sizes[s]);
		ASSERT(out[n] == '\0');
		if (s == 0)
			ASSERT((n > 0) == (chars_ok && len > 0) || (len == 0 && n == 2));
		if (n == 0)
			continue;
		ASSERT(strlen(out) == n);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)out[i];
			if (c == '\r') {
				ASSERT(i + 2 < n && out[i + 1] == '\n' && out[i + 2] == ' ');
				i += 2;
				continue;
			}
			ASSERT(fuzz_qe_printable(c));
		}
		fuzz_qe_check_decodes(out, n, name, len);
	}

	char esc[512];
	size_t es = log_size % sizeof esc + 1;
	email_check_escape(name, len, esc, es);
	size_t el = strlen(esc);
	ASSERT(el < es);
	for (size_t i = 0; i < el; i++)
		ASSERT(fuzz_qe_printable((unsigned char)esc[i]));
}

/* ---- the send ---------------------------------------------------------- */

struct fuzz_qe_answer {
	int calls;
	enum quote_email_status st;
};

static void fuzz_qe_on_done(void *arg, enum quote_email_status st)
{
	struct fuzz_qe_answer *a = arg;
	a->calls++;
	a->st = st;
}

static bool fuzz_qe_ref_ok(const char *ref)
{
	size_t len = strlen(ref);
	if (len == 0 || len > QUOTE_EMAIL_REF_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = ref[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* email-safe: every header line is printable ASCII; a continuation line
 * carries only an encoded-word; each field comes once; To ends with the
 * address given, in angle brackets. */
static void fuzz_qe_check_headers(const char *m, size_t len, const char *email, size_t email_len)
{
	static const char *const fields[FUZZ_QE_HEADERS] = {
		"From: ", "To: ", "Subject: ", "Message-ID: ", "MIME-Version: ", "Content-Type: ",
	};
	const char *end = memmem(m, len, "\r\n\r\n", 4);
	ASSERT(end != NULL);
	size_t hlen = (size_t)(end - m) + 2;
	unsigned seen = 0;
	int current = -1;
	const char *to_last = NULL;
	size_t to_last_len = 0;
	for (size_t i = 0; i < hlen;) {
		const char *line = m + i;
		const char *crlf = memmem(line, hlen - i, "\r\n", 2);
		ASSERT(crlf != NULL);
		size_t ll = (size_t)(crlf - line);
		ASSERT(ll > 0);
		for (size_t k = 0; k < ll; k++)
			ASSERT(fuzz_qe_printable((unsigned char)line[k]));
		if (line[0] == ' ') {
			ASSERT(current == 0 || current == 1);
			ASSERT(ll > 11 && (memcmp(line, " =?UTF-8?B?", 11) == 0 ||
			                   memcmp(line, " =?UTF-8?Q?", 11) == 0));
		} else {
			int f = 0;
			while (f < FUZZ_QE_HEADERS && strncmp(line, fields[f], strlen(fields[f])) != 0)
				f++;
			ASSERT(f < FUZZ_QE_HEADERS);
			ASSERT(!(seen & (1u << f)));
			seen |= 1u << f;
			current = f;
		}
		if (current == 1) {
			to_last = line;
			to_last_len = ll;
		}
		i += ll + 2;
	}
	ASSERT(seen == (1u << FUZZ_QE_HEADERS) - 1);
	ASSERT(to_last != NULL && to_last_len >= email_len + 3);
	const char *tail = to_last + to_last_len - email_len - 3;
	ASSERT(tail[0] == ' ' && tail[1] == '<' && memcmp(tail + 2, email, email_len) == 0 &&
	       tail[email_len + 2] == '>');
}

static enum quote_email_status fuzz_qe_send(struct fake_env *fe, struct quote_email *qe, const struct quote *q)
{
	struct fuzz_qe_answer a = {0, QUOTE_EMAIL_FAILED};
	quote_email_send(qe, q, fuzz_qe_on_done, &a);
	ASSERT(a.calls == 0);
	fake_env_run(fe);
	ASSERT(a.calls == 1);
	ASSERT(fake_env_pending(fe) == 0);
	ASSERT(fake_env_conns_in_use(fe) == 0);
	ASSERT(fake_env_sql_misuse(fe) == 0);
	ASSERT(strcmp(quote_email_status_name(a.st), "?") != 0);
	return a.st;
}

static void fuzz_qe_check_send(enum variant v, uint8_t mode, const struct quote *q)
{
	struct fake_env *fe = fake_env_create(7);
	struct quote_email_config cfg = {.variant = v, .from_address = FUZZ_QE_FROM_ADDRESS,
	                                 .from_name = FUZZ_QE_FROM_NAME};
	struct quote_email *qe = quote_email_create(fake_env_core(fe), &cfg);
	ASSERT(qe != NULL);
	bool timeout = (mode & 0x80) != 0;
	if (mode & FUZZ_QE_MAIL_FAIL) {
		if (timeout)
			fake_env_fail(fe, "mail", 1, 1, OUTCOME_TIMEOUT);
		else
			fake_env_fail_mail(fe, "mail", 1, 1, 550);
	}

	bool name_bad, email_bad;
	switch (v) {
	case VARIANT_LEGACY:
		name_bad = q->customer_name == NULL;
		email_bad = q->customer_email == NULL;
		break;
	case VARIANT_SEED:
		name_bad = email_check_required(q->customer_name, q->name_len) != EMAIL_CHECK_OK;
		email_bad = email_check_required(q->customer_email, q->email_len) != EMAIL_CHECK_OK;
		break;
	default:
		name_bad = email_check_name(q->customer_name, q->name_len) != EMAIL_CHECK_OK ||
		           !fuzz_qe_ref_ok(q->ref);
		email_bad = email_check_address(q->customer_email, q->email_len) != EMAIL_CHECK_OK;
		break;
	}
	bool refused = name_bad || email_bad;

	int rounds = (mode & FUZZ_QE_TWICE) ? 2 : 1;
	enum quote_email_status first = QUOTE_EMAIL_FAILED;
	for (int r = 0; r < rounds; r++) {
		int mails_before = fake_env_mails(fe);
		int calls_before = fake_env_count(fe, "mail");
		enum quote_email_status st = fuzz_qe_send(fe, qe, q);
		int sent = fake_env_mails(fe) - mails_before;
		if (r == 0)
			first = st;
		ASSERT(sent == 0 || sent == 1);
		ASSERT(st != QUOTE_EMAIL_SENT || fake_env_count(fe, "mail") == calls_before + 1);
		if (refused) {
			/* Invalid data: nothing sent, nothing claimed. */
			ASSERT(st == (v == VARIANT_LEGACY ? QUOTE_EMAIL_UNHANDLED : QUOTE_EMAIL_INVALID));
			ASSERT(fake_env_count(fe, "mail") == calls_before);
			ASSERT(fake_env_count(fe, "sql") == 0);
			continue;
		}
		ASSERT(st != QUOTE_EMAIL_INVALID && st != QUOTE_EMAIL_UNHANDLED);
		if (v != VARIANT_HARDENED)
			continue;
		/* hardened: valid data always fits the message; at most once. */
		if (r == 0 && !(mode & FUZZ_QE_MAIL_FAIL))
			ASSERT(st == QUOTE_EMAIL_SENT);
		if (r == 1 && (first == QUOTE_EMAIL_SENT || (first == QUOTE_EMAIL_FAILED && timeout)))
			ASSERT(st == QUOTE_EMAIL_ALREADY_SENT);
		ASSERT(fake_env_mails(fe) <= 1);
		if (st == QUOTE_EMAIL_SENT) {
			int i = fake_env_mails(fe) - 1;
			fuzz_qe_check_headers(fake_env_mail_data(fe, i), fake_env_mail_len(fe, i), q->customer_email,
			                      q->email_len);
			ASSERT(strlen(fake_env_mail_data(fe, i)) == fake_env_mail_len(fe, i));
		}
	}
	quote_email_destroy(qe);
	fake_env_destroy(fe);
}

int fuzz_quote_email_one(const uint8_t *data, size_t size)
{
	struct fuzz_reader in = {data, size};
	uint8_t mode = fuzz_take_u8(&in);
	size_t name_want = fuzz_take_u16(&in) % (FUZZ_QE_FIELD_MAX + 1);
	size_t ref_want = fuzz_take_u8(&in);
	uint16_t out_size = fuzz_take_u16(&in);
	uint16_t log_size = fuzz_take_u16(&in);
	size_t name_len, ref_len, email_len;
	const uint8_t *name = fuzz_take_bytes(&in, name_want, &name_len);
	const uint8_t *ref_raw = fuzz_take_bytes(&in, ref_want, &ref_len);
	const uint8_t *email = fuzz_take_bytes(&in, FUZZ_QE_FIELD_MAX, &email_len);

	fuzz_qe_check_pure((const char *)name, name_len, out_size, log_size);
	fuzz_qe_check_pure((const char *)email, email_len, out_size, log_size);

	char ref[256 + 1];
	memcpy(ref, ref_raw, ref_len);
	ref[ref_len] = '\0';
	struct quote q = {
		.ref = (mode & FUZZ_QE_REF_INPUT) ? ref : FUZZ_QE_REF_DEFAULT,
		.customer_name = (mode & FUZZ_QE_NAME_NULL) ? NULL : (const char *)name,
		.name_len = (mode & FUZZ_QE_NAME_NULL) ? 0 : name_len,
		.customer_email = (mode & FUZZ_QE_EMAIL_NULL) ? NULL : (const char *)email,
		.email_len = (mode & FUZZ_QE_EMAIL_NULL) ? 0 : email_len,
	};
	/* Empty fields point at something, as a caller's strings would. */
	if (q.customer_name != NULL && name_len == 0)
		q.customer_name = "";
	if (q.customer_email != NULL && email_len == 0)
		q.customer_email = "";
	fuzz_qe_check_send((enum variant)((mode & 0x03) % VARIANT_COUNT), mode, &q);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_quote_email_one(data, size);
}
#endif
