/* proxy/pg_wire.c - the PostgreSQL framing state machines. Headers and
 * the few body fields we keep (statement names, the start of query text) are
 * read a byte at a time; the rest of a body is skipped in one step. A batch
 * is named at its first Bind (which says what statement will run), or at
 * Execute, Flush or Sync, or when PG_WIRE_HOLD_MAX bytes of it were read. */
#include "proxy/pg_wire.h"

#include <stdio.h>
#include <string.h>

#include "core/assert.h"

enum ev { EV_NONE, EV_NAMED, EV_DONE, EV_NAMED_DONE, EV_BAD };

/* Body fields, by message type. */
enum {
	F_SKIP,        /* nothing more wanted from this body */
	F_PARSE_NAME,  /* Parse: statement name */
	F_PARSE_QUERY, /* Parse: query text, scanned for its keyword */
	F_BIND_PORTAL, /* Bind: portal name, skipped */
	F_BIND_STMT,   /* Bind: statement name */
	F_CLOSE_WHAT,  /* Close: 'S' or 'P' */
	F_CLOSE_NAME,
	F_QUERY,       /* Query: text, scanned for its keyword */
	F_READY,       /* backend ReadyForQuery: the status byte */
};

enum { KW_BLANK, KW_DASH, KW_LINE, KW_SLASH, KW_BLOCK, KW_BLOCK_STAR, KW_WORD, KW_DONE };

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static char upper(uint8_t c)
{
	return (char)((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
}

static void frame_start(struct pg_wire_parser *p)
{
	memset(&p->frame, 0, sizeof p->frame);
	p->named = false;
	p->done_pending = false;
	p->fresh = false;
}

void pg_wire_init(struct pg_wire_parser *p, enum pg_wire_side side, bool after_startup)
{
	ASSERT(p != NULL);
	ASSERT(side == PG_WIRE_FRONTEND || side == PG_WIRE_BACKEND);
	memset(p, 0, sizeof *p);
	p->side = side;
	p->typed = side == PG_WIRE_BACKEND || after_startup;
	frame_start(p);
}

const struct pg_wire_frame *pg_wire_frame(const struct pg_wire_parser *p)
{
	return &p->frame;
}

const char *pg_wire_error(const struct pg_wire_parser *p)
{
	return p->bad ? p->error : NULL;
}

static enum ev fail(struct pg_wire_parser *p, const char *why)
{
	p->bad = true;
	p->error = why;
	return EV_BAD;
}

/* Both events in one step become NAMED now and DONE on the next call. */
static enum ev merge(enum ev a, enum ev b)
{
	if (a == EV_BAD || b == EV_BAD)
		return EV_BAD;
	if (a == EV_NONE)
		return b;
	if (b == EV_NONE)
		return a;
	ASSERT(a == EV_NAMED);
	ASSERT(b == EV_DONE);
	return EV_NAMED_DONE;
}

/* ---- the prepared statements a client made ---------------------------- */

/* Index of name in the table: -1 for the unnamed statement, -2 absent. */
static int stmt_index(const struct pg_wire_parser *p, const char *name)
{
	if (name[0] == '\0')
		return p->unnamed.used ? -1 : -2;
	for (int i = 0; i < PG_WIRE_STMTS_MAX; i++) {
		if (p->stmts[i].used && strcmp(p->stmts[i].name, name) == 0)
			return i;
	}
	return -2;
}

static void stmt_put(struct pg_wire_parser *p, const char *name, const char *keyword)
{
	struct pg_wire_stmt *s = NULL;
	int at = stmt_index(p, name);
	if (name[0] == '\0')
		s = &p->unnamed;
	else if (at >= 0)
		s = &p->stmts[at];
	for (uint32_t i = 0; s == NULL && i < PG_WIRE_STMTS_MAX; i++) {
		if (!p->stmts[i].used)
			s = &p->stmts[i];
	}
	if (s == NULL) {
		s = &p->stmts[p->stmt_next];
		p->stmt_next = (p->stmt_next + 1) % PG_WIRE_STMTS_MAX;
	}
	s->used = true;
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->keyword, sizeof s->keyword, "%s", keyword);
}

static void stmt_drop(struct pg_wire_parser *p, const char *name)
{
	int at = stmt_index(p, name);
	if (at == -1)
		memset(&p->unnamed, 0, sizeof p->unnamed);
	else if (at >= 0)
		memset(&p->stmts[at], 0, sizeof p->stmts[at]);
}

const char *pg_wire_statement_keyword(const struct pg_wire_parser *p, const char *name)
{
	ASSERT(p != NULL);
	ASSERT(name != NULL);
	int at = stmt_index(p, name);
	if (at == -2)
		return NULL;
	return at == -1 ? p->unnamed.keyword : p->stmts[at].keyword;
}

/* ---- a C string field being captured ----------------------------------- */

static void cap_start(struct pg_wire_parser *p)
{
	p->cap_len = 0;
	p->cap_too_long = false;
	p->cap[0] = '\0';
}

/* Returns true at the terminating NUL. */
static bool cap_byte(struct pg_wire_parser *p, uint8_t c)
{
	if (c == 0) {
		p->cap[p->cap_len] = '\0';
		return true;
	}
	if (p->cap_len < PG_WIRE_NAME_MAX)
		p->cap[p->cap_len++] = (char)c;
	else
		p->cap_too_long = true;
	return false;
}

/* ---- the first keyword of a statement ---------------------------------- */

static void kw_start(struct pg_wire_parser *p)
{
	p->kw_state = KW_BLANK;
	p->kw_scanned = 0;
	p->kw_len = 0;
	p->kw_too_long = false;
	p->kw[0] = '\0';
}

static void kw_settle(struct pg_wire_parser *p)
{
	if (p->kw_state == KW_DONE)
		return;
	bool word = p->kw_state == KW_WORD && !p->kw_too_long;
	p->kw[word ? p->kw_len : 0] = '\0';
	p->kw_state = KW_DONE;
}

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_word(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Feeds one byte of statement text; returns true once the keyword is
 * settled (a word ended, text ended, or PG_WIRE_SCAN_MAX bytes passed).
 * Blanks, parentheses and comments before the word are skipped. */
static bool kw_byte(struct pg_wire_parser *p, uint8_t c)
{
	if (p->kw_state == KW_DONE)
		return true;
	if (c == 0 || ++p->kw_scanned > PG_WIRE_SCAN_MAX) {
		kw_settle(p);
		return true;
	}
	switch (p->kw_state) {
	case KW_BLANK:
		if (is_blank(c) || c == '(')
			return false;
		if (c == '-') {
			p->kw_state = KW_DASH;
			return false;
		}
		if (c == '/') {
			p->kw_state = KW_SLASH;
			return false;
		}
		if (is_word(c)) {
			p->kw_state = KW_WORD;
			p->kw[p->kw_len++] = upper(c);
			return false;
		}
		break;
	case KW_DASH:
		if (c == '-') {
			p->kw_state = KW_LINE;
			return false;
		}
		break;
	case KW_LINE:
		if (c == '\n')
			p->kw_state = KW_BLANK;
		return false;
	case KW_SLASH:
		if (c == '*') {
			p->kw_state = KW_BLOCK;
			return false;
		}
		break;
	case KW_BLOCK:
		if (c == '*')
			p->kw_state = KW_BLOCK_STAR;
		return false;
	case KW_BLOCK_STAR:
		if (c == '/')
			p->kw_state = KW_BLANK;
		else if (c != '*')
			p->kw_state = KW_BLOCK;
		return false;
	case KW_WORD:
		if (is_word(c) || (c >= '0' && c <= '9')) {
			if (p->kw_len < PG_WIRE_KEYWORD_MAX)
				p->kw[p->kw_len++] = upper(c);
			else
				p->kw_too_long = true;
			return false;
		}
		break;
	default:
		ASSERT(!"unknown keyword scanner state");
	}
	kw_settle(p);
	return true;
}

/* ---- units and messages ------------------------------------------------ */

static enum ev named(struct pg_wire_parser *p)
{
	if (p->named)
		return EV_NONE;
	p->named = true;
	return EV_NAMED;
}

static enum ev batch_named(struct pg_wire_parser *p, const char *keyword,
                           const char *statement)
{
	if (p->named)
		return EV_NONE;
	snprintf(p->frame.keyword, sizeof p->frame.keyword, "%s", keyword);
	snprintf(p->frame.statement, sizeof p->frame.statement, "%s", statement);
	return named(p);
}

static bool is_batch_type(uint8_t t)
{
	return t == 'P' || t == 'B' || t == 'D' || t == 'E' || t == 'C' || t == 'H' ||
	       t == 'S';
}

static enum ev startup_start(struct pg_wire_parser *p)
{
	uint32_t len = be32(p->hdr);
	uint32_t code = be32(p->hdr + 4);
	if (len < 8 || len > PG_WIRE_STARTUP_MAX)
		return fail(p, "bad startup packet length");
	p->msg_left = len - 8;
	p->field = F_SKIP;
	if (code == PG_WIRE_SSL_REQUEST_CODE || code == PG_WIRE_GSSENC_REQUEST_CODE) {
		if (len != 8)
			return fail(p, "bad encryption request length");
		p->frame.kind = PG_KIND_SSL_REQUEST;
	} else if (code == PG_WIRE_CANCEL_REQUEST_CODE) {
		if (len != 16)
			return fail(p, "bad cancel request length");
		p->frame.kind = PG_KIND_CANCEL;
	} else if (code >> 16 == 3) {
		p->frame.kind = PG_KIND_STARTUP;
		p->frame.expects_reply = true;
		snprintf(p->frame.keyword, sizeof p->frame.keyword, "STARTUP");
	} else {
		return fail(p, "unsupported protocol version");
	}
	return named(p);
}

static enum ev message_start(struct pg_wire_parser *p)
{
	uint8_t type = p->hdr[0];
	uint32_t len = be32(p->hdr + 1);
	if (len < 4)
		return fail(p, "message length below 4");
	if (len - 4 > PG_WIRE_MSG_MAX)
		return fail(p, "message too long");
	p->msg_type = type;
	p->msg_left = len - 4;
	p->field = F_SKIP;

	if (p->side == PG_WIRE_BACKEND) {
		p->frame.kind = PG_KIND_MESSAGE;
		p->frame.type = type;
		if (type == 'Z')
			p->field = F_READY;
		return named(p);
	}

	enum ev e = EV_NONE;
	if (!p->in_batch && p->frame.kind == PG_KIND_NONE) {
		p->frame.type = type;
		if (is_batch_type(type)) {
			p->in_batch = true;
			p->batch_has_parse = false;
			p->batch_kw[0] = '\0';
			p->frame.kind = PG_KIND_EXTENDED;
			p->frame.expects_reply = true;
		} else if (type == 'Q') {
			p->frame.kind = PG_KIND_QUERY;
			p->frame.expects_reply = true;
		} else if (type == 'F') {
			p->frame.kind = PG_KIND_QUERY;
			p->frame.expects_reply = true;
			e = named(p);
		} else {
			p->frame.kind = PG_KIND_OTHER;
			e = named(p);
		}
	}
	switch (type) {
	case 'Q':
		if (p->frame.kind == PG_KIND_QUERY) {
			p->field = F_QUERY;
			kw_start(p);
		}
		break;
	case 'P':
		p->field = F_PARSE_NAME;
		p->parse_name_ok = false;
		cap_start(p);
		kw_start(p);
		break;
	case 'B':
		p->field = F_BIND_PORTAL;
		break;
	case 'C':
		p->field = F_CLOSE_WHAT;
		break;
	case 'E':
	case 'H':
	case 'S':
		if (p->in_batch)
			e = batch_named(p, p->batch_kw, "");
		break;
	default:
		break;
	}
	return e;
}

static enum ev message_end(struct pg_wire_parser *p)
{
	p->in_body = false;
	p->hdr_len = 0;
	if (p->side == PG_WIRE_BACKEND)
		return EV_DONE;
	if (!p->typed) {
		/* Only a StartupMessage moves the stream on to typed messages;
		 * an SSLRequest is followed by another startup packet. */
		if (p->frame.kind == PG_KIND_STARTUP)
			p->typed = true;
		return EV_DONE;
	}
	enum ev e = EV_NONE;
	switch (p->msg_type) {
	case 'P':
		kw_settle(p);
		if (p->field == F_PARSE_NAME) /* body ended inside the name */
			p->parse_name_ok = false;
		if (p->parse_name_ok)
			stmt_put(p, p->parse_name, p->kw);
		if (p->in_batch && !p->batch_has_parse) {
			p->batch_has_parse = true;
			snprintf(p->batch_kw, sizeof p->batch_kw, "%s", p->kw);
		}
		break;
	case 'Q':
		if (p->frame.kind == PG_KIND_QUERY && !p->named) {
			kw_settle(p);
			snprintf(p->frame.keyword, sizeof p->frame.keyword, "%s", p->kw);
			e = named(p);
		}
		break;
	default:
		break;
	}
	if (p->in_batch) {
		if (p->msg_type == 'S') {
			p->in_batch = false;
			return merge(e, EV_DONE);
		}
		if (!p->named && p->frame.len >= PG_WIRE_HOLD_MAX)
			e = batch_named(p, p->batch_kw, "");
		return e;
	}
	return merge(e, EV_DONE);
}

/* One body byte of a field we read. */
static enum ev body_byte(struct pg_wire_parser *p, uint8_t c)
{
	switch (p->field) {
	case F_PARSE_NAME:
		if (cap_byte(p, c)) {
			p->parse_name_ok = !p->cap_too_long;
			memcpy(p->parse_name, p->cap, sizeof p->parse_name);
			p->field = F_PARSE_QUERY;
		}
		return EV_NONE;
	case F_PARSE_QUERY:
		if (kw_byte(p, c))
			p->field = F_SKIP;
		return EV_NONE;
	case F_BIND_PORTAL:
		if (c == 0) {
			p->field = F_BIND_STMT;
			cap_start(p);
		}
		return EV_NONE;
	case F_BIND_STMT: {
		if (!cap_byte(p, c))
			return EV_NONE;
		p->field = F_SKIP;
		if (p->cap_too_long)
			return batch_named(p, "", "");
		const char *kw = pg_wire_statement_keyword(p, p->cap);
		return batch_named(p, kw != NULL ? kw : "", p->cap);
	}
	case F_CLOSE_WHAT:
		p->close_what = c;
		p->field = F_CLOSE_NAME;
		cap_start(p);
		return EV_NONE;
	case F_CLOSE_NAME:
		if (cap_byte(p, c)) {
			p->field = F_SKIP;
			if (p->close_what == 'S' && !p->cap_too_long)
				stmt_drop(p, p->cap);
		}
		return EV_NONE;
	case F_QUERY:
		if (kw_byte(p, c)) {
			p->field = F_SKIP;
			snprintf(p->frame.keyword, sizeof p->frame.keyword, "%s", p->kw);
			return named(p);
		}
		return EV_NONE;
	case F_READY:
		p->frame.txn_status = (char)c;
		p->field = F_SKIP;
		return EV_NONE;
	default:
		ASSERT(!"not a field read byte by byte");
		return EV_BAD;
	}
}

enum pg_wire_status pg_wire_parse(struct pg_wire_parser *p, const uint8_t *buf,
                                  size_t len, size_t *used)
{
	ASSERT(p != NULL);
	ASSERT(used != NULL);
	ASSERT(buf != NULL || len == 0);

	*used = 0;
	if (p->bad)
		return PG_WIRE_BAD;
	if (p->done_pending) {
		p->done_pending = false;
		p->fresh = true;
		return PG_WIRE_DONE;
	}
	if (p->fresh)
		frame_start(p);

	size_t i = 0;
	while (i < len) {
		enum ev e = EV_NONE;
		if (!p->in_body) {
			uint8_t need = p->typed ? 5 : 8;
			p->hdr[p->hdr_len++] = buf[i];
			i++;
			p->frame.len++;
			if (p->hdr_len == need) {
				e = p->typed ? message_start(p) : startup_start(p);
				if (e == EV_BAD) {
					*used = i - 1;
					return PG_WIRE_BAD;
				}
				p->in_body = true;
				if (p->msg_left == 0)
					e = merge(e, message_end(p));
			}
		} else if (p->field == F_SKIP) {
			size_t n = len - i;
			if ((uint64_t)n > p->msg_left)
				n = (size_t)p->msg_left;
			/* A batch not yet named is held by the proxy: name it
			 * before it grows past PG_WIRE_HOLD_MAX. */
			if (p->in_batch && !p->named &&
			    p->frame.len + n >= PG_WIRE_HOLD_MAX) {
				n = p->frame.len >= PG_WIRE_HOLD_MAX
				        ? 0 : (size_t)(PG_WIRE_HOLD_MAX - p->frame.len);
				e = batch_named(p, p->batch_kw, "");
			}
			i += n;
			p->frame.len += n;
			p->msg_left -= n;
			if (p->msg_left == 0)
				e = merge(e, message_end(p));
		} else {
			e = body_byte(p, buf[i]);
			i++;
			p->frame.len++;
			p->msg_left--;
			if (e == EV_NONE && p->in_batch && !p->named &&
			    p->frame.len >= PG_WIRE_HOLD_MAX)
				e = batch_named(p, p->batch_kw, "");
			if (p->msg_left == 0)
				e = merge(e, message_end(p));
		}
		switch (e) {
		case EV_NONE:
			break;
		case EV_NAMED:
			*used = i;
			return PG_WIRE_NAMED;
		case EV_NAMED_DONE:
			p->done_pending = true;
			*used = i;
			return PG_WIRE_NAMED;
		case EV_DONE:
			ASSERT(p->named);
			p->fresh = true;
			*used = i;
			return PG_WIRE_DONE;
		case EV_BAD:
		default:
			ASSERT(!"unexpected event");
		}
	}
	*used = i;
	return PG_WIRE_MORE;
}

/* ---- answers the proxy writes itself ----------------------------------- */

size_t pg_wire_write_error(uint8_t *out, size_t cap, const char *sqlstate,
                           const char *message)
{
	ASSERT(out != NULL);
	ASSERT(sqlstate != NULL);
	ASSERT(message != NULL);
	size_t mlen = strlen(message);
	size_t slen = strlen(sqlstate);
	/* type, length, S ERROR, V ERROR, C code, M message, terminator */
	size_t total = 1 + 4 + (1 + 6) + (1 + 6) + (1 + slen + 1) + (1 + mlen + 1) + 1;
	if (total > cap || total - 1 > UINT32_MAX)
		return 0;
	uint8_t *w = out;
	*w++ = 'E';
	put_be32(w, (uint32_t)(total - 1));
	w += 4;
	*w++ = 'S';
	memcpy(w, "ERROR", 6);
	w += 6;
	*w++ = 'V';
	memcpy(w, "ERROR", 6);
	w += 6;
	*w++ = 'C';
	memcpy(w, sqlstate, slen + 1);
	w += slen + 1;
	*w++ = 'M';
	memcpy(w, message, mlen + 1);
	w += mlen + 1;
	*w++ = '\0';
	ASSERT((size_t)(w - out) == total);
	return total;
}

size_t pg_wire_write_ready(uint8_t *out, size_t cap, char status)
{
	ASSERT(out != NULL);
	ASSERT(status == 'I' || status == 'T' || status == 'E');
	if (cap < 6)
		return 0;
	out[0] = 'Z';
	put_be32(out + 1, 5);
	out[5] = (uint8_t)status;
	return 6;
}
