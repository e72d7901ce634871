/* tests/check_mail_live.c - the mail port through libcurl to the built-in
 * SMTP sink: a round trip with headers and dot lines intact, refusals with
 * their codes, refused and silent servers; and the sink's own protocol
 * (sequence errors, limits, idle timeout) spoken over a raw socket. Needs
 * no external server: everything listens on 127.0.0.1. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "live/curl_loop.h"
#include "live/mail_live.h"
#include "live/smtp_sink.h"
#include "sim/sched.h"

#define LOOP_PASSES_MAX 100000
#define TRANSCRIPT_MAX 4096

struct fixture {
	struct event_base *base;
	struct sched *s;
	struct curl_loop *cl;
	struct smtp_sink *sink;
	struct mail_live *ml;
	struct mail_port mail;
};

struct sent {
	int calls;
	enum outcome oc;
	int code;
	uint64_t at_us;
	struct sched *s;
};

static void on_sent(void *arg, enum outcome oc, int smtp_code)
{
	struct sent *w = arg;
	w->calls++;
	w->oc = oc;
	w->code = smtp_code;
	w->at_us = sched_now_us(w->s);
}

static void on_guard(void *arg)
{
	*(bool *)arg = true;
}

static void loop_until(struct fixture *f, const int *calls, uint64_t max_us)
{
	bool expired = false;
	struct sched_timer guard = sched_after(f->s, max_us, on_guard, &expired);
	for (int n = 0; n < LOOP_PASSES_MAX && *calls == 0 && !expired; n++)
		event_base_loop(f->base, EVLOOP_ONCE);
	sched_cancel(f->s, guard);
}

static void loop_for(struct fixture *f, uint64_t us)
{
	int never = 0;
	loop_until(f, &never, us);
}

static struct smtp_sink_config sink_config(void)
{
	return (struct smtp_sink_config){
		.port = 0,
		.message_max = 64 * 1024,
		.sessions_max = 4,
		.idle_timeout_us = 2000000,
		.reject_domain = "reject.invalid",
	};
}

static void fixture_init_sink(struct fixture *f,
                              const struct smtp_sink_config *scfg,
                              const char *url_or_null, uint64_t timeout_us)
{
	char err[128], url[64];
	f->base = sched_base_new(SCHED_REAL);
	ck_assert_ptr_nonnull(f->base);
	f->s = sched_create(f->base, SCHED_REAL, NULL);
	ck_assert_ptr_nonnull(f->s);
	f->cl = curl_loop_create(f->base, 8);
	ck_assert_ptr_nonnull(f->cl);
	f->sink = smtp_sink_create(scfg, err, sizeof err);
	ck_assert_msg(f->sink != NULL, "smtp_sink_create: %s", err);
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtp_sink_port(f->sink));
	struct mail_live_config mcfg = {
		.url = url_or_null != NULL ? url_or_null : url,
		.timeout_us = timeout_us,
	};
	f->ml = mail_live_create(f->cl, f->s, &mcfg, err, sizeof err);
	ck_assert_msg(f->ml != NULL, "mail_live_create: %s", err);
	mail_live_port(f->ml, &f->mail);
}

static void fixture_init(struct fixture *f)
{
	struct smtp_sink_config scfg = sink_config();
	fixture_init_sink(f, &scfg, NULL, 2000000);
}

static void fixture_fini(struct fixture *f)
{
	ck_assert_uint_eq(mail_live_pending(f->ml), 0);
	mail_live_destroy(f->ml);
	curl_loop_destroy(f->cl);
	smtp_sink_destroy(f->sink);
	sched_destroy(f->s);
	event_base_free(f->base);
}

static struct sent send_mail(struct fixture *f, const char *from,
                             const char *to, const char *data)
{
	struct mail_message m = {
		.from = from, .to = to, .data = data, .len = strlen(data),
	};
	struct sent w = {.s = f->s};
	f->mail.send(f->mail.ctx, &m, on_sent, &w);
	ck_assert_int_eq(w.calls, 0); /* never before the call returns */
	loop_until(f, &w.calls, 3000000);
	ck_assert_int_eq(w.calls, 1);
	return w;
}

static const char quote_mail[] =
	"From: Quotes <quotes@example.com>\r\n"
	"To: Ana Lima <ana@example.org>\r\n"
	"Subject: Your quote Q-1042\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Hello Ana,\r\n"
	".a line that starts with a dot\r\n"
	"..and one with two\r\n"
	".\r\n"
	"Bye\r\n";

START_TEST(test_mail_live_round_trip_keeps_headers_and_dot_lines)
{
	struct fixture f;
	fixture_init(&f);
	struct sent w = send_mail(&f, "quotes@example.com", "ana@example.org",
	                          quote_mail);
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	ck_assert_int_eq(w.code, 250);
	ck_assert_uint_eq(smtp_sink_count(f.sink), 1);
	const struct smtp_sink_message *m = smtp_sink_message(f.sink, 0);
	ck_assert_str_eq(m->from, "quotes@example.com");
	ck_assert_int_eq(m->nrcpt, 1);
	ck_assert_str_eq(m->rcpt[0], "ana@example.org");
	ck_assert_uint_eq(m->len, strlen(quote_mail));
	ck_assert_str_eq(m->data, quote_mail); /* byte for byte */
	ck_assert_str_ne(m->helo, "");
	fixture_fini(&f);
}
END_TEST

START_TEST(test_mail_live_refused_recipient_is_error_550)
{
	struct fixture f;
	fixture_init(&f);
	struct sent w = send_mail(&f, "quotes@example.com", "bob@reject.invalid",
	                          quote_mail);
	ck_assert_int_eq(w.oc, OUTCOME_ERROR);
	ck_assert_int_eq(w.code, 550);
	ck_assert_uint_eq(smtp_sink_count(f.sink), 0);
	/* The next send on the same loop still goes through. */
	w = send_mail(&f, "quotes@example.com", "ana@example.org", quote_mail);
	ck_assert_int_eq(w.oc, OUTCOME_OK);
	ck_assert_uint_eq(smtp_sink_count(f.sink), 1);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_mail_live_message_past_sink_limit_is_error_552)
{
	struct smtp_sink_config scfg = sink_config();
	scfg.message_max = 64;
	struct fixture f;
	fixture_init_sink(&f, &scfg, NULL, 2000000);
	struct sent w = send_mail(&f, "quotes@example.com", "ana@example.org",
	                          quote_mail);
	ck_assert_int_eq(w.oc, OUTCOME_ERROR);
	ck_assert_int_eq(w.code, 552);
	ck_assert_uint_eq(smtp_sink_count(f.sink), 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_mail_live_control_characters_in_envelope_are_not_sent)
{
	struct fixture f;
	fixture_init(&f);
	struct sent w = send_mail(&f, "quotes@example.com",
	                          "ana@example.org>\r\nRCPT TO:<evil@example.net",
	                          quote_mail);
	ck_assert_int_eq(w.oc, OUTCOME_ERROR);
	ck_assert_int_eq(w.code, 0);
	loop_for(&f, 50000);
	ck_assert_uint_eq(smtp_sink_count(f.sink), 0);
	fixture_fini(&f);
}
END_TEST

/* A loopback socket bound to a free port; listening or not. */
static int loopback_socket(bool listening, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	if (listening)
		ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

START_TEST(test_mail_live_refused_connection_is_conn_lost)
{
	int port;
	close(loopback_socket(false, &port));
	char url[64];
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
	struct smtp_sink_config scfg = sink_config();
	struct fixture f;
	fixture_init_sink(&f, &scfg, url, 2000000);
	struct sent w = send_mail(&f, "a@example.com", "b@example.com", quote_mail);
	ck_assert_int_eq(w.oc, OUTCOME_CONN_LOST);
	ck_assert_int_eq(w.code, 0);
	ck_assert_uint_lt(w.at_us, 1000000);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_mail_live_silent_server_times_out)
{
	int port;
	int fd = loopback_socket(true, &port); /* accepts, never greets */
	char url[64];
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
	struct smtp_sink_config scfg = sink_config();
	struct fixture f;
	fixture_init_sink(&f, &scfg, url, 100000);
	uint64_t t0 = sched_now_us(f.s);
	struct sent w = send_mail(&f, "a@example.com", "b@example.com", quote_mail);
	ck_assert_int_eq(w.oc, OUTCOME_TIMEOUT);
	ck_assert_uint_ge(w.at_us - t0, 100000);
	ck_assert_uint_lt(w.at_us - t0, 1000000);
	fixture_fini(&f);
	close(fd);
}
END_TEST

/* ---- the sink over a raw socket ---------------------------------------- */

static int raw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/* Reads what the server sends (the sink serves from its own thread, so
 * blocking here is fine) until it closes, until want (when non-NULL) has
 * arrived, or until 3 s passed. *closed tells whether it closed. */
static void raw_read(int fd, const char *want, char *out, size_t cap,
                     bool *closed)
{
	size_t len = 0;
	*closed = false;
	out[0] = '\0';
	for (int n = 0; n < 300 && len + 1 < cap; n++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10) <= 0)
			continue;
		ssize_t got = recv(fd, out + len, cap - 1 - len, 0);
		if (got <= 0) {
			*closed = true;
			break;
		}
		len += (size_t)got;
		out[len] = '\0';
		if (want != NULL && strstr(out, want) != NULL)
			break;
	}
}

START_TEST(test_smtp_sink_answers_out_of_order_commands)
{
	struct fixture f;
	fixture_init(&f);
	int fd = raw_connect(smtp_sink_port(f.sink));
	static const char script[] =
		"NOOP\r\n"
		"RCPT TO:<a@example.com>\r\n"
		"HELO tester\r\n"
		"MAIL FROM:<a@example.com>\r\n"
		"MAIL FROM:<b@example.com>\r\n"
		"RSET\r\n"
		"DATA\r\n"
		"MAIL FROM:a@example.com\r\n"
		"VRFY a\r\n"
		"QUIT\r\n";
	ck_assert_int_eq(send(fd, script, sizeof script - 1, 0),
	                 (ssize_t)(sizeof script - 1));
	char got[TRANSCRIPT_MAX];
	bool closed;
	raw_read(fd, NULL, got, sizeof got, &closed);
	ck_assert_str_eq(got,
		"220 faultline SMTP sink ready\r\n"
		"250 2.0.0 OK\r\n"
		"503 5.5.1 need MAIL first\r\n"
		"250 faultline\r\n"
		"250 2.1.0 OK\r\n"
		"503 5.5.1 nested MAIL command\r\n"
		"250 2.0.0 OK\r\n"
		"503 5.5.1 need RCPT first\r\n"
		"501 5.5.4 syntax: MAIL FROM:<address>\r\n"
		"502 5.5.2 command not recognized\r\n"
		"221 2.0.0 bye\r\n");
	ck_assert(closed);
	close(fd);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_smtp_sink_records_envelope_and_unstuffed_data)
{
	struct fixture f;
	fixture_init(&f);
	int fd = raw_connect(smtp_sink_port(f.sink));
	static const char script[] =
		"EHLO raw.example\r\n"
		"MAIL FROM:<> SIZE=10\r\n"
		"RCPT TO:<x@example.com>\r\n"
		"RCPT TO:<y@example.com>\r\n"
		"DATA\r\n"
		"Subject: hi\r\n"
		"\r\n"
		"..dot\r\n"
		".\r\n"
		"QUIT\r\n";
	ck_assert_int_eq(send(fd, script, sizeof script - 1, 0),
	                 (ssize_t)(sizeof script - 1));
	char got[TRANSCRIPT_MAX];
	bool closed;
	raw_read(fd, NULL, got, sizeof got, &closed);
	ck_assert(closed);
	ck_assert_ptr_nonnull(strstr(got, "250 2.0.0 OK queued as 1\r\n"));
	ck_assert_uint_eq(smtp_sink_count(f.sink), 1);
	const struct smtp_sink_message *m = smtp_sink_message(f.sink, 0);
	ck_assert_str_eq(m->helo, "raw.example");
	ck_assert_str_eq(m->from, "");
	ck_assert_int_eq(m->nrcpt, 2);
	ck_assert_str_eq(m->rcpt[1], "y@example.com");
	ck_assert_str_eq(m->data, "Subject: hi\r\n\r\n.dot\r\n");
	smtp_sink_clear(f.sink);
	ck_assert_uint_eq(smtp_sink_count(f.sink), 0);
	close(fd);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_smtp_sink_closes_idle_and_overlong_sessions)
{
	struct smtp_sink_config scfg = sink_config();
	scfg.idle_timeout_us = 100000;
	struct fixture f;
	fixture_init_sink(&f, &scfg, NULL, 2000000);
	int idle = raw_connect(smtp_sink_port(f.sink));
	int longline = raw_connect(smtp_sink_port(f.sink));
	char big[SMTP_SINK_LINE_MAX + 10];
	memset(big, 'A', sizeof big);
	ck_assert_int_eq(send(longline, big, sizeof big, 0), (ssize_t)sizeof big);
	char got[TRANSCRIPT_MAX];
	bool closed;
	raw_read(idle, NULL, got, sizeof got, &closed);
	ck_assert_str_eq(got, "220 faultline SMTP sink ready\r\n"
	                      "421 4.4.2 idle timeout\r\n");
	ck_assert(closed);
	raw_read(longline, NULL, got, sizeof got, &closed);
	ck_assert_str_eq(got, "220 faultline SMTP sink ready\r\n"
	                      "500 5.5.6 line too long\r\n");
	ck_assert(closed);
	close(idle);
	close(longline);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_smtp_sink_refuses_sessions_past_its_bound)
{
	struct smtp_sink_config scfg = sink_config();
	scfg.sessions_max = 1;
	struct fixture f;
	fixture_init_sink(&f, &scfg, NULL, 2000000);
	int first = raw_connect(smtp_sink_port(f.sink));
	char got[TRANSCRIPT_MAX];
	bool closed;
	/* Once greeted, the first session is surely counted. */
	raw_read(first, "\r\n", got, sizeof got, &closed);
	ck_assert_str_eq(got, "220 faultline SMTP sink ready\r\n");
	ck_assert(!closed);
	int second = raw_connect(smtp_sink_port(f.sink));
	raw_read(second, NULL, got, sizeof got, &closed);
	ck_assert_str_eq(got, "421 4.3.2 too many sessions\r\n");
	ck_assert(closed);
	close(first);
	close(second);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_mail_live_rejects_bad_config)
{
	struct event_base *base = sched_base_new(SCHED_REAL);
	struct sched *s = sched_create(base, SCHED_REAL, NULL);
	struct curl_loop *cl = curl_loop_create(base, 1);
	char err[128] = "";
	struct mail_live_config cfg = {.url = "http://x", .timeout_us = 1000000};
	ck_assert_ptr_null(mail_live_create(cl, s, &cfg, err, sizeof err));
	ck_assert_str_eq(err, "mail URL must be smtp:// or smtps://");
	cfg = (struct mail_live_config){.url = "smtp://x", .timeout_us = 10};
	ck_assert_ptr_null(mail_live_create(cl, s, &cfg, err, sizeof err));
	ck_assert_str_eq(err, "mail timeout must be at least 1 ms");
	struct smtp_sink_config scfg = sink_config();
	scfg.sessions_max = 0;
	ck_assert_ptr_null(smtp_sink_create(&scfg, err, sizeof err));
	ck_assert_str_eq(err, "SMTP sink configuration out of range");
	mail_live_destroy(NULL);
	smtp_sink_destroy(NULL);
	curl_loop_destroy(cl);
	curl_loop_destroy(NULL);
	sched_destroy(s);
	event_base_free(base);
}
END_TEST

Suite *check_mail_live_suite(void);
Suite *check_mail_live_suite(void)
{
	Suite *s = suite_create("mail_live");
	TCase *tc = tcase_create("mail_live");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_mail_live_round_trip_keeps_headers_and_dot_lines);
	tcase_add_test(tc, test_mail_live_refused_recipient_is_error_550);
	tcase_add_test(tc, test_mail_live_message_past_sink_limit_is_error_552);
	tcase_add_test(tc, test_mail_live_control_characters_in_envelope_are_not_sent);
	tcase_add_test(tc, test_mail_live_refused_connection_is_conn_lost);
	tcase_add_test(tc, test_mail_live_silent_server_times_out);
	tcase_add_test(tc, test_mail_live_rejects_bad_config);
	suite_add_tcase(s, tc);

	TCase *sink = tcase_create("smtp_sink");
	tcase_set_timeout(sink, 10);
	tcase_add_test(sink, test_smtp_sink_answers_out_of_order_commands);
	tcase_add_test(sink, test_smtp_sink_records_envelope_and_unstuffed_data);
	tcase_add_test(sink, test_smtp_sink_closes_idle_and_overlong_sessions);
	tcase_add_test(sink, test_smtp_sink_refuses_sessions_past_its_bound);
	suite_add_tcase(s, sink);
	return s;
}
