#!/bin/sh
# Creates vpnflow's namespace and registers the custom search attributes its
# workflows set (internal/searchattr; internal/deploytest keeps the two lists
# in step). Re-running is safe: what exists is left alone.
set -eu
addr=${TEMPORAL_ADDRESS:?}
ns=${TEMPORAL_NAMESPACE:?}

tries=0
until temporal operator cluster health --address "$addr" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ]; then
		echo "temporal at $addr is not healthy after $tries tries" >&2
		exit 1
	fi
	sleep 2
done

if ! temporal operator namespace describe --address "$addr" --namespace "$ns" >/dev/null 2>&1; then
	temporal operator namespace create --address "$addr" --namespace "$ns" --retention "${TEMPORAL_RETENTION:-720h}"
fi

existing=$(temporal operator search-attribute list --address "$addr" --namespace "$ns")
for attr in \
	TelegramUserID:Int \
	PurchaseStatus:Keyword \
	PaymentProvider:Keyword \
	SubscriptionStatus:Keyword \
	ExpiresAt:Datetime \
	SubscriptionStuck:Bool; do
	name=${attr%%:*}
	type=${attr#*:}
	if printf '%s\n' "$existing" | grep -qw "$name"; then
		echo "search attribute $name exists"
		continue
	fi
	temporal operator search-attribute create --address "$addr" --namespace "$ns" --name "$name" --type "$type"
done
echo "namespace $ns is ready"
