/* core/env.h - the ports: everything core/ may reach outside itself.
 * A struct core_env is handed to every fix. Each port operation is
 * asynchronous and calls its done function exactly once, never before the
 * call returns, with an outcome that names what happened. The simulator
 * (sim/simnet.c) backs the ports with in-process models; live mode backs them
 * with hiredis, libpq and libcurl. Nothing here includes an I/O library. */
#ifndef CORE_ENV_H
#define CORE_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sql.h"

/* What happened to one port operation. */
enum outcome {
	OUTCOME_OK = 0,    /* the server answered normally */
	OUTCOME_ERROR,     /* the server answered with an error (Redis -ERR,
	                    * an SQLSTATE, a non-2xx HTTP status, an SMTP 4xx/5xx) */
	OUTCOME_TIMEOUT,   /* no answer before the client's deadline; the
	                    * operation may or may not have been applied */
	OUTCOME_CONN_LOST, /* refused, reset or closed: no answer */
};

const char *outcome_name(enum outcome oc);

/* ---- Redis-like key-value port -------------------------------------- */

#define KV_ARGV_MAX 8     /* arguments in one command */
#define KV_TXN_MAX 4      /* commands in one MULTI/EXEC */

enum kv_reply_type {
	KV_REPLY_STATUS,  /* +OK */
	KV_REPLY_ERROR,   /* -ERR ..., -OOM ..., -LOADING ... */
	KV_REPLY_INTEGER, /* :1 */
	KV_REPLY_BULK,    /* $3 abc */
	KV_REPLY_NIL,     /* $-1 or *-1 */
	KV_REPLY_ARRAY,   /* *2 ... (EXEC) */
};

struct kv_reply {
	enum kv_reply_type type;
	long long integer;               /* KV_REPLY_INTEGER */
	const char *str;                 /* STATUS, ERROR, BULK; NUL-terminated */
	size_t len;                      /* bytes in str */
	size_t elements;                 /* ARRAY */
	const struct kv_reply *element;  /* ARRAY: elements entries */
};

struct kv_cmd {
	int argc;
	const char *argv[KV_ARGV_MAX];
};

/* Whether word (a command name or option) is lower, ignoring case as Redis
 * does. lower is a lower-case ASCII literal of letters only. Inline and
 * without a locale: it runs several times per simulated command. */
static inline bool kv_word_is(const char *word, const char *lower)
{
	for (; *lower != '\0'; word++, lower++) {
		if ((*word | 0x20) != *lower) /* only 'X' and 'x' map to 'x' */
			return false;
	}
	return *word == '\0';
}

/* reply is borrowed for the duration of the call. It is non-NULL for
 * OUTCOME_OK and OUTCOME_ERROR (type KV_REPLY_ERROR), NULL otherwise. */
typedef void kv_done_fn(void *arg, enum outcome oc, const struct kv_reply *reply);

struct kv_port {
	void *ctx;
	/* One command, e.g. {"INCR", key}. argv strings are borrowed. */
	void (*command)(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done,
	                void *arg);
	/* MULTI, the commands, EXEC as one unit. On OUTCOME_OK the reply is the
	 * EXEC array (one element per command, errors inside as elements). */
	void (*transaction)(void *ctx, int ncmds, const struct kv_cmd *cmds,
	                    kv_done_fn *done, void *arg);
};

/* ---- SQL port --------------------------------------------------------- */

struct sql_conn; /* opaque, owned by the port */

#define SQL_PARAMS_MAX 4

struct sql_result {
	int nrows;
	int ncols;
	const char *const *values; /* nrows * ncols, row-major; NULL is SQL NULL */
	long long affected;        /* rows inserted, updated or deleted */
	char sqlstate[6];          /* "00000" on success, else the error code */
	const char *message;       /* server message on error, else "" */
};

/* On OUTCOME_OK conn is a connection the caller owns until it calls
 * release. On OUTCOME_ERROR sqlstate says why (53300: pool exhausted). */
typedef void sql_acquire_fn(void *arg, enum outcome oc, struct sql_conn *conn,
                            const char *sqlstate);
/* res is borrowed for the duration of the call; non-NULL for OUTCOME_OK and
 * OUTCOME_ERROR. After OUTCOME_CONN_LOST or OUTCOME_TIMEOUT the connection is
 * broken: its open transaction is gone (rolled back, or committed when it was
 * the COMMIT that was cut), and the caller must release it. */
typedef void sql_done_fn(void *arg, enum outcome oc, const struct sql_result *res);

struct sql_port {
	void *ctx;
	void (*acquire)(void *ctx, sql_acquire_fn *done, void *arg);
	/* Runs catalogue statement stmt (core/sql.h) with nparams text params. */
	void (*exec)(void *ctx, struct sql_conn *conn, enum sql_stmt stmt,
	             int nparams, const char *const *params, sql_done_fn *done,
	             void *arg);
	/* Gives the connection back; a broken one is discarded. Rolls back a
	 * transaction still open. Synchronous, never fails. */
	void (*release)(void *ctx, struct sql_conn *conn);
};

/* ---- Stripe port ------------------------------------------------------ */

struct stripe_customer_params {
	const char *email;
	const char *user_id;          /* sent as metadata[user_id] */
	const char *idempotency_key;  /* NULL: no Idempotency-Key header */
};

struct stripe_reply {
	int http_status;         /* 200, 400, 409, 429, 500 ... */
	const char *error_type;  /* "idempotency_error", "api_error", ... or "" */
	const char *customer_id; /* "cus_..." on success, else "" */
	bool idempotent_replay;  /* Stripe's Idempotent-Replayed: true */
};

/* r is borrowed; non-NULL for OUTCOME_OK and OUTCOME_ERROR. */
typedef void stripe_done_fn(void *arg, enum outcome oc,
                            const struct stripe_reply *r);

struct stripe_port {
	void *ctx;
	void (*customer_create)(void *ctx, const struct stripe_customer_params *p,
	                        stripe_done_fn *done, void *arg);
	/* Searches Stripe for the customer made for user_id (its
	 * metadata[user_id]); r->customer_id is the oldest such customer, ""
	 * when Stripe has none. Stripe's search is eventually consistent: a
	 * customer made in the last minute may not be found yet. */
	void (*customer_find)(void *ctx, const char *user_id, stripe_done_fn *done,
	                      void *arg);
};

/* ---- Mail port -------------------------------------------------------- */

struct mail_message {
	const char *from;  /* envelope MAIL FROM address */
	const char *to;    /* envelope RCPT TO address */
	const char *data;  /* the whole message as on the wire: header lines
	                    * ending CRLF, an empty line, the body */
	size_t len;
};

/* smtp_code: the server's final reply code (250 ...), 0 without one. */
typedef void mail_done_fn(void *arg, enum outcome oc, int smtp_code);

struct mail_port {
	void *ctx;
	void (*send)(void *ctx, const struct mail_message *m, mail_done_fn *done,
	             void *arg);
};

/* ---- Clock, randomness, log ------------------------------------------ */

typedef void clock_fn(void *arg);

struct clock_port {
	void *ctx;
	uint64_t (*now_us)(void *ctx);      /* monotonic, microseconds */
	int64_t (*wall_s)(void *ctx);       /* Unix time, seconds (signatures) */
	void (*after)(void *ctx, uint64_t delay_us, clock_fn *fn, void *arg);
	uint64_t (*random)(void *ctx);      /* jitter; from the run's seed */
};

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct log_port {
	void *ctx;
	/* tag is a monitoring tag such as "RateLimit" (printed "[RateLimit]"). */
	void (*write)(void *ctx, enum log_level level, const char *tag,
	              const char *msg);
};

struct core_env {
	struct kv_port kv;
	struct sql_port sql;
	struct stripe_port stripe;
	struct mail_port mail;
	struct clock_port clock;
	struct log_port log;
};

/* Formats into a bounded buffer (CORE_LOG_MAX bytes, truncated) and writes
 * through env->log. */
#define CORE_LOG_MAX 512
void core_log(const struct core_env *env, enum log_level level, const char *tag,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The three variants of every fix. */
enum variant { VARIANT_LEGACY, VARIANT_SEED, VARIANT_HARDENED, VARIANT_COUNT };
const char *variant_name(enum variant v);
/* Returns true and sets *out when name is "legacy", "seed" or "hardened". */
bool variant_parse(const char *name, enum variant *out);

#endif
