# TLS for the benchmark scripts that take --https (sourced, not run): the
# proxy's certificate, the server block's opening and what an OpenSSL
# client negotiates with the proxy. The sourcing script sets HTTPS (0 or
# 1), WORK, PROXY_PORT, PROXY_LIST, say() and die().

# make_cert: with --https, the proxy's certificate: self-signed ECDSA
# P-256, its key, and both in one PEM file for HAProxy.
make_cert() {
	[ "$HTTPS" = 1 ] || return 0
	say "writing the certificate (self-signed, ECDSA P-256)"
	mkdir -p "$WORK/certs"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
		-keyout "$WORK/certs/proxy.key" -out "$WORK/certs/proxy.crt" >"$WORK/openssl.log" 2>&1 ||
		die "openssl could not make the certificate: $(tail -n 2 "$WORK/openssl.log")"
	cat "$WORK/certs/proxy.crt" "$WORK/certs/proxy.key" >"$WORK/certs/proxy.pem"
}

# tls_params NAME: with --https, once per proxy, what an OpenSSL client
# (openssl s_client, as wrk and slowhttptest) negotiates with it, into
# TLS_PARAMS[NAME]: "protocol suite group".
declare -A TLS_PARAMS=()
tls_params() {
	local name=$1 out
	[ "$HTTPS" = 1 ] && [ -z "${TLS_PARAMS[$name]:-}" ] || return 0
	out=$(timeout 5 taskset -c 1 openssl s_client -connect "127.0.0.1:$PROXY_PORT" -brief </dev/null 2>&1) || true
	TLS_PARAMS[$name]=$(awk -F ': *' '
		/^Protocol version/ {p = $2}
		/^Ciphersuite/ {c = $2}
		/^(Server|Peer) Temp Key/ {g = $2; sub(/,.*/, "", g)}
		END {if (p == "") print "no TLS handshake"; else print p " " c " " g}' <<<"$out")
	say "  $name over TLS: ${TLS_PARAMS[$name]}"
}

# server_open: the opening of the proxy's server block in nginx's
# language, with TLS under --https.
server_open() {
	if [ "$HTTPS" = 1 ]; then
		cat <<EOF
    ssl_protocols TLSv1.2 TLSv1.3;

    server {
        listen 127.0.0.1:$PROXY_PORT ssl;
        ssl_certificate $WORK/certs/proxy.crt;
        ssl_certificate_key $WORK/certs/proxy.key;
EOF
	else
		cat <<EOF
    server {
        listen 127.0.0.1:$PROXY_PORT;
EOF
	fi
}

# tls_summary CLIENTS: with --https, the report's line on TLS: which
# clients spoke it, with which OpenSSL, and what each proxy negotiated.
tls_summary() {
	[ "$HTTPS" = 1 ] || return 0
	local tls="" p
	for p in "${PROXY_LIST[@]}"; do
		[ -z "${TLS_PARAMS[$p]:-}" ] || tls+="${tls:+; }$p ${TLS_PARAMS[$p]}"
	done
	echo
	echo "Over TLS (--https): $1 to the proxy over https:// ($(openssl version | awk '{print "OpenSSL " $2}')), a self-signed ECDSA P-256 certificate; the upstream plaintext. Negotiated with openssl s_client: ${tls:-nothing}."
}
