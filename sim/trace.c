/* sim/trace.c - JSON-lines trace with an FNV-1a digest. A writer only: the
 * project reads JSON with jansson, never by hand. */
#include "sim/trace.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static void trace_init(struct trace *tr)
{
	memset(tr, 0, sizeof *tr);
	tr->digest = FNV_OFFSET;
}

void trace_init_off(struct trace *tr)
{
	trace_init(tr);
}

void trace_init_digest(struct trace *tr)
{
	trace_init(tr);
	tr->on = true;
}

void trace_init_file(struct trace *tr, FILE *out)
{
	trace_init(tr);
	tr->on = true;
	tr->out = out;
}

void trace_init_mem(struct trace *tr)
{
	trace_init(tr);
	tr->on = true;
	tr->mem_cap = 1 << 16;
	tr->mem = malloc(tr->mem_cap);
	ASSERT(tr->mem != NULL);
	tr->mem[0] = '\0';
}

void trace_fini(struct trace *tr)
{
	free(tr->mem);
	tr->mem = NULL;
}

const char *trace_mem(const struct trace *tr, size_t *len)
{
	if (len != NULL)
		*len = tr->mem ? tr->mem_len : 0;
	return tr->mem ? tr->mem : "";
}

static void put(struct trace *tr, const char *s, size_t n)
{
	if (tr->len + n >= TRACE_LINE_MAX - 16) {
		tr->cut = true;
		return;
	}
	memcpy(tr->line + tr->len, s, n);
	tr->len += n;
}

void trace_begin(struct trace *tr, uint64_t t_us, const char *ev)
{
	ASSERT(tr->on);
	tr->len = 0;
	tr->cut = false;
	char head[64];
	int n = snprintf(head, sizeof head, "{\"t\":%" PRIu64 ",\"ev\":\"", t_us);
	put(tr, head, (size_t)n);
	tr->len += json_escape(tr->line + tr->len, TRACE_LINE_MAX - 16 - tr->len,
	                       ev, strlen(ev));
	put(tr, "\"", 1);
}

static void put_key(struct trace *tr, const char *key)
{
	put(tr, ",\"", 2);
	put(tr, key, strlen(key));
	put(tr, "\":", 2);
}

void trace_strn(struct trace *tr, const char *key, const char *val, size_t n)
{
	put_key(tr, key);
	if (val == NULL) {
		put(tr, "null", 4);
		return;
	}
	put(tr, "\"", 1);
	size_t room = TRACE_LINE_MAX - 16 - tr->len;
	size_t w = json_escape(tr->line + tr->len, room, val, n);
	tr->len += w;
	put(tr, "\"", 1);
}

void trace_str(struct trace *tr, const char *key, const char *val)
{
	trace_strn(tr, key, val, val ? strlen(val) : 0);
}

void trace_int(struct trace *tr, const char *key, long long val)
{
	char num[32];
	int n = snprintf(num, sizeof num, "%lld", val);
	put_key(tr, key);
	put(tr, num, (size_t)n);
}

void trace_uint(struct trace *tr, const char *key, uint64_t val)
{
	char num[32];
	int n = snprintf(num, sizeof num, "%" PRIu64, val);
	put_key(tr, key);
	put(tr, num, (size_t)n);
}

void trace_bool(struct trace *tr, const char *key, bool val)
{
	put_key(tr, key);
	put(tr, val ? "true" : "false", val ? 4 : 5);
}

void trace_end(struct trace *tr)
{
	/* put() keeps 16 bytes spare for this tail. */
	if (tr->cut) {
		memcpy(tr->line + tr->len, ",\"cut\":1", 8);
		tr->len += 8;
	}
	tr->line[tr->len++] = '}';
	tr->line[tr->len++] = '\n';

	uint64_t h = tr->digest;
	for (size_t i = 0; i < tr->len; i++) {
		h ^= (unsigned char)tr->line[i];
		h *= FNV_PRIME;
	}
	tr->digest = h;
	tr->lines++;

	if (tr->out != NULL)
		fwrite(tr->line, 1, tr->len, tr->out);
	if (tr->mem != NULL && !tr->mem_truncated) {
		if (tr->mem_len + tr->len + 1 > tr->mem_cap) {
			size_t cap = tr->mem_cap * 2;
			while (cap < tr->mem_len + tr->len + 1)
				cap *= 2;
			if (cap > TRACE_MEM_MAX) {
				tr->mem_truncated = true;
				return;
			}
			char *m = realloc(tr->mem, cap);
			ASSERT(m != NULL);
			tr->mem = m;
			tr->mem_cap = cap;
		}
		memcpy(tr->mem + tr->mem_len, tr->line, tr->len);
		tr->mem_len += tr->len;
		tr->mem[tr->mem_len] = '\0';
	}
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t json_escape(char *buf, size_t cap, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		char esc[8];
		size_t elen = 0;
		size_t adv = 1;
		unsigned c = u[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2);
			elen = 2;
		} else if (c == '\r') {
			memcpy(esc, "\\r", 2);
			elen = 2;
		} else if (c == '\t') {
			memcpy(esc, "\\t", 2);
			elen = 2;
		} else if (c < 0x20 || c == 0x7f) {
			elen = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
		} else if (c < 0x80) {
			esc[0] = (char)c;
			elen = 1;
		} else {
			adv = utf8_seq_len(u + i, n - i);
			if (adv == 0) {
				/* Not UTF-8: show the byte, keep the JSON valid. */
				elen = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
				adv = 1;
			} else {
				if (w + adv > cap)
					break;
				memcpy(buf + w, s + i, adv);
				w += adv;
				i += adv;
				continue;
			}
		}
		if (w + elen > cap)
			break;
		memcpy(buf + w, esc, elen);
		w += elen;
		i += adv;
	}
	return w;
}
