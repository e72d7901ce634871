/* core/email_check.c - the pure checks and formatting behind the hardened
 * quote e-mail: UTF-8 decoding, white space and control classes, address
 * syntax, RFC 2047 encoded-words (base64 from libcrypto), log escaping.
 * No state, no I/O, no allocation. */
#include "core/email_check.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/assert.h"

const char *email_check_status_name(enum email_check_status st)
{
	switch (st) {
	case EMAIL_CHECK_OK: return "ok";
	case EMAIL_CHECK_MISSING: return "missing";
	case EMAIL_CHECK_BLANK: return "blank";
	case EMAIL_CHECK_CONTROL: return "control character";
	case EMAIL_CHECK_BAD_UTF8: return "invalid UTF-8";
	case EMAIL_CHECK_TOO_LONG: return "too long";
	case EMAIL_CHECK_BAD_ADDRESS: return "bad address";
	}
	return "?";
}

size_t email_check_utf8_next(const char *s, size_t len, uint32_t *cp)
{
	ASSERT(s != NULL);
	ASSERT(len > 0);
	const unsigned char *u = (const unsigned char *)s;
	unsigned char b0 = u[0];
	size_t n;
	uint32_t c;
	uint32_t min;

	if (b0 < 0x80) {
		*cp = b0;
		return 1;
	}
	if (b0 >= 0xC2 && b0 <= 0xDF) {
		n = 2;
		c = b0 & 0x1F;
		min = 0x80;
	} else if (b0 >= 0xE0 && b0 <= 0xEF) {
		n = 3;
		c = b0 & 0x0F;
		min = 0x800;
	} else if (b0 >= 0xF0 && b0 <= 0xF4) {
		n = 4;
		c = b0 & 0x07;
		min = 0x10000;
	} else {
		return 0; /* continuation byte, C0/C1 lead (overlong) or F5..FF */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (u[i] & 0x3F);
	}
	/* Overlong forms and surrogates would let a check be bypassed by a
	 * second spelling of the same character. */
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

bool email_check_is_utf8(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = email_check_utf8_next(s + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

bool email_check_is_unicode_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool email_check_is_control(uint32_t cp)
{
	return cp <= 0x1F || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

/* ASCII classes written out: <ctype.h> follows the process locale, and
 * these answers must not. */
static bool email_check_ascii_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool email_check_ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool email_check_is_blank_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!email_check_ascii_space((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool email_check_is_blank_unicode(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = email_check_utf8_next(s + i, len - i, &cp);
		if (n == 0 || !email_check_is_unicode_space(cp))
			return false;
		i += n;
	}
	return true;
}

enum email_check_status email_check_required(const char *s, size_t len)
{
	if (s == NULL)
		return EMAIL_CHECK_MISSING;
	if (email_check_is_blank_ascii(s, len))
		return EMAIL_CHECK_BLANK;
	return EMAIL_CHECK_OK;
}

/* UTF-8 and control characters: the checks names and addresses share. */
static enum email_check_status email_check_chars(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = email_check_utf8_next(s + i, len - i, &cp);
		if (n == 0)
			return EMAIL_CHECK_BAD_UTF8;
		/* email-safe: CR and LF would end the header line and start an
		 * injected one; NUL and other controls cut or confuse it. */
		if (email_check_is_control(cp))
			return EMAIL_CHECK_CONTROL;
		i += n;
	}
	return EMAIL_CHECK_OK;
}

enum email_check_status email_check_name(const char *name, size_t len)
{
	if (name == NULL)
		return EMAIL_CHECK_MISSING;
	if (len > EMAIL_CHECK_NAME_MAX)
		return EMAIL_CHECK_TOO_LONG;
	enum email_check_status st = email_check_chars(name, len);
	if (st != EMAIL_CHECK_OK)
		return st;
	if (email_check_is_blank_unicode(name, len))
		return EMAIL_CHECK_BLANK;
	return EMAIL_CHECK_OK;
}

/* RFC 5322 atext: the characters of a dot-atom other than the dot. */
static bool email_check_is_atext(unsigned char c)
{
	if (email_check_ascii_alnum(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static enum email_check_status email_check_local(const char *s, size_t len)
{
	if (len == 0)
		return EMAIL_CHECK_BAD_ADDRESS;
	if (len > EMAIL_CHECK_LOCAL_MAX)
		return EMAIL_CHECK_TOO_LONG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (i == 0 || i + 1 == len || s[i - 1] == '.')
				return EMAIL_CHECK_BAD_ADDRESS;
		} else if (!email_check_is_atext(c)) {
			return EMAIL_CHECK_BAD_ADDRESS;
		}
	}
	return EMAIL_CHECK_OK;
}

static enum email_check_status email_check_domain(const char *s, size_t len)
{
	if (len == 0)
		return EMAIL_CHECK_BAD_ADDRESS;
	if (len > EMAIL_CHECK_DOMAIN_MAX)
		return EMAIL_CHECK_TOO_LONG;
	size_t labels = 0;
	size_t start = 0;
	/* One pass; i == len closes the last label. */
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			unsigned char c = (unsigned char)s[i];
			if (!email_check_ascii_alnum(c) && c != '-')
				return EMAIL_CHECK_BAD_ADDRESS;
			continue;
		}
		size_t label_len = i - start;
		if (label_len == 0)
			return EMAIL_CHECK_BAD_ADDRESS;
		if (label_len > EMAIL_CHECK_LABEL_MAX)
			return EMAIL_CHECK_TOO_LONG;
		if (s[start] == '-' || s[i - 1] == '-')
			return EMAIL_CHECK_BAD_ADDRESS;
		labels++;
		start = i + 1;
	}
	return labels >= 2 ? EMAIL_CHECK_OK : EMAIL_CHECK_BAD_ADDRESS;
}

enum email_check_status email_check_address(const char *addr, size_t len)
{
	if (addr == NULL)
		return EMAIL_CHECK_MISSING;
	if (len == 0)
		return EMAIL_CHECK_BLANK;
	if (len > EMAIL_CHECK_ADDRESS_MAX)
		return EMAIL_CHECK_TOO_LONG;
	enum email_check_status st = email_check_chars(addr, len);
	if (st != EMAIL_CHECK_OK)
		return st;
	if (email_check_is_blank_unicode(addr, len))
		return EMAIL_CHECK_BLANK;
	const char *at = memchr(addr, '@', len);
	if (at == NULL)
		return EMAIL_CHECK_BAD_ADDRESS;
	size_t local_len = (size_t)(at - addr);
	if (memchr(at + 1, '@', len - local_len - 1) != NULL)
		return EMAIL_CHECK_BAD_ADDRESS;
	st = email_check_local(addr, local_len);
	if (st != EMAIL_CHECK_OK)
		return st;
	return email_check_domain(at + 1, len - local_len - 1);
}

/* The white space at s[i], by the chosen rule; *n gets its length (a byte
 * that is not UTF-8 counts as one non-space octet). */
static bool email_check_space_at(const char *s, size_t len, size_t i, bool unicode, size_t *n)
{
	*n = 1;
	if (!unicode)
		return email_check_ascii_space((unsigned char)s[i]);
	uint32_t cp;
	size_t k = email_check_utf8_next(s + i, len - i, &cp);
	if (k == 0)
		return false;
	*n = k;
	return email_check_is_unicode_space(cp);
}

void email_check_first_word(const char *s, size_t len, bool unicode, size_t *start,
                            size_t *word_len)
{
	size_t i = 0;
	size_t n;

	ASSERT(s != NULL || len == 0);
	while (i < len && email_check_space_at(s, len, i, unicode, &n))
		i += n;
	size_t first = i;
	while (i < len && !email_check_space_at(s, len, i, unicode, &n))
		i += n;
	*start = first;
	*word_len = i - first;
}

static bool email_check_is_printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7E)
			return false;
	}
	return true;
}

/* Appends n octets to out at *pos, keeping room for the NUL. */
static bool email_check_put(char *out, size_t size, size_t *pos, const char *s, size_t n)
{
	if (*pos + n >= size)
		return false;
	memcpy(out + *pos, s, n);
	*pos += n;
	return true;
}

static size_t email_check_quote(const char *name, size_t len, char *out, size_t size)
{
	size_t pos = 0;

	if (!email_check_put(out, size, &pos, "\"", 1))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if ((name[i] == '"' || name[i] == '\\') && !email_check_put(out, size, &pos, "\\", 1))
			return 0;
		if (!email_check_put(out, size, &pos, &name[i], 1))
			return 0;
	}
	if (!email_check_put(out, size, &pos, "\"", 1))
		return 0;
	out[pos] = '\0';
	return pos;
}

static bool email_check_put_word(char *out, size_t size, size_t *pos, const char *chunk, size_t n)
{
	unsigned char b64[4 * (EMAIL_CHECK_WORD_OCTETS / 3) + 1];

	ASSERT(n > 0);
	ASSERT(n <= EMAIL_CHECK_WORD_OCTETS);
	int b64_len = EVP_EncodeBlock(b64, (const unsigned char *)chunk, (int)n);
	ASSERT(b64_len > 0);
	ASSERT(10 + (size_t)b64_len + 2 <= EMAIL_CHECK_WORD_MAX);
	return email_check_put(out, size, pos, "=?UTF-8?B?", 10) &&
	       email_check_put(out, size, pos, (const char *)b64, (size_t)b64_len) &&
	       email_check_put(out, size, pos, "?=", 2);
}

/* The Q form of octet c into unit (the phrase rule of RFC 2047 5(3), kept
 * to its safest subset): letters and digits as they are, a space as '_',
 * every other octet as =XX. Returns its length, 1 or 3. */
static size_t email_check_q_unit(unsigned char c, char unit[3])
{
	static const char hex[] = "0123456789ABCDEF";

	if (email_check_ascii_alnum(c)) {
		unit[0] = (char)c;
		return 1;
	}
	if (c == ' ') {
		unit[0] = '_';
		return 1;
	}
	unit[0] = '=';
	unit[1] = hex[c >> 4];
	unit[2] = hex[c & 0x0F];
	return 3;
}

/* One RFC 2047 "Q" encoded-word of n octets. */
static bool email_check_put_qword(char *out, size_t size, size_t *pos, const char *chunk, size_t n)
{
	if (!email_check_put(out, size, pos, "=?UTF-8?Q?", 10))
		return false;
	for (size_t i = 0; i < n; i++) {
		char unit[3];
		size_t u = email_check_q_unit((unsigned char)chunk[i], unit);
		if (!email_check_put(out, size, pos, unit, u))
			return false;
	}
	return email_check_put(out, size, pos, "?=", 2);
}

/* The octets of the next B word: whole characters while they fit one
 * word, cut back, when more text follows, to the last multiple of 3 octets
 * (no base64 padding inside the name: readers that join adjacent words
 * before decoding them, GMime among them, stop at the first '=' and drop
 * the rest). 0 when no character boundary gives one. */
static size_t email_check_b_chunk(const char *s, size_t len)
{
	size_t chunk = 0, whole3 = 0;
	uint32_t cp;
	while (chunk < len) {
		size_t n = email_check_utf8_next(s + chunk, len - chunk, &cp);
		ASSERT(n > 0); /* the caller checked the name */
		if (chunk + n > EMAIL_CHECK_WORD_OCTETS)
			break;
		chunk += n;
		if (chunk % 3 == 0)
			whole3 = chunk;
	}
	ASSERT(chunk > 0);
	return chunk < len ? whole3 : chunk;
}

/* The octets of the next Q word: whole characters while the word stays
 * within EMAIL_CHECK_WORD_MAX characters. */
static size_t email_check_q_chunk(const char *s, size_t len)
{
	size_t chunk = 0, qlen = 0;
	uint32_t cp;
	while (chunk < len) {
		size_t n = email_check_utf8_next(s + chunk, len - chunk, &cp);
		ASSERT(n > 0);
		size_t q = 0;
		char unit[3];
		for (size_t k = 0; k < n; k++)
			q += email_check_q_unit((unsigned char)s[chunk + k], unit);
		if (12 + qlen + q > EMAIL_CHECK_WORD_MAX)
			break;
		chunk += n;
		qlen += q;
	}
	ASSERT(chunk > 0);
	return chunk;
}

/* name is valid UTF-8 without controls. Encoded-words of whole characters
 * folded with CRLF SP: B words, or, for a name where no character boundary
 * lets a B word end without padding (an ASCII letter then CJK: 1, 4, 7 ...
 * octets), Q words throughout, which have no padding. */
static size_t email_check_encode_words(const char *name, size_t len, char *out, size_t size)
{
	bool q = false;
	size_t pos = 0;
	size_t i = 0;
	while (i < len) {
		size_t chunk = q ? email_check_q_chunk(name + i, len - i)
		                 : email_check_b_chunk(name + i, len - i);
		if (chunk == 0) {
			q = true;
			pos = 0;
			i = 0;
			continue;
		}
		if (i > 0 && !email_check_put(out, size, &pos, "\r\n ", 3))
			return 0;
		if (!(q ? email_check_put_qword(out, size, &pos, name + i, chunk)
		        : email_check_put_word(out, size, &pos, name + i, chunk)))
			return 0;
		i += chunk;
	}
	out[pos] = '\0';
	return pos;
}

size_t email_check_encode_name(const char *name, size_t len, char *out, size_t size)
{
	ASSERT(out != NULL);
	ASSERT(size > 0);
	out[0] = '\0';
	if (name == NULL || email_check_chars(name, len) != EMAIL_CHECK_OK)
		return 0;
	/* email-safe: mail readers decode encoded-words even inside a quoted
	 * string, so a name holding "=?" is itself encoded, and reads back as
	 * typed. */
	bool plain = email_check_is_printable_ascii(name, len) && memmem(name, len, "=?", 2) == NULL;
	size_t n = plain ? email_check_quote(name, len, out, size)
	                 : email_check_encode_words(name, len, out, size);
	/* A name that did not fit leaves "", not the part written so far
	 * without its NUL, for a caller that reads out regardless. */
	if (n == 0)
		out[0] = '\0';
	return n;
}

const char *email_check_escape(const char *s, size_t len, char *out, size_t size)
{
	size_t pos = 0;

	ASSERT(out != NULL);
	ASSERT(size > 0);
	if (s == NULL) {
		snprintf(out, size, "(null)");
		return out;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char unit[5];
		size_t n;
		if (c == '\\') {
			memcpy(unit, "\\\\", 2);
			n = 2;
		} else if (c >= 0x20 && c <= 0x7E) {
			unit[0] = (char)c;
			n = 1;
		} else {
			snprintf(unit, sizeof unit, "\\x%02x", c);
			n = 4;
		}
		if (pos + n >= size)
			break;
		memcpy(out + pos, unit, n);
		pos += n;
	}
	out[pos] = '\0';
	return out;
}
