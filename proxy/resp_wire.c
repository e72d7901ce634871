/* proxy/resp_wire.c - the RESP framing state machines (requests and
 * replies). One byte at a time, except bulk payloads which are skipped in
 * one step, so the cost on large values is a length check, not a scan.
 * Follows what redis-server accepts: "*N" with N <= 0 is an empty command,
 * inline lines end at LF with an optional CR, a bulk string needs "$". */
#include "proxy/resp_wire.h"

#include <string.h>

#include "core/assert.h"

enum {
	ST_REQ_START,    /* requests: the first byte of a frame */
	ST_REQ_BULK_HDR, /* requests: '$' expected */
	ST_BULK_DATA,
	ST_BULK_CR,
	ST_BULK_LF,
	ST_NUM,          /* digits of a length or count, up to CR */
	ST_NUM_LF,
	ST_INL_LEAD,     /* inline: blanks before the first token */
	ST_INL_TOKEN,
	ST_INL_QUOTED,
	ST_INL_REST,     /* inline: the rest of the line, skipped */
	ST_REP_TYPE,     /* replies: a type byte expected */
	ST_REP_LINE,
	ST_REP_LINE_LF,
};

enum { NUM_ARGC, NUM_ARGLEN, NUM_BULKLEN, NUM_AGGLEN };

/* What one byte did to the frame. */
enum ev { EV_NONE, EV_NAMED, EV_DONE, EV_NAMED_DONE, EV_BAD };

static void frame_start(struct resp_parser *p)
{
	memset(&p->frame, 0, sizeof p->frame);
	p->named = false;
	p->done_pending = false;
	p->fresh = false;
	p->capture = false;
	p->name_too_long = false;
	p->name_len = 0;
	p->line_len = 0;
	p->args_left = 0;
	p->arg_index = 0;
	p->bulk_left = 0;
	p->quote = 0;
	p->depth = 0;
	p->left[0] = 1;
	p->state = p->side == RESP_SIDE_REQUESTS ? ST_REQ_START : ST_REP_TYPE;
}

void resp_parser_init(struct resp_parser *p, enum resp_side side)
{
	ASSERT(p != NULL);
	ASSERT(side == RESP_SIDE_REQUESTS || side == RESP_SIDE_REPLIES);
	memset(p, 0, sizeof *p);
	p->side = side;
	frame_start(p);
}

const struct resp_frame *resp_parser_frame(const struct resp_parser *p)
{
	return &p->frame;
}

const char *resp_parser_error(const struct resp_parser *p)
{
	return p->bad ? p->error : NULL;
}

static enum ev fail(struct resp_parser *p, const char *why)
{
	p->bad = true;
	p->error = why;
	return EV_BAD;
}

static void num_start(struct resp_parser *p, uint8_t what)
{
	p->state = ST_NUM;
	p->num_for = what;
	p->num = 0;
	p->num_digits = 0;
	p->num_neg = false;
}

static uint8_t upper(uint8_t c)
{
	return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
}

static void name_add(struct resp_parser *p, uint8_t c)
{
	if (p->name_len < RESP_NAME_MAX)
		p->frame.name[p->name_len++] = (char)upper(c);
	else
		p->name_too_long = true;
}

static void name_finish(struct resp_parser *p)
{
	p->capture = false;
	p->frame.name[p->name_too_long ? 0 : p->name_len] = '\0';
}

/* A reply value ended: pop every aggregate it completes. */
static enum ev value_done(struct resp_parser *p)
{
	for (;;) {
		ASSERT(p->depth <= RESP_DEPTH_MAX);
		ASSERT(p->left[p->depth] > 0);
		p->left[p->depth]--;
		if (p->left[p->depth] > 0) {
			p->state = ST_REP_TYPE;
			return EV_NONE;
		}
		if (p->depth == 0)
			return EV_DONE;
		p->depth--;
	}
}

/* A command argument ended (its CRLF read). */
static enum ev arg_done(struct resp_parser *p)
{
	enum ev e = EV_NONE;
	p->arg_index++;
	p->args_left--;
	if (p->arg_index == 1 && p->capture) {
		name_finish(p);
		e = EV_NAMED;
	}
	if (p->args_left == 0)
		return e == EV_NAMED ? EV_NAMED_DONE : EV_DONE;
	p->state = ST_REQ_BULK_HDR;
	return e;
}

static enum ev number_done(struct resp_parser *p)
{
	uint64_t n = p->num;
	switch (p->num_for) {
	case NUM_ARGC:
		/* redis-server reads "*0" and "*-1" as nothing to do, no reply. */
		if (p->num_neg || n == 0) {
			p->frame.kind = RESP_KIND_EMPTY;
			return EV_NAMED_DONE;
		}
		if (n > RESP_ARGS_MAX)
			return fail(p, "invalid multibulk length");
		p->frame.kind = RESP_KIND_COMMAND;
		p->args_left = n;
		p->arg_index = 0;
		p->state = ST_REQ_BULK_HDR;
		return EV_NONE;
	case NUM_ARGLEN:
		if (p->num_neg || n > RESP_BULK_MAX)
			return fail(p, "invalid bulk length");
		p->bulk_left = n;
		p->state = n > 0 ? ST_BULK_DATA : ST_BULK_CR;
		if (p->arg_index == 0) {
			if (n <= RESP_NAME_MAX) {
				p->capture = true;
				p->name_len = 0;
				return EV_NONE;
			}
			/* Named now so the proxy never holds a huge first argument;
			 * a name this long is no command anyone can match. */
			p->name_too_long = true;
			name_finish(p);
			return EV_NAMED;
		}
		return EV_NONE;
	case NUM_BULKLEN:
		if (p->num_neg) {
			if (n != 1)
				return fail(p, "invalid bulk length");
			return value_done(p);
		}
		if (n > RESP_BULK_MAX)
			return fail(p, "invalid bulk length");
		p->bulk_left = n;
		p->state = n > 0 ? ST_BULK_DATA : ST_BULK_CR;
		return EV_NONE;
	case NUM_AGGLEN: {
		if (p->num_neg) {
			if (n != 1 || p->agg_attr)
				return fail(p, "invalid aggregate length");
			return value_done(p);
		}
		if (n > RESP_AGG_MAX / p->agg_mult)
			return fail(p, "aggregate too long");
		uint64_t total = n * p->agg_mult;
		/* An attribute annotates the value after it: it fills no slot
		 * of its own, so the level wants one more value. */
		if (p->agg_attr)
			p->left[p->depth]++;
		if (total == 0)
			return value_done(p);
		if (p->depth == RESP_DEPTH_MAX)
			return fail(p, "aggregates nested too deep");
		p->depth++;
		p->left[p->depth] = total;
		p->state = ST_REP_TYPE;
		return EV_NONE;
	}
	default:
		ASSERT(!"unknown number purpose");
		return EV_BAD;
	}
}

static enum ev inline_byte(struct resp_parser *p, uint8_t c)
{
	p->line_len++;
	if (p->line_len > RESP_INLINE_MAX)
		return fail(p, "inline command too long");
	switch (p->state) {
	case ST_INL_LEAD:
		if (c == ' ' || c == '\t' || c == '\r')
			return EV_NONE;
		if (c == '\n') {
			p->frame.kind = RESP_KIND_EMPTY;
			return EV_NAMED_DONE;
		}
		p->frame.kind = RESP_KIND_COMMAND;
		if (c == '"' || c == '\'') {
			p->quote = c;
			p->state = ST_INL_QUOTED;
			return EV_NONE;
		}
		name_add(p, c);
		p->state = ST_INL_TOKEN;
		return EV_NONE;
	case ST_INL_TOKEN:
		if (c == ' ' || c == '\t' || c == '\r') {
			name_finish(p);
			p->state = ST_INL_REST;
			return EV_NAMED;
		}
		if (c == '\n') {
			name_finish(p);
			return EV_NAMED_DONE;
		}
		name_add(p, c);
		return EV_NONE;
	case ST_INL_QUOTED:
		if (c == '\n')
			return fail(p, "unbalanced quotes in inline command");
		if (c == p->quote) {
			name_finish(p);
			p->state = ST_INL_REST;
			return EV_NAMED;
		}
		name_add(p, c);
		return EV_NONE;
	case ST_INL_REST:
		return c == '\n' ? EV_DONE : EV_NONE;
	default:
		ASSERT(!"not an inline state");
		return EV_BAD;
	}
}

static enum ev reply_type(struct resp_parser *p, uint8_t c)
{
	switch (c) {
	case '+': case '-': case ':': case '_': case ',': case '#': case '(':
		p->state = ST_REP_LINE;
		p->line_len = 0;
		break;
	case '$': case '!': case '=':
		num_start(p, NUM_BULKLEN);
		break;
	case '*': case '~': case '>': case '%': case '|':
		num_start(p, NUM_AGGLEN);
		p->agg_mult = (c == '%' || c == '|') ? 2 : 1;
		p->agg_attr = c == '|';
		break;
	default:
		return fail(p, "unknown reply type");
	}
	if (p->named)
		return EV_NONE;
	p->frame.kind = c == '>' ? RESP_KIND_PUSH : RESP_KIND_REPLY;
	p->frame.error = c == '-' || c == '!';
	return EV_NAMED;
}

static enum ev step(struct resp_parser *p, uint8_t c)
{
	switch (p->state) {
	case ST_REQ_START:
		if (c == '*') {
			num_start(p, NUM_ARGC);
			return EV_NONE;
		}
		p->state = ST_INL_LEAD;
		return inline_byte(p, c);
	case ST_INL_LEAD:
	case ST_INL_TOKEN:
	case ST_INL_QUOTED:
	case ST_INL_REST:
		return inline_byte(p, c);
	case ST_REQ_BULK_HDR:
		if (c != '$')
			return fail(p, "expected '$' before an argument");
		num_start(p, NUM_ARGLEN);
		return EV_NONE;
	case ST_NUM:
		if (c == '-' && p->num_digits == 0 && !p->num_neg) {
			p->num_neg = true;
			return EV_NONE;
		}
		if (c >= '0' && c <= '9') {
			if (p->num_digits == RESP_DIGITS_MAX)
				return fail(p, "number too long");
			p->num = p->num * 10 + (uint64_t)(c - '0');
			p->num_digits++;
			return EV_NONE;
		}
		if (c == '\r' && p->num_digits > 0) {
			p->state = ST_NUM_LF;
			return EV_NONE;
		}
		return fail(p, "malformed length or count");
	case ST_NUM_LF:
		if (c != '\n')
			return fail(p, "expected LF after CR");
		return number_done(p);
	case ST_BULK_CR:
		if (c != '\r')
			return fail(p, "expected CRLF after bulk data");
		p->state = ST_BULK_LF;
		return EV_NONE;
	case ST_BULK_LF:
		if (c != '\n')
			return fail(p, "expected CRLF after bulk data");
		return p->side == RESP_SIDE_REQUESTS ? arg_done(p) : value_done(p);
	case ST_REP_TYPE:
		return reply_type(p, c);
	case ST_REP_LINE:
		if (c == '\r') {
			p->state = ST_REP_LINE_LF;
			return EV_NONE;
		}
		if (c == '\n')
			return fail(p, "expected CRLF at end of line");
		p->line_len++;
		if (p->line_len > RESP_LINE_MAX)
			return fail(p, "reply line too long");
		return EV_NONE;
	case ST_REP_LINE_LF:
		if (c != '\n')
			return fail(p, "expected LF after CR");
		return value_done(p);
	default:
		ASSERT(!"unknown RESP parser state");
		return EV_BAD;
	}
}

enum resp_status resp_parse(struct resp_parser *p, const uint8_t *buf, size_t len,
                            size_t *used)
{
	ASSERT(p != NULL);
	ASSERT(used != NULL);
	ASSERT(buf != NULL || len == 0);

	*used = 0;
	if (p->bad)
		return RESP_BAD;
	if (p->done_pending) {
		p->done_pending = false;
		p->fresh = true;
		return RESP_DONE;
	}
	if (p->fresh)
		frame_start(p);

	size_t i = 0;
	while (i < len) {
		if (p->state == ST_BULK_DATA) {
			size_t n = len - i;
			if ((uint64_t)n > p->bulk_left)
				n = (size_t)p->bulk_left;
			if (p->capture) {
				for (size_t k = 0; k < n; k++)
					name_add(p, buf[i + k]);
			}
			i += n;
			p->frame.len += n;
			p->bulk_left -= n;
			if (p->bulk_left == 0)
				p->state = ST_BULK_CR;
			continue;
		}
		enum ev e = step(p, buf[i]);
		if (e == EV_BAD) {
			*used = i;
			return RESP_BAD;
		}
		i++;
		p->frame.len++;
		switch (e) {
		case EV_NONE:
			break;
		case EV_NAMED:
			p->named = true;
			*used = i;
			return RESP_NAMED;
		case EV_NAMED_DONE:
			p->named = true;
			p->done_pending = true;
			*used = i;
			return RESP_NAMED;
		case EV_DONE:
			ASSERT(p->named);
			p->fresh = true;
			*used = i;
			return RESP_DONE;
		default:
			ASSERT(!"unexpected event");
		}
	}
	*used = i;
	return RESP_MORE;
}
