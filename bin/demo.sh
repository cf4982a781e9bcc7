#!/usr/bin/env bash
# The main job end to end, on a fresh demo store of its own (./demo/consent.db).
# Safe to run again: it starts from an empty demo folder each time.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf demo && mkdir -p demo
export CONSENT_DB=demo/consent.db CONSENT_ACTOR=demo
consent() { node bin/consent.js "$@"; }

echo "== Importing the demo profiles from fixtures/demo-profiles.csv" >&2
consent profile import fixtures/demo-profiles.csv

echo "== Opting some out" >&2
consent profile optout alice.martin@example.com --channel sms,phone --reason "asked at the shop"
consent profile optout bruno.dupont@example.com --all --reason "complaint by phone"
printf 'david.smith@example.org\n' | consent blocklist-all --file - --reason "bounced, then asked to stop"

echo "== Alice's profile" >&2
consent profile show alice.martin@example.com
echo "== Who may receive email" >&2
consent profile list --reachable email
echo "== Alice's history" >&2
consent profile history alice.martin@example.com
echo "== The email audience, as CSV for the sending system" >&2
consent profile export --reachable email
echo "== The ledger" >&2
consent ledger verify

echo "== Landing pages: an acquisition page (from fixtures/landing-page.json) and a blocklist page, published into ./public" >&2
consent landing create stay-in-touch --from fixtures/landing-page.json
consent landing create unsubscribe --type blocklist --title "Se désinscrire" --lang fr
echo "== Services: a double-opt-in newsletter, offered on the acquisition page" >&2
consent service create newsletter --label "Monthly newsletter" --description "One mail a month, no more." --double-opt-in
consent landing edit stay-in-touch --services newsletter --json >/dev/null
consent profile subscribe alice.martin@example.com newsletter
echo "== Alice's newsletter confirmation link (pending until she presses Confirm on it)" >&2
consent service confirmations newsletter --base-url http://127.0.0.1:8080
consent landing publish stay-in-touch --out-dir public --base-url http://127.0.0.1:8080
consent landing publish unsubscribe --out-dir public --base-url http://127.0.0.1:8080
consent landing list
echo "== Alice's links (signed; no email inside)" >&2
consent landing link stay-in-touch --profile alice.martin@example.com --base-url http://127.0.0.1:8080 --json
consent landing link unsubscribe --profile alice.martin@example.com --base-url http://127.0.0.1:8080 --json

echo "== Serve the pages (Ctrl-C to stop), then open Alice's link in a browser:" >&2
alice_url=$(consent landing link stay-in-touch --profile alice.martin@example.com --base-url http://127.0.0.1:8080 --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).url))')
echo "  consent --db demo/consent.db landing serve --port 8080 --base-url http://127.0.0.1:8080" >&2
echo "  (from this checkout without installing: node bin/consent.js --db demo/consent.db landing serve …)" >&2
echo "  $alice_url" >&2
