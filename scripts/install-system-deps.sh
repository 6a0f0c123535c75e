#!/bin/sh
# Installs the system packages named as arguments when they are missing: `mosquitto` (the MQTT
# broker that tests and the demo start on a free loopback port), `chromium` (the browser the
# browser tests drive), `nodejs` (for the Node example client the tests run), `nats-server`
# (NATS with JetStream, which the tests of the cluster's parts start). Uses apt-get
# when run as root on Debian/Ubuntu; otherwise says what to install and fails.
set -eu

have() {
    case "$1" in
        mosquitto) command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] ;;
        chromium) [ -x /usr/bin/chromium ] ;;
        nodejs) command -v node >/dev/null 2>&1 ;;
        nats-server) command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=""
for package in "$@"; do
    have "$package" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "missing:$missing" >&2
    echo "install it, for example: sudo apt-get install$missing" >&2
    exit 1
fi
