# tests/cli/serve.sh - `faultline serve`. Sourced by tests/cli_test.sh: help,
# refusals without servers, then itself again with --inside under
# scripts/servers.sh, where every route gets valid and hostile requests
# (curl), psql checks that rows appear only for valid ones, and the server
# must stay up and stop cleanly on SIGTERM.
#   bash tests/cli/serve.sh --inside BIN   (servers.sh exports the URLs)

serve_inside() {
	local bin=$1 pass=0 fail=0
	local dir
	dir=$(mktemp -d /tmp/faultline-serve.XXXXXX)
	local secret=whsec_faultline_cli_test
	local pid="" url=""
	cleanup_serve() {
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		rm -rf "$dir"
	}
	trap cleanup_serve EXIT
	ok() { pass=$((pass + 1)); }
	bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
	# want-status description curl-args...: the body lands in $dir/body
	req() {
		local want=$1 what=$2
		shift 2
		local got
		got=$(curl -s -m 10 -o "$dir/body" -w '%{http_code}' "$@")
		if [ "$got" = "$want" ]; then ok; else bad "$what: HTTP $got, want $want: $(head -c 200 "$dir/body")"; fi
	}
	body_has() { if grep -qE -- "$1" "$dir/body"; then ok; else bad "$2: body lacks /$1/: $(head -c 200 "$dir/body")"; fi; }
	sql() { psql "$FAULTLINE_PG_URL" -qAtc "$1"; }
	sql_is() { local got; got=$(sql "$1"); if [ "$got" = "$2" ]; then ok; else bad "$3: '$got', want '$2'"; fi; }
	sign() { # secret timestamp payload -> header value
		python3 -c 'import hmac,hashlib,sys; s,t,p=sys.argv[1:4]; print("t=%s,v1=%s" % (t, hmac.new(s.encode(), (t+"."+p).encode(), hashlib.sha256).hexdigest()))' "$@"
	}

	FAULTLINE_WEBHOOK_SECRET=$secret timeout 120 "$bin" serve --listen 127.0.0.1:0 \
		--rate-limit 3 >"$dir/out" 2>"$dir/err" &
	pid=$!
	for _ in $(seq 1 100); do
		url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$dir/out")
		[ -n "$url" ] && break
		sleep 0.05
	done
	[ -n "$url" ] || { bad "serve did not start: $(cat "$dir/err")"; echo "serve: $pass passed, $fail failed"; return 1; }
	case $url in http://127.0.0.1:*) ok ;; *) bad "listens on $url, not loopback" ;; esac

	# -- webhook
	sql "INSERT INTO orders (order_id, payment_intent_id) VALUES ('ord_1', 'pi_1')"
	local now payload sig
	now=$(date +%s)
	payload='{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":'$now',"data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded"}}}'
	sig=$(sign "$secret" "$now" "$payload")
	req 200 "webhook, valid signature" -X POST "$url/api/stripe/webhook" \
		-H "Stripe-Signature: $sig" -H 'Content-Type: application/json' --data-binary "$payload"
	req 200 "webhook, the same event again" -X POST "$url/api/stripe/webhook" \
		-H "Stripe-Signature: $sig" --data-binary "$payload"
	sql_is "SELECT status || ' ' || paid_count FROM orders WHERE order_id = 'ord_1'" "paid 1" \
		"the order is paid exactly once"
	local forged='{"id":"evt_forged","object":"event","type":"payment_intent.succeeded","created":'$now',"data":{"object":{"id":"pi_1","object":"payment_intent"}}}'
	req 400 "webhook, signed with another secret" -X POST "$url/api/stripe/webhook" \
		-H "Stripe-Signature: $(sign whsec_wrong "$now" "$forged")" --data-binary "$forged"
	req 400 "webhook, no signature" -X POST "$url/api/stripe/webhook" --data-binary "$forged"
	req 400 "webhook, stale signature" -X POST "$url/api/stripe/webhook" \
		-H "Stripe-Signature: $(sign "$secret" $((now - 3600)) "$forged")" --data-binary "$forged"
	sql_is "SELECT count(*) FROM stripe_events WHERE event_id = 'evt_forged'" 0 \
		"no row for a refused delivery"
	sql_is "SELECT count(*) FROM stripe_events" 1 "one row: the valid event"
	head -c 70000 /dev/zero | tr '\0' 'x' >"$dir/big"
	req 413 "webhook, body over 64 KiB" -X POST "$url/api/stripe/webhook" \
		-H "Stripe-Signature: $sig" --data-binary @"$dir/big"
	req 400 "headers over 8 KiB" -X POST "$url/api/stripe/webhook" \
		-H "X-Filler: $(head -c 9000 /dev/zero | tr '\0' 'y')" --data-binary "$payload"

	# -- create-payment-intent (rate limit 3 per user and minute)
	req 201 "payment intent" -X POST "$url/api/stripe/create-payment-intent" \
		-d '{"user_id":"u1","email":"u1@example.com","request_id":"r1"}'
	body_has '^\{"customer_id":"cus_[A-Za-z0-9]+"\}$' "customer id in JSON"
	req 409 "payment intent, duplicate request_id" -X POST "$url/api/stripe/create-payment-intent" \
		-d '{"user_id":"u1","email":"u1@example.com","request_id":"r1"}'
	req 201 "payment intent, a new request" -X POST "$url/api/stripe/create-payment-intent" \
		-d '{"user_id":"u1","email":"u1@example.com","request_id":"r2"}'
	req 429 "payment intent, fourth in the window" -X POST "$url/api/stripe/create-payment-intent" \
		-d '{"user_id":"u1","email":"u1@example.com","request_id":"r3"}'
	sql_is "SELECT count(*) FROM stripe_customers WHERE user_id = 'u1'" 1 "one mapping for u1"
	req 400 "payment intent, malformed JSON" -X POST "$url/api/stripe/create-payment-intent" \
		-d '{"user_id":"u2",'
	req 400 "payment intent, user_id not a string" -X POST \
		"$url/api/stripe/create-payment-intent" -d '{"user_id":7,"request_id":"r9"}'
	req 400 "payment intent, no request_id" -X POST "$url/api/stripe/create-payment-intent" \
		-d '{"user_id":"u3"}'
	req 400 "payment intent, a JSON array" -X POST "$url/api/stripe/create-payment-intent" \
		-d '["u4"]'
	sql_is "SELECT count(*) FROM stripe_customers" 1 "no mapping for refused requests"

	# -- quote e-mail
	req 202 "quote, valid" -X POST "$url/api/quotes/email" \
		-d '{"quote_ref":"Q-1","customer_name":"Ann Lee","customer_email":"ann@example.com"}'
	req 200 "quote, sent before" -X POST "$url/api/quotes/email" \
		-d '{"quote_ref":"Q-1","customer_name":"Ann Lee","customer_email":"ann@example.com"}'
	req 422 "quote, null name" -X POST "$url/api/quotes/email" \
		-d '{"quote_ref":"Q-2","customer_name":null,"customer_email":"bob@example.com"}'
	req 422 "quote, header injection" -X POST "$url/api/quotes/email" \
		-d '{"quote_ref":"Q-3","customer_name":"Eve\r\nBcc: x@evil.test","customer_email":"eve@example.com"}'
	req 400 "quote, malformed JSON" -X POST "$url/api/quotes/email" -d '{"quote_ref":'
	req 400 "quote, no quote_ref" -X POST "$url/api/quotes/email" \
		-d '{"customer_name":"Ann","customer_email":"ann@example.com"}'
	sql_is "SELECT string_agg(quote_ref, ',') FROM quote_emails" "Q-1" "a claim row for Q-1 only"

	# -- routes and methods
	req 405 "GET on a route" "$url/api/quotes/email"
	curl -s -m 10 -o /dev/null -D "$dir/headers" "$url/api/stripe/webhook"
	if grep -qi '^Allow: POST' "$dir/headers"; then ok; else bad "405 lacks Allow: POST"; fi
	req 404 "unknown route" -X POST "$url/api/nope" -d '{}'
	req 404 "a route's prefix" -X POST "$url/api/stripe" -d '{}'

	# -- still up, then a clean stop
	if kill -0 "$pid" 2>/dev/null; then ok; else bad "serve died: $(tail -5 "$dir/err")"; fi
	req 202 "still serving" -X POST "$url/api/quotes/email" \
		-d '{"quote_ref":"Q-4","customer_name":"Kim","customer_email":"kim@example.com"}'
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	pid=""
	if [ "$st" -eq 0 ] && grep -q 'stopped' "$dir/err"; then ok; else bad "SIGTERM: exit $st: $(tail -3 "$dir/err")"; fi
	echo "serve: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

if [ "${1:-}" = --inside ]; then
	serve_inside "$2"
	exit
fi

expect_status 0 "serve --help" "$bin" serve --help
expect_output 'POST /api/stripe/create-payment-intent' "serve --help names the routes" "$bin" serve --help
expect_output 'Only loopback unless told otherwise' "serve --help says where it binds" "$bin" serve --help
expect_status 2 "serve without a webhook secret" env -u FAULTLINE_WEBHOOK_SECRET "$bin" serve \
	--redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x"
expect_output 'no webhook secret' "serve says the secret is missing" env -u FAULTLINE_WEBHOOK_SECRET \
	"$bin" serve --redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x"
expect_status 3 "serve with Redis unreachable" env FAULTLINE_WEBHOOK_SECRET=s "$bin" serve \
	--listen 127.0.0.1:0 --redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x"
expect_output 'redis at 127.0.0.1:1 refused the connection' "serve names the server" \
	env FAULTLINE_WEBHOOK_SECRET=s "$bin" serve --listen 127.0.0.1:0 \
	--redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x"
expect_status 2 "serve with a stray argument" "$bin" serve extra
expect_status 0 "serve against real servers (routes, limits, psql, SIGTERM)" \
	timeout 150 scripts/servers.sh run --redis --pg -- bash tests/cli/serve.sh --inside "$bin"
