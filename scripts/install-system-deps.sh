#!/bin/sh
# Installs the system parts dreamcommons needs when they are missing: Mosquitto (the MQTT
# broker that tests and the demo start on a free loopback port). Uses apt-get when run as
# root on Debian/Ubuntu; otherwise says what to install.
set -eu

missing=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # Debian starts a system broker on 1883 after install; tests never use it.
else
    echo "missing:$missing" >&2
    echo "install it, for example: sudo apt-get install$missing" >&2
    exit 1
fi
