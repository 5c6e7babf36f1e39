#!/bin/sh
# behave.sh ID: a test that behaves as its id says. Files go to $WORK (the test's directory).
# Every run appends "ID slot=SHARD_SLOT attempt=SHARD_ATTEMPT" to $WORK/runs.
printf '%s slot=%s attempt=%s node=%s/%s\n' "$1" "$SHARD_SLOT" "$SHARD_ATTEMPT" "$SHARD_NODE" "$SHARD_NODES" >> "$WORK/runs"
case "$1" in
  pass*) echo "ok: $1" ;;
  slow*) sleep 1; echo "ok, slowly: $1" ;;
  fail*) echo "expected 2, got 3" >&2; exit 1 ;;
  flaky) [ "$SHARD_ATTEMPT" -ge 2 ] || { echo "first attempt fails" >&2; exit 1; } ;;
  signal) kill -SEGV $$ ;;
  hang)
    # A grandchild that would outlive a runner that kills only its child.
    sleep 300 &
    echo $! > "$WORK/hang.grandchild"
    wait ;;
  stubborn)
    # Ignores SIGTERM: only SIGKILL stops it.
    trap '' TERM
    sleep 300 &
    echo $! > "$WORK/stubborn.grandchild"
    wait; wait; sleep 300 ;;
  leak)
    # Exits at once, leaving a grandchild that holds stdout open.
    sleep 300 &
    echo $! > "$WORK/leak.grandchild" ;;
  *) echo "unknown behaviour: $1" >&2; exit 99 ;;
esac
