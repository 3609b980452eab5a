#!/bin/sh
# Called by the watchdog with a service name and its state; posts one line
# to the haus log. Referenced by absolute path: ~/.sanctum/scripts/watchdog-notify.sh
set -eu
service=${1:?service}
state=${2:?state}
printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$service" "$state" >> "$HOME/.sanctum/logs/watchdog-notify.log"
