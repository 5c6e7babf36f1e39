#!/bin/sh
# fake-runner.sh JUNIT ID...: a batch runner that writes each id's result to JUNIT as it goes,
# naming it by a shard.id property, so that a crash leaves a truncated report.
out=$1
shift
printf '<testsuite name="fake">' > "$out"
for id in "$@"; do
  echo "$id" >> "$WORK/runs"
  case "$id" in
    crash*) kill -KILL $$ ;;
    hang*) sleep 300 ;;
    silent*) continue ;;
    stray*) printf '<testcase classname="fake" name="%s-unrelated"/>\n' "$id" >> "$out"; continue ;;
  esac
  result=""
  case "$id" in fail*) result='<failure message="wrong answer">42 != 43</failure>' ;; esac
  printf '<testcase classname="fake" name="%s" time="0.25"><properties><property name="shard.id" value="%s"/></properties>%s</testcase>\n' \
    "$id" "$id" "$result" >> "$out"
done
printf '</testsuite>\n' >> "$out"
