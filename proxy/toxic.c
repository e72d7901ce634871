/* proxy/toxic.c - toxic specs: names, defaults, bounds, and their
 * Toxiproxy JSON form. Attribute names and units follow Toxiproxy's README
 * (latency/jitter in ms, rate in KB/s, slicer delay in microseconds). */
#include "proxy/toxic.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/assert.h"

static const char *const type_names[TOXIC_TYPE_COUNT] = {
	[TOXIC_LATENCY] = "latency",
	[TOXIC_BANDWIDTH] = "bandwidth",
	[TOXIC_SLOW_CLOSE] = "slow_close",
	[TOXIC_TIMEOUT] = "timeout",
	[TOXIC_RESET_PEER] = "reset_peer",
	[TOXIC_SLICER] = "slicer",
	[TOXIC_LIMIT_DATA] = "limit_data",
	[TOXIC_REDIS_COMMAND] = "redis_command",
	[TOXIC_PG_COMMAND] = "pg_command",
};

static const char *const action_names[TOXIC_ACTION_COUNT] = {
	[TOXIC_ACTION_ERROR] = "error",
	[TOXIC_ACTION_DROP_REPLY] = "drop_reply",
	[TOXIC_ACTION_STALL] = "stall",
	[TOXIC_ACTION_CLOSE] = "close",
};

const char *toxic_type_name(enum toxic_type type)
{
	ASSERT(type < TOXIC_TYPE_COUNT);
	return type_names[type];
}

bool toxic_type_parse(const char *name, enum toxic_type *out)
{
	for (int i = 0; i < TOXIC_TYPE_COUNT; i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*out = (enum toxic_type)i;
			return true;
		}
	}
	return false;
}

bool toxic_type_is_protocol(enum toxic_type type)
{
	return type == TOXIC_REDIS_COMMAND || type == TOXIC_PG_COMMAND;
}

const char *toxic_stream_name(enum toxic_stream stream)
{
	return stream == TOXIC_UPSTREAM ? "upstream" : "downstream";
}

const char *toxic_action_name(enum toxic_action action)
{
	ASSERT(action < TOXIC_ACTION_COUNT);
	return action_names[action];
}

static bool action_parse(const char *name, enum toxic_action *out)
{
	for (int i = 0; i < TOXIC_ACTION_COUNT; i++) {
		if (strcmp(name, action_names[i]) == 0) {
			*out = (enum toxic_action)i;
			return true;
		}
	}
	return false;
}

void toxic_spec_init(struct toxic_spec *t, enum toxic_type type)
{
	ASSERT(t != NULL);
	ASSERT(type < TOXIC_TYPE_COUNT);
	memset(t, 0, sizeof *t);
	t->type = type;
	t->toxicity = 1.0;
	t->stream = toxic_type_is_protocol(type) ? TOXIC_UPSTREAM : TOXIC_DOWNSTREAM;
	snprintf(t->command.command, sizeof t->command.command, "*");
	t->command.action = TOXIC_ACTION_ERROR;
	t->command.then = TOXIC_ACTION_STALL;
	snprintf(t->command.message, sizeof t->command.message, "%s",
	         type == TOXIC_PG_COMMAND ? "injected by faultline" : "ERR injected");
	snprintf(t->command.sqlstate, sizeof t->command.sqlstate, "XX000");
}

void toxic_spec_default_name(struct toxic_spec *t)
{
	if (t->name[0] == '\0')
		snprintf(t->name, sizeof t->name, "%s_%s", toxic_type_name(t->type),
		         toxic_stream_name(t->stream));
}

static enum result reject(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum result reject(char *err, size_t errsize, const char *fmt, ...)
{
	if (err != NULL && errsize > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	return RESULT_REJECT;
}

/* Names travel in URLs and JSON: printable ASCII without '/' or blanks. */
static bool is_valid_name(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (const char *c = s; *c != '\0'; c++) {
		if (*c <= ' ' || *c > '~' || *c == '/')
			return false;
	}
	return true;
}

/* An injected error goes into a RESP line or a PostgreSQL string field:
 * printable ASCII only, so no CR, LF or NUL can break the framing. */
static bool is_printable_text(const char *s)
{
	for (const char *c = s; *c != '\0'; c++) {
		if (*c < ' ' || *c > '~')
			return false;
	}
	return true;
}

static bool is_valid_sqlstate(const char *s)
{
	if (strlen(s) != 5)
		return false;
	for (int i = 0; i < 5; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	}
	return true;
}

enum result toxic_spec_check(const struct toxic_spec *t, char *err, size_t errsize)
{
	ASSERT(t != NULL);
	if (t->type >= TOXIC_TYPE_COUNT)
		return reject(err, errsize, "invalid toxic type");
	if (t->name[0] != '\0' && !is_valid_name(t->name))
		return reject(err, errsize, "invalid toxic name '%s'", t->name);
	if (t->stream != TOXIC_UPSTREAM && t->stream != TOXIC_DOWNSTREAM)
		return reject(err, errsize, "stream was invalid");
	if (!(t->toxicity >= 0.0 && t->toxicity <= 1.0))
		return reject(err, errsize, "toxicity must be between 0 and 1");
	switch (t->type) {
	case TOXIC_LATENCY:
		if (t->latency.latency_ms > TOXIC_TIME_MS_MAX ||
		    t->latency.jitter_ms > TOXIC_TIME_MS_MAX)
			return reject(err, errsize, "latency and jitter must be at most a day");
		break;
	case TOXIC_BANDWIDTH:
		if (t->bandwidth.rate_kb_s > TOXIC_RATE_MAX)
			return reject(err, errsize, "rate too large");
		break;
	case TOXIC_SLOW_CLOSE:
		if (t->slow_close.delay_ms > TOXIC_TIME_MS_MAX)
			return reject(err, errsize, "delay must be at most a day");
		break;
	case TOXIC_TIMEOUT:
		if (t->timeout.timeout_ms > TOXIC_TIME_MS_MAX)
			return reject(err, errsize, "timeout must be at most a day");
		break;
	case TOXIC_RESET_PEER:
		if (t->reset_peer.timeout_ms > TOXIC_TIME_MS_MAX)
			return reject(err, errsize, "timeout must be at most a day");
		break;
	case TOXIC_SLICER:
		if (t->slicer.average_size == 0 || t->slicer.average_size > TOXIC_SLICE_MAX)
			return reject(err, errsize, "average_size must be 1 to 1048576");
		if (t->slicer.size_variation >= t->slicer.average_size)
			return reject(err, errsize, "size_variation must be below average_size");
		if (t->slicer.delay_us > TOXIC_SLICE_DELAY_US_MAX)
			return reject(err, errsize, "delay must be at most a minute");
		break;
	case TOXIC_LIMIT_DATA:
		break;
	case TOXIC_REDIS_COMMAND:
	case TOXIC_PG_COMMAND:
		if (!is_valid_name(t->command.command))
			return reject(err, errsize, "invalid command '%s'", t->command.command);
		if (t->command.nth > TOXIC_NTH_MAX)
			return reject(err, errsize, "nth too large");
		if (t->command.action >= TOXIC_ACTION_COUNT)
			return reject(err, errsize, "invalid action");
		if (t->command.then != TOXIC_ACTION_STALL && t->command.then != TOXIC_ACTION_CLOSE)
			return reject(err, errsize, "then must be stall or close");
		if (t->command.message[0] == '\0' || !is_printable_text(t->command.message))
			return reject(err, errsize,
			              "message must be printable ASCII, not empty");
		if (!is_valid_sqlstate(t->command.sqlstate))
			return reject(err, errsize, "invalid sqlstate '%s'", t->command.sqlstate);
		break;
	default:
		ASSERT(!"unknown toxic type");
	}
	return RESULT_OK;
}

/* ---- JSON in ---------------------------------------------------------- */

/* Reads an optional non-negative integer attribute no larger than max. */
static enum result get_uint(const json_t *attrs, const char *key, uint64_t max,
                            uint64_t *inout, char *err, size_t errsize)
{
	const json_t *v = json_object_get(attrs, key);
	if (v == NULL)
		return RESULT_OK;
	double d;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0 || (uint64_t)i > max)
			return reject(err, errsize, "attribute %s out of range", key);
		*inout = (uint64_t)i;
		return RESULT_OK;
	}
	if (!json_is_real(v))
		return reject(err, errsize, "attribute %s must be a number", key);
	d = json_real_value(v);
	if (!(d >= 0.0 && d <= (double)max) || d != floor(d))
		return reject(err, errsize, "attribute %s out of range", key);
	*inout = (uint64_t)d;
	return RESULT_OK;
}

static enum result get_u32(const json_t *attrs, const char *key, uint32_t max,
                           uint32_t *inout, char *err, size_t errsize)
{
	uint64_t v = *inout;
	enum result rc = get_uint(attrs, key, max, &v, err, errsize);
	if (rc == RESULT_OK)
		*inout = (uint32_t)v;
	return rc;
}

static enum result get_str(const json_t *obj, const char *key, char *out, size_t size,
                           char *err, size_t errsize)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return RESULT_OK;
	if (!json_is_string(v))
		return reject(err, errsize, "%s must be a string", key);
	if (json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
		return reject(err, errsize, "%s too long or holds a NUL", key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return RESULT_OK;
}

static enum result attrs_from_json(const json_t *a, struct toxic_spec *t, char *err,
                                   size_t errsize)
{
	enum result rc = RESULT_OK;
	switch (t->type) {
	case TOXIC_LATENCY:
		rc = get_u32(a, "latency", TOXIC_TIME_MS_MAX, &t->latency.latency_ms, err, errsize);
		if (rc == RESULT_OK)
			rc = get_u32(a, "jitter", TOXIC_TIME_MS_MAX, &t->latency.jitter_ms, err,
			             errsize);
		break;
	case TOXIC_BANDWIDTH:
		rc = get_u32(a, "rate", TOXIC_RATE_MAX, &t->bandwidth.rate_kb_s, err, errsize);
		break;
	case TOXIC_SLOW_CLOSE:
		rc = get_u32(a, "delay", TOXIC_TIME_MS_MAX, &t->slow_close.delay_ms, err, errsize);
		break;
	case TOXIC_TIMEOUT:
		rc = get_u32(a, "timeout", TOXIC_TIME_MS_MAX, &t->timeout.timeout_ms, err, errsize);
		break;
	case TOXIC_RESET_PEER:
		rc = get_u32(a, "timeout", TOXIC_TIME_MS_MAX, &t->reset_peer.timeout_ms, err,
		             errsize);
		break;
	case TOXIC_SLICER:
		rc = get_u32(a, "average_size", TOXIC_SLICE_MAX, &t->slicer.average_size, err,
		             errsize);
		if (rc == RESULT_OK)
			rc = get_u32(a, "size_variation", TOXIC_SLICE_MAX,
			             &t->slicer.size_variation, err, errsize);
		if (rc == RESULT_OK)
			rc = get_u32(a, "delay", TOXIC_SLICE_DELAY_US_MAX, &t->slicer.delay_us, err,
			             errsize);
		break;
	case TOXIC_LIMIT_DATA:
		rc = get_uint(a, "bytes", INT64_MAX, &t->limit_data.bytes, err, errsize);
		break;
	case TOXIC_REDIS_COMMAND:
	case TOXIC_PG_COMMAND: {
		char action[16] = "";
		char then[16] = "";
		rc = get_str(a, "command", t->command.command, sizeof t->command.command, err,
		             errsize);
		if (rc == RESULT_OK)
			rc = get_u32(a, "nth", TOXIC_NTH_MAX, &t->command.nth, err, errsize);
		if (rc == RESULT_OK)
			rc = get_str(a, "action", action, sizeof action, err, errsize);
		if (rc == RESULT_OK && action[0] != '\0' &&
		    !action_parse(action, &t->command.action))
			rc = reject(err, errsize, "invalid action '%s'", action);
		if (rc == RESULT_OK)
			rc = get_str(a, "then", then, sizeof then, err, errsize);
		if (rc == RESULT_OK && then[0] != '\0' && !action_parse(then, &t->command.then))
			rc = reject(err, errsize, "invalid then '%s'", then);
		if (rc == RESULT_OK)
			rc = get_str(a, "message", t->command.message, sizeof t->command.message,
			             err, errsize);
		if (rc == RESULT_OK)
			rc = get_str(a, "sqlstate", t->command.sqlstate, sizeof t->command.sqlstate,
			             err, errsize);
		break;
	}
	default:
		ASSERT(!"unknown toxic type");
	}
	return rc;
}

enum result toxic_spec_from_json(const json_t *obj, const struct toxic_spec *base,
                                 struct toxic_spec *out, char *err, size_t errsize)
{
	ASSERT(out != NULL);
	if (!json_is_object(obj))
		return reject(err, errsize, "a toxic must be a JSON object");

	struct toxic_spec t;
	const json_t *type = json_object_get(obj, "type");
	if (base == NULL) {
		enum toxic_type tt;
		if (!json_is_string(type))
			return reject(err, errsize, "missing required field: type");
		if (!toxic_type_parse(json_string_value(type), &tt))
			return reject(err, errsize, "invalid toxic type '%s'",
			              json_string_value(type));
		toxic_spec_init(&t, tt);
	} else {
		t = *base;
		if (type != NULL && (!json_is_string(type) ||
		                     strcmp(json_string_value(type), toxic_type_name(t.type)) != 0))
			return reject(err, errsize, "the type of a toxic cannot change");
	}

	enum result rc = get_str(obj, "name", t.name, sizeof t.name, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	if (base != NULL && strcmp(t.name, base->name) != 0)
		return reject(err, errsize, "the name of a toxic cannot change");

	const json_t *stream = json_object_get(obj, "stream");
	if (stream != NULL) {
		const char *s = json_is_string(stream) ? json_string_value(stream) : "";
		if (strcmp(s, "upstream") == 0)
			t.stream = TOXIC_UPSTREAM;
		else if (strcmp(s, "downstream") == 0)
			t.stream = TOXIC_DOWNSTREAM;
		else
			return reject(err, errsize,
			              "stream was invalid, can be either upstream or downstream");
	}

	const json_t *tox = json_object_get(obj, "toxicity");
	if (tox != NULL) {
		if (!json_is_number(tox))
			return reject(err, errsize, "toxicity must be a number");
		t.toxicity = json_number_value(tox);
	}

	const json_t *attrs = json_object_get(obj, "attributes");
	if (attrs != NULL && !json_is_null(attrs)) {
		if (!json_is_object(attrs))
			return reject(err, errsize, "attributes must be an object");
		rc = attrs_from_json(attrs, &t, err, errsize);
		if (rc != RESULT_OK)
			return rc;
	}

	rc = toxic_spec_check(&t, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	toxic_spec_default_name(&t);
	*out = t;
	return RESULT_OK;
}

/* ---- JSON out --------------------------------------------------------- */

static int set_uint(json_t *o, const char *key, uint64_t v)
{
	return json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *attrs_to_json(const struct toxic_spec *t)
{
	json_t *a = json_object();
	if (a == NULL)
		return NULL;
	int bad = 0;
	switch (t->type) {
	case TOXIC_LATENCY:
		bad |= set_uint(a, "latency", t->latency.latency_ms);
		bad |= set_uint(a, "jitter", t->latency.jitter_ms);
		break;
	case TOXIC_BANDWIDTH:
		bad |= set_uint(a, "rate", t->bandwidth.rate_kb_s);
		break;
	case TOXIC_SLOW_CLOSE:
		bad |= set_uint(a, "delay", t->slow_close.delay_ms);
		break;
	case TOXIC_TIMEOUT:
		bad |= set_uint(a, "timeout", t->timeout.timeout_ms);
		break;
	case TOXIC_RESET_PEER:
		bad |= set_uint(a, "timeout", t->reset_peer.timeout_ms);
		break;
	case TOXIC_SLICER:
		bad |= set_uint(a, "average_size", t->slicer.average_size);
		bad |= set_uint(a, "size_variation", t->slicer.size_variation);
		bad |= set_uint(a, "delay", t->slicer.delay_us);
		break;
	case TOXIC_LIMIT_DATA:
		bad |= set_uint(a, "bytes", t->limit_data.bytes);
		break;
	case TOXIC_REDIS_COMMAND:
	case TOXIC_PG_COMMAND:
		bad |= json_object_set_new(a, "command", json_string(t->command.command));
		bad |= set_uint(a, "nth", t->command.nth);
		bad |= json_object_set_new(a, "action",
		                           json_string(toxic_action_name(t->command.action)));
		bad |= json_object_set_new(a, "then", json_string(toxic_action_name(t->command.then)));
		bad |= json_object_set_new(a, "message", json_string(t->command.message));
		if (t->type == TOXIC_PG_COMMAND)
			bad |= json_object_set_new(a, "sqlstate", json_string(t->command.sqlstate));
		break;
	default:
		ASSERT(!"unknown toxic type");
	}
	if (bad) {
		json_decref(a);
		return NULL;
	}
	return a;
}

json_t *toxic_spec_to_json(const struct toxic_spec *t)
{
	ASSERT(t != NULL);
	json_t *o = json_object();
	json_t *a = attrs_to_json(t);
	if (o == NULL || a == NULL) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	int bad = 0;
	bad |= json_object_set_new(o, "name", json_string(t->name));
	bad |= json_object_set_new(o, "type", json_string(toxic_type_name(t->type)));
	bad |= json_object_set_new(o, "stream", json_string(toxic_stream_name(t->stream)));
	bad |= json_object_set_new(o, "toxicity", json_real(t->toxicity));
	bad |= json_object_set_new(o, "attributes", a);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

bool toxic_command_matches(const struct toxic_spec *t, const char *name, const char *alt)
{
	ASSERT(t != NULL);
	ASSERT(toxic_type_is_protocol(t->type));
	const char *want = t->command.command;
	if (strcmp(want, "*") == 0)
		return true;
	if (name != NULL && name[0] != '\0' && strcasecmp(want, name) == 0)
		return true;
	return alt != NULL && alt[0] != '\0' && strcasecmp(want, alt) == 0;
}
