/* cli/cmd_stripe.c - `faultline stripe`: the stateful fake Stripe
 * (live/fake_stripe.c) on its own, for a team's Stripe client code, with
 * fault rules of target stripe from a scenario file. Prints its URL and
 * key, stops on SIGINT or SIGTERM with exit 0. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "harness/scenario_load.h"
#include "live/fake_stripe.h"
#include "sim/fault.h"
#include "sim/prng.h"
#include "sim/sched.h"

#define STRIPE_CMD_KEY_DEFAULT "sk_test_faultline_serve"
#define STRIPE_CMD_MS_MAX 3600000ULL

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline stripe [--listen 127.0.0.1:PORT] [--api-key KEY] [OPTIONS]\n"
	        "\n"
	        "A stateful fake of Stripe's API for the official clients: customers\n"
	        "(create, retrieve, update, list, search, delete), payment intents (create,\n"
	        "retrieve, list, confirm) and events (retrieve, list), Stripe's error\n"
	        "objects, and Idempotency-Key as Stripe documents it (replay, 400\n"
	        "idempotency_error, 409 in flight, keys kept 24 h). State in memory.\n"
	        "\n"
	        "  -l, --listen ADDR     127.0.0.1:PORT (default 127.0.0.1:12111; port 0\n"
	        "                        picks one). Loopback only.\n"
	        "  -k, --api-key KEY     the secret key clients must send (default %s)\n"
	        "      --scenario FILE   apply the file's fault rules of target stripe, ops\n"
	        "                        customers.create ... payment_intents.confirm or '*';\n"
	        "                        windows count from start-up\n"
	        "      --seed N          ids and fault draws (default 1)\n"
	        "      --process-ms MS   a POST or DELETE executes this late (default 0)\n"
	        "      --hold-ms MS      a timeout fault stays silent this long, then resets\n"
	        "                        the connection (default %llu)\n"
	        "  -h, --help            this help\n"
	        "\n"
	        "Point stripe-node at it with new Stripe(KEY, {host: '127.0.0.1', port: PORT,\n"
	        "protocol: 'http'}), stripe-python with stripe.api_base = 'http://127.0.0.1:PORT'.\n"
	        "Exit status: 0 stopped by a signal, 2 bad usage or scenario, 3 cannot listen.\n",
	        STRIPE_CMD_KEY_DEFAULT, (unsigned long long)(FAKE_STRIPE_HOLD_US / 1000));
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* "127.0.0.1:PORT" or "localhost:PORT" or ":PORT" into *port. */
static bool parse_listen(const char *s, int *port)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL)
		return false;
	size_t hl = (size_t)(colon - s);
	bool loop = hl == 0 || (hl == 9 && strncmp(s, "127.0.0.1", 9) == 0) ||
	            (hl == 9 && strncmp(s, "localhost", 9) == 0);
	uint64_t p;
	if (!loop || !parse_u64(colon + 1, 65535, &p))
		return false;
	*port = (int)p;
	return true;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

/* Keeps only the plan's stripe rules; their count. */
static size_t keep_stripe_rules(struct fault_plan *plan)
{
	size_t k = 0;
	for (size_t i = 0; i < plan->nrules; i++) {
		if (plan->rules[i].target == FAULT_TARGET_STRIPE)
			plan->rules[k++] = plan->rules[i];
	}
	plan->nrules = k;
	fault_plan_reset(plan);
	return k;
}

int cmd_stripe(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"api-key", required_argument, NULL, 'k'},
		{"scenario", required_argument, NULL, 'S'},
		{"seed", required_argument, NULL, 's'},
		{"process-ms", required_argument, NULL, 'p'},
		{"hold-ms", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *listen = "127.0.0.1:12111", *key = STRIPE_CMD_KEY_DEFAULT;
	const char *scenario = NULL;
	uint64_t seed = 1, process_ms = 0, hold_ms = FAKE_STRIPE_HOLD_US / 1000;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:k:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'k': key = optarg; break;
		case 'S': scenario = optarg; break;
		case 's':
		case 'p':
		case 'H': {
			uint64_t *dst = c == 's' ? &seed : c == 'p' ? &process_ms : &hold_ms;
			if (!parse_u64(optarg, c == 's' ? UINT64_MAX : STRIPE_CMD_MS_MAX, dst) ||
			    (c == 'H' && *dst == 0)) {
				fprintf(stderr, "faultline stripe: bad number '%s' (try --help)\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "faultline stripe: unexpected argument '%s' (try --help)\n",
		        argv[optind]);
		return EXIT_USAGE;
	}
	int port;
	if (!parse_listen(listen, &port)) {
		fprintf(stderr, "faultline stripe: --listen wants 127.0.0.1:PORT, got '%s'\n",
		        listen);
		return EXIT_USAGE;
	}
	if (key[0] == '\0' || strlen(key) >= FAKE_STRIPE_KEY_MAX) {
		fprintf(stderr, "faultline stripe: --api-key must be 1 to %d bytes\n",
		        FAKE_STRIPE_KEY_MAX - 1);
		return EXIT_USAGE;
	}
	struct scenario *sc = NULL;
	size_t nrules = 0;
	if (scenario != NULL) {
		struct scenario_error serr;
		if (scenario_load(scenario, &sc, &serr) != RESULT_OK) {
			char msg[700];
			scenario_error_format(&serr, msg, sizeof msg);
			fprintf(stderr, "faultline stripe: %s\n", msg);
			return EXIT_USAGE;
		}
		nrules = keep_stripe_rules(&sc->faults);
	}
	signal(SIGPIPE, SIG_IGN);
	int status = 0;
	struct prng rng;
	prng_init(&rng, seed);
	struct event_base *base = sched_base_new(SCHED_REAL);
	struct sched *s = base != NULL ? sched_create(base, SCHED_REAL, &rng) : NULL;
	struct event *sigint = base != NULL ? evsignal_new(base, SIGINT, on_signal, base) : NULL;
	struct event *sigterm = base != NULL ? evsignal_new(base, SIGTERM, on_signal, base) : NULL;
	struct fake_stripe *fs = NULL;
	if (s == NULL || sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
	    event_add(sigterm, NULL) != 0) {
		fprintf(stderr, "faultline stripe: out of memory or no signal handling\n");
		status = EXIT_VIOLATED;
		goto out;
	}
	struct fake_stripe_config cfg = {
		.port = port, .api_key = key, .id_seed = seed, .process_us = process_ms * 1000,
		.faults = sc != NULL ? &sc->faults : NULL, .fault_seed = seed,
		.hold_us = hold_ms * 1000,
	};
	char err[256];
	fs = fake_stripe_create(base, s, &cfg, err, sizeof err);
	if (fs == NULL) {
		fprintf(stderr, "faultline stripe: %s (port %d)\n", err, port);
		status = EXIT_UNREACHABLE;
		goto out;
	}
	printf("faultline stripe: listening on %s; api key %s; %zu fault rule(s)\n",
	       fake_stripe_url(fs), key, nrules);
	fflush(stdout);
	event_base_dispatch(base);
	fprintf(stderr, "faultline stripe: stopped; %zu customer(s), %llu fault(s) fired\n",
	        fake_stripe_customer_count(fs), (unsigned long long)fake_stripe_faults_fired(fs));
out:
	fake_stripe_destroy(fs);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	sched_destroy(s);
	if (base != NULL)
		event_base_free(base);
	scenario_destroy(sc);
	return status;
}
