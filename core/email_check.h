/* core/email_check.h - pure checks and formatting for customer names and
 * e-mail addresses: UTF-8, Unicode white space, control characters, address
 * syntax and lengths (RFC 5321), RFC 2047 encoded-words, log escaping.
 * No I/O and no state; not a full RFC 5322 parser (see email_check_address). */
#ifndef CORE_EMAIL_CHECK_H
#define CORE_EMAIL_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMAIL_CHECK_NAME_MAX 256     /* octets in a display name */
#define EMAIL_CHECK_ADDRESS_MAX 254  /* octets in a whole address (RFC 5321 path less <>) */
#define EMAIL_CHECK_LOCAL_MAX 64     /* octets before the '@' */
#define EMAIL_CHECK_DOMAIN_MAX 255   /* octets after the '@' */
#define EMAIL_CHECK_LABEL_MAX 63     /* octets in one domain label */
#define EMAIL_CHECK_WORD_MAX 75      /* characters in one RFC 2047 encoded-word */
/* Raw octets one encoded-word can carry: 75 less "=?UTF-8?B?" and "?=" leaves
 * 63 base64 characters, so 60, which is 45 octets. */
#define EMAIL_CHECK_WORD_OCTETS 45

enum email_check_status {
	EMAIL_CHECK_OK,
	EMAIL_CHECK_MISSING,     /* NULL */
	EMAIL_CHECK_BLANK,       /* empty, or white space only */
	EMAIL_CHECK_CONTROL,     /* CR, LF, NUL or another C0 control, DEL, C1 */
	EMAIL_CHECK_BAD_UTF8,    /* not well-formed UTF-8 */
	EMAIL_CHECK_TOO_LONG,    /* over one of the maxima above */
	EMAIL_CHECK_BAD_ADDRESS, /* address syntax */
};

const char *email_check_status_name(enum email_check_status st);

/* Decodes the code point at the start of s (len > 0 octets). Returns its
 * length (1..4) and sets *cp, or returns 0 for bytes that are not
 * well-formed UTF-8: stray continuation, overlong form, surrogate, above
 * U+10FFFF, or cut short. */
size_t email_check_utf8_next(const char *s, size_t len, uint32_t *cp);
bool email_check_is_utf8(const char *s, size_t len);

/* The Unicode White_Space property: U+0009-000D, 0020, 0085, 00A0, 1680,
 * 2000-200A, 2028, 2029, 202F, 205F, 3000. */
bool email_check_is_unicode_space(uint32_t cp);
/* C0 (U+0000-001F), DEL (U+007F) and C1 (U+0080-009F). */
bool email_check_is_control(uint32_t cp);

/* Empty or only ASCII white-space octets (HT, LF, VT, FF, CR, SP) (the seed variant's rule). */
bool email_check_is_blank_ascii(const char *s, size_t len);
/* Empty or only Unicode white space; s must be valid UTF-8. */
bool email_check_is_blank_unicode(const char *s, size_t len);

/* The seed variant's check of a required field: MISSING, BLANK (ASCII
 * white space only) or OK. */
enum email_check_status email_check_required(const char *s, size_t len);

/* The hardened check of a display name: MISSING, TOO_LONG
 * (> EMAIL_CHECK_NAME_MAX), BAD_UTF8, CONTROL, BLANK (Unicode) or OK. */
enum email_check_status email_check_name(const char *name, size_t len);

/* The hardened check of an address: MISSING, BLANK, TOO_LONG (whole, local
 * part, domain or label), BAD_UTF8, CONTROL, BAD_ADDRESS or OK. OK means:
 * exactly one '@'; a dot-atom local part of 1..64 octets of RFC 5322 atext
 * (no spaces, quotes, angle brackets, no leading, trailing or double dot);
 * a domain of 1..255 octets with at least one dot, labels of 1..63
 * [A-Za-z0-9-] neither starting nor ending with '-'; ASCII only (no
 * SMTPUTF8); at most 254 octets in all. */
enum email_check_status email_check_address(const char *addr, size_t len);

/* Finds the first word of s: skips leading white space, then runs to the
 * next white space or the end. White space is ASCII (HT..CR, SP), or Unicode
 * White_Space when unicode is true (a byte that is not valid UTF-8 then
 * counts as part of a word). Sets *start and *word_len in octets. */
void email_check_first_word(const char *s, size_t len, bool unicode, size_t *start,
                            size_t *word_len);

/* Formats a display name for a From/To header. Printable ASCII without
 * "=?" becomes a quoted-string ("..." with '"' and '\' escaped); anything
 * else (an encoded-word look-alike included) becomes
 * RFC 2047 encoded-words =?UTF-8?B?...?= of at most EMAIL_CHECK_WORD_MAX
 * characters, split on character boundaries and folded with CRLF SP;
 * every word but the last carries a multiple of 3 octets (no base64
 * padding inside the name). A name where no character boundary allows that
 * (one ASCII letter, then CJK) is written as =?UTF-8?Q?...?= words instead.
 * Writes a NUL-terminated string; returns its length, or 0 (out is then "")
 * when out is too small or name is not valid UTF-8 or holds a control
 * character. */
size_t email_check_encode_name(const char *name, size_t len, char *out, size_t size);

/* Copies s for a log line: printable ASCII as is, '\' as "\\", any other
 * octet as \xNN; stops before a unit that would not fit. out is always
 * NUL-terminated (size > 0). Returns out. NULL s gives "(null)". */
const char *email_check_escape(const char *s, size_t len, char *out, size_t size);

#endif
