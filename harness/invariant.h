/* harness/invariant.h - the invariants, as pure checks over a run's history.
 * The world (harness/world.c) records what happened and snapshots the models'
 * final state into a struct history; each checker reads only that, so it
 * can be tested on hand-made histories. A checker returns the first
 * violation it finds with its simulated time and a message. */
#ifndef SIM_INVARIANT_H
#define SIM_INVARIANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario.h"

#define HIST_ID_MAX 72
#define HIST_CUSTOMERS_MAX 8   /* customers remembered per user */

enum hist_rl_verdict { HIST_RL_ALLOW, HIST_RL_REJECT, HIST_RL_ERROR };

struct hist_rl_request {
	uint32_t user;
	bool probe;              /* came back after waiting out the window */
	bool done;
	enum hist_rl_verdict verdict;
	uint64_t start_us, end_us;
	uint64_t faults;         /* Redis faults fired before it started */
	bool healthy;            /* Redis up and no Redis fault during it */
	bool down_throughout;    /* Redis down (restarting) from start to end */
	bool count_failed;       /* the command that counts it (INCR, or the
	                          * MULTI/EXEC) failed: no count was read */
};

/* The rate-limit key of a user observed while none of its requests was in
 * flight. */
struct hist_rl_ttl {
	uint32_t user;
	uint64_t t_us;
	int64_t pttl_ms;         /* -2 no key, -1 no TTL */
};

struct hist_dd_request {
	uint32_t request;        /* which logical request */
	uint64_t seq;            /* call order */
	bool done;
	bool duplicate;          /* verdict DUPLICATE */
	bool failed_open;
	bool healthy;            /* no Redis fault from the first copy's start
	                          * to this copy's end */
	bool refused;            /* answered RESULT_REJECT (key judged invalid) */
	bool refused_as_duplicate; /* refused with the verdict DUPLICATE, where
	                          * core/dedup.h promises NEW */
	bool bad_key;            /* sent with an empty or over-long key, which
	                          * the contract refuses (core/dedup.h) */
	bool claimed;            /* Redis applied this copy's SET NX and said OK */
	uint32_t sets;           /* SETs sent with this copy's token: more than
	                          * one when the check asked again */
	bool set_ok;             /* the check received OK to one of its SETs */
	uint64_t claimed_us;
	uint64_t start_us, end_us;
};

struct hist_quote {
	const struct quote_spec *spec;
	bool valid;              /* the oracle's (or the file's) verdict */
	uint32_t unhandled;      /* requests that died with an unhandled error */
	uint32_t mails;          /* messages in the outbox for this quote */
	uint32_t port_sends;     /* messages handed to the mail port for it,
	                          * whatever the server then answered */
	uint32_t accepted;       /* of those, answered 2xx by the server */
	uint64_t accepted_us;    /* the first */
	uint32_t sent_answers;   /* requests for it answered sent */
	bool logged;             /* an [Email] line names the quote reference */
	bool faults_touched;     /* a mail or postgres fault fired during it */
	uint32_t unsent_answers; /* answered sent or already sent while no send
	                          * of it had reached the mail port */
	uint64_t unsent_us;      /* the first of those answers */
	uint64_t last_us;
};

struct hist_mail {
	char quote_ref[HIST_ID_MAX];
	uint64_t t_us;
	bool headers_ok;         /* well-formed, only expected fields, once each */
	char bad_header[96];     /* what was wrong */
	const char *data;        /* the message as received (NULL: not kept); read
	                          * by a real RFC 5322 parser (GMime) */
	size_t len;
};

enum hist_wh_kind {
	HIST_WH_PAYMENT,         /* payment_intent.succeeded for a known order */
	HIST_WH_OTHER_TYPE,      /* another type, for an order of its own */
	HIST_WH_UNKNOWN_ORDER,   /* payment_intent.succeeded naming no order */
};

struct hist_wh_event {
	char id[HIST_ID_MAX];
	char order[HIST_ID_MAX]; /* "" when the event names no order */
	enum hist_wh_kind kind;
	bool forged;             /* the reference refuses its deliveries (signature
	                          * or body): it must never apply */
	char shape[48];          /* what its deliveries look like, for messages */
	bool acked;              /* some delivery got a 2xx */
	uint64_t ack_us;
	bool ack_not_durable;    /* a 2xx while the order was not paid */
	uint64_t not_durable_us;
	uint32_t accepted;       /* deliveries the handler answered other than 400 */
	uint64_t accepted_us;    /* the first of them */
	uint32_t refused;        /* deliveries answered 400 */
	uint64_t refused_us;
	uint32_t ack_missed;     /* fault-free deliveries answered non-2xx although
	                          * the event was ignorable or already acknowledged */
	uint64_t ack_missed_us;
	int ack_missed_status;
	uint32_t handled;        /* deliveries the handler answered */
	bool logged;             /* a [Webhook] log line names the event */
	long long paid_count;    /* final, of its order */
	uint32_t effects;        /* final order_payments rows naming this event */
	uint32_t order_effects;  /* final order_payments rows naming its order */
	uint32_t records;        /* final stripe_events rows under its id */
	bool processed;          /* one of them marked processed */
};

struct hist_customer_user {
	char user[HIST_ID_MAX];
	char mapped[HIST_ID_MAX];           /* "" when no mapping */
	char pre_mapped[HIST_ID_MAX];       /* mapped before the run ("" none) */
	uint32_t ncustomers;                /* Stripe customers with this user */
	char customers[HIST_CUSTOMERS_MAX][HIST_ID_MAX];
	uint64_t last_created_us;
	uint32_t requests;                  /* get-or-create calls in the run */
	uint32_t stripe_calls;              /* creates that reached Stripe */
	uint32_t insert_calls;              /* mapping inserts that reached Postgres */
	uint32_t search_calls;              /* customer searches that reached Stripe */
};

enum hist_cu_answer { HIST_CU_OK, HIST_CU_RETRY, HIST_CU_ERROR, HIST_CU_REJECT };

/* One get-or-create call. */
struct hist_cu_request {
	uint32_t user;           /* index into cust; unused when !valid_id */
	bool valid_id;           /* a user id the API accepts (1..64 octets) */
	bool done;
	enum hist_cu_answer answer;
	char customer[HIST_ID_MAX]; /* HIST_CU_OK: the id answered */
	bool touched;            /* a Postgres or Stripe fault fired while it ran */
	bool refused;            /* Stripe refused its user for good (a 4xx other
	                          * than 409 and 429) while it ran */
	bool lasting;            /* a cause no retry mends touched it */
	bool only_lasting;       /* what went wrong while it ran was only causes
	                          * no retry mends: Stripe's refusal for good, a
	                          * SQLSTATE outside the transient classes */
	bool exclusive;          /* no other call of its user overlapped it, so
	                          * the counts below are its own */
	uint32_t stripe_calls;   /* creates of its user sent while it ran */
	uint32_t insert_calls;   /* mapping inserts of its user while it ran */
	uint32_t search_calls;   /* customer searches of its user while it ran */
	uint32_t calls_after_refusal; /* creates sent after a refusal it got */
	uint64_t start_us, end_us;
};

struct history {
	/* ratelimit */
	uint32_t rl_limit;
	uint64_t rl_window_us;
	struct hist_rl_request *rl; size_t nrl;
	bool rl_fail_open;             /* the policy on Redis failure */
	struct hist_rl_ttl *rl_ttl; size_t nrl_ttl;
	bool rl_incr_again;            /* a user's key got more INCRs than hits
	                                * had begun: a hit counted twice */
	uint32_t rl_incr_again_user;
	uint64_t rl_incr_again_us;
	uint32_t rl_bad_calls;         /* hits for user ids the API refuses */
	uint32_t rl_bad_counted;       /* of those, answered other than refused */
	uint32_t rl_bad_keys;          /* Redis keys found for those ids */
	uint64_t rl_bad_us;            /* when the first of either was seen */
	/* request-dedup */
	uint64_t dd_ttl_us;
	uint64_t redis_restart_us[8];  /* when Redis restarted (keys may be lost) */
	uint32_t nredis_restarts;      /* all of them, also past the array */
	struct hist_dd_request *dd; size_t ndd;
	/* quote-email */
	struct hist_quote *quotes; size_t nquotes;
	struct hist_mail *mails; size_t nmails;
	uint32_t email_log_raw;        /* [Email] log lines with a raw control octet */
	uint64_t email_log_raw_us;
	/* webhook */
	struct hist_wh_event *events; size_t nevents;
	bool wh_effects_promised;      /* the variant documents order_payments */
	uint32_t wh_stray_records;     /* stripe_events rows under no event's id */
	char first_stray_record[HIST_ID_MAX];
	uint32_t wh_stray_effects;     /* order_payments rows no event explains */
	char first_stray_effect[96];
	/* stripe-customer */
	struct hist_customer_user *cust; size_t ncust;
	struct hist_cu_request *cu; size_t ncu;
	uint32_t cu_retries_max;       /* the retry budget of one step */
	uint32_t cu_invalid_calls;     /* creates at Stripe for refused user ids */
	bool cu_wrong_email;           /* a create sent another address than its
	                                * user's (or one for a user with none) */
	uint32_t cu_wrong_email_user;
	uint64_t cu_wrong_email_us;
	char cu_wrong_email_sent[HIST_ID_MAX];
	/* every request */
	uint64_t requests, requests_done;
	uint64_t unhandled;
	uint64_t first_unhandled_us;
	char first_unhandled[128];
	uint64_t hung;                 /* unanswered at the end, or too slow */
	uint64_t first_hung_us;
	char first_hung[128];
	uint64_t end_us;
};

struct inv_violation {
	uint64_t t_us;
	char message[256];
};

/* Checks invariant inv on h. Returns true when it holds; false with *v. */
bool invariant_check(enum invariant_id inv, const struct history *h,
                     struct inv_violation *v);

/* The quote-email oracle: does this customer data deserve a mail? A second
 * implementation, independent of core/email_check.c, so the two check each
 * other: name present, valid UTF-8, no control characters, not blank in
 * Unicode's sense; address with one '@', RFC 5321 lengths, a dotted domain. */
bool oracle_quote_valid(const struct quote_spec *q);

#endif
