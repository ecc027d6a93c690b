#!/usr/bin/env bash
# A/B of the CPU one UDP echo round trip costs a load balancer (docs/udp.md, "The epoll engine against Netty's"):
# maglevd built in checkout BEFORE, maglevd built in checkout AFTER, and nginx stream (UDP), each pinned to core 0,
# side by side in one run; echo backends and the load (lb-bench's E2e udp-load: 32 flows x 8 datagrams of 64 bytes
# in flight, closed loop) on core 1. Per run: utime+stime of the load balancer's process (/proc/PID/stat) over the
# run, divided by the round trips (one datagram each way through the load balancer). Peers interleaved, ROUNDS
# rounds of MS ms after an 8 s warm-up each; prints one line per run (take medians).
#
#   BEFORE=/path/to/other/checkout AFTER=. ROUNDS=5 MS=6000 scripts/lib/udp-cpu-ab.sh
#
# Both checkouts must be built (./mvnw -DskipTests -pl lb-bench -am package: lb-control/target/lib and
# lb-bench/target/benchmarks.jar); AFTER's benchmarks.jar runs the load. Traffic stays on 127.0.0.1; every process
# started here is stopped by PID and the temp dir removed on exit.
set -euo pipefail
J=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
A=$(cd "${BEFORE:?BEFORE=checkout to compare with}" && pwd); B=$(cd "${AFTER:-.}" && pwd)
JAR=$B/lb-bench/target/benchmarks.jar
E2E=($J --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -cp $JAR io.maglevlb.bench.e2e.E2e)
ROUNDS=${ROUNDS:-3}; MS=${MS:-5000}
D=$(mktemp -d /tmp/udp-cpu-ab.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
read -r PB1 PB2 PVA PVB PN PAA PAB < <(python3 -c '
import socket
ss=[]
for i in range(7):  # free for UDP and TCP alike
    while True:
        u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1",0)); port=u.getsockname()[1]
        t=socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1",port)); ss+=[u,t]; break
        except OSError:
            u.close(); t.close()
print(*[s.getsockname()[1] for s in ss[::2]])')
taskset -c 1 "${E2E[@]}" backends --udp-echo 127.0.0.1:$PB1,127.0.0.1:$PB2 --max-seconds 1800 >$D/backends.log 2>&1 &
pids+=($!)
mkconf() { # file vipport adminport
  cat >$1 <<Y
admin:
  listen: "127.0.0.1:$3"
workers: 1
shutdown_timeout: 2s
vips:
  - name: udp
    listen: "127.0.0.1:$2"
    protocol: udp
    health_check:
      type: none
    backends:
      - name: b1
        address: "127.0.0.1:$PB1"
        weight: 1
      - name: b2
        address: "127.0.0.1:$PB2"
        weight: 1
Y
}
mkconf $D/a.yaml $PVA $PAA; mkconf $D/b.yaml $PVB $PAB
declare -A PID VIP
cpA="$A/lb-control/target/lb-control-0.1.0-SNAPSHOT.jar:$A/lb-control/target/lib/*"
cpB="$B/lb-control/target/lb-control-0.1.0-SNAPSHOT.jar:$B/lb-control/target/lib/*"
JOPTS=(--enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xms32m -Xmx1g -XX:MaxDirectMemorySize=256m)
taskset -c 0 $J "${JOPTS[@]}" -cp "$cpA" io.maglevlb.control.cli.MaglevdMain run --config $D/a.yaml >$D/before.log 2>&1 &
pids+=($!); PID[before]=$!; VIP[before]=127.0.0.1:$PVA
taskset -c 0 $J "${JOPTS[@]}" -cp "$cpB" io.maglevlb.control.cli.MaglevdMain run --config $D/b.yaml >$D/after.log 2>&1 &
pids+=($!); PID[after]=$!; VIP[after]=127.0.0.1:$PVB
cat >$D/nginx.conf <<N
worker_processes 1;
pid $D/nginx.pid;
error_log $D/nginx.error.log warn;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events { worker_connections 4096; }
stream {
  upstream udp_backends { server 127.0.0.1:$PB1; server 127.0.0.1:$PB2; }
  server { listen 127.0.0.1:$PN udp; proxy_pass udp_backends; proxy_timeout 10s; }
}
N
taskset -c 0 nginx -p $D/ -c $D/nginx.conf -g 'daemon off; master_process off;' >$D/nginx.log 2>&1 &
pids+=($!); PID[nginx]=$!; VIP[nginx]=127.0.0.1:$PN
for p in before after; do
  for i in $(seq 1 240); do
    grep -q "maglevd running" $D/$p.log && break
    kill -0 ${PID[$p]} 2>/dev/null || { echo "maglevd $p did not start: $(tail -n 1 $D/$p.log)"; exit 1; }
    sleep 0.5
  done
done
sleep 2
for p in before after nginx; do
  "${E2E[@]}" probe --udp "${VIP[$p]}" --timeout-ms 60000 >$D/probe-$p.log 2>&1 || { echo "$p: no echo through ${VIP[$p]}"; exit 1; }
done
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
hz=$(getconf CLK_TCK)
load() { taskset -c 1 "${E2E[@]}" udp-load --targets "$1" --sockets 32 --window 8 --size 64 --warmup-ms 0 --duration-ms "$2" 2>&1; }
for p in before after nginx; do  # warm-up (JIT)
  load "${VIP[$p]}" 8000 >$D/warm-$p.log || echo "warm-up of $p failed: $(tail -n2 $D/warm-$p.log)" >&2
done
echo -e "round\tpeer\trt_per_s\tcpu_s\tus_per_rt\tload1"
for r in $(seq 1 $ROUNDS); do
  for p in before after nginx; do
    t0=$(ticks ${PID[$p]})
    out=$(load "${VIP[$p]}" $MS)
    t1=$(ticks ${PID[$p]})
    rate=$(awk '/^RESULT/ {print $2}' <<<"$out")
    awk -v r=$r -v p=$p -v rate="$rate" -v t=$((t1 - t0)) -v hz=$hz -v ms=$MS -v l="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN { cpu=t/hz; n=rate*ms/1000; printf "%s\t%s\t%.0f\t%.2f\t%.2f\t%s\n", r, p, rate, cpu, cpu*1e6/n, l }' 
  done
done
