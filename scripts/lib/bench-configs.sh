# Sourced by scripts/bench: writes the configuration files of the backends and of every peer.
# Every function reads the run's globals (addresses, ports, directories) and writes one file; nothing here starts
# a process. Addresses: backends on 127.0.0.2-5, peers on 127.0.1.x (maglevd .1, HAProxy .2, nginx .3).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the run's globals are set by scripts/bench before these run

# nginx http backend: one worker on the load core serving a tiny fixed response on every backend address.
bench_write_backend_nginx() {
  local dir=$1 addr listens=""
  for addr in "${backend_ips[@]}"; do
    listens+="        listen $addr:$port_http backlog=4096;"$'\n'
  done
  cat >"$dir/nginx-backend.conf" <<EOF
# HTTP backends for scripts/bench: a tiny fixed response on every backend address.
daemon off;
worker_processes 1;
worker_rlimit_nofile $nofile_limit;
pid $dir/nginx-backend.pid;
error_log $dir/nginx-backend.error.log warn;
events {
    worker_connections 16384;
}
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    default_type text/plain;
    client_body_temp_path $dir/nginx-backend-tmp/body;
    proxy_temp_path $dir/nginx-backend-tmp/proxy;
    fastcgi_temp_path $dir/nginx-backend-tmp/fastcgi;
    uwsgi_temp_path $dir/nginx-backend-tmp/uwsgi;
    scgi_temp_path $dir/nginx-backend-tmp/scgi;
    server {
${listens}        location / {
            return 200 "ok\n";
        }
    }
}
EOF
  mkdir -p "$dir/nginx-backend-tmp"
}

# maglevd: one worker, no health checks (the backends are known up), one VIP per load.
# $2 = 1 to include the UDP VIP.
bench_write_maglevd() {
  local file=$1 with_udp=$2 vip_ip=${peer_ip[maglevd]}
  {
    echo "# maglevd for scripts/bench: one forwarding worker, health checks off, one VIP per load."
    echo "admin:"
    echo "  listen: \"$vip_ip:$port_admin\""
    echo "workers: 1"
    echo "shutdown_timeout: 2s"
    echo "vips:"
    bench_maglevd_vip http tcp "$vip_ip:$port_http" "$port_http" "${backend_ips[@]}"
    bench_maglevd_vip bulk tcp "$vip_ip:$port_iperf" "$port_iperf" "${backend_ips[0]}"
    bench_maglevd_vip idle tcp "$vip_ip:$port_hold" "$port_hold" "${backend_ips[@]}"
    bench_maglevd_vip redis tcp "$vip_ip:$port_redis" "$port_redis" "${backend_ips[@]:0:$redis_backends}"
    if [ "$with_udp" = 1 ]; then
      bench_maglevd_vip udp udp "$vip_ip:$port_udp" "$port_udp" "${backend_ips[@]}"
    fi
  } >"$file"
}

bench_maglevd_vip() {
  local name=$1 protocol=$2 listen=$3 port=$4 i=0 ip
  shift 4
  echo "  - name: $name"
  echo "    listen: \"$listen\""
  echo "    protocol: $protocol"
  echo "    health_check:"
  echo "      type: none"
  echo "    backends:"
  for ip in "$@"; do
    i=$((i + 1))
    echo "      - name: b$i"
    echo "        address: \"$ip:$port\""
    echo "        weight: 1"
  done
}

# HAProxy: TCP mode, one thread, default round robin, no checks; long client/server timeouts so idle
# connections stay open through the memory test.
bench_write_haproxy() {
  local file=$1 vip_ip=${peer_ip[haproxy]}
  {
    cat <<EOF
# HAProxy for scripts/bench: mode tcp, one thread, round robin, no health checks.
global
    nbthread 1
    maxconn $haproxy_maxconn

defaults
    mode tcp
    maxconn $haproxy_maxconn
    timeout connect 5s
    timeout client 10m
    timeout server 10m
EOF
    bench_haproxy_proxy http "$vip_ip:$port_http" "$port_http" "${backend_ips[@]}"
    bench_haproxy_proxy bulk "$vip_ip:$port_iperf" "$port_iperf" "${backend_ips[0]}"
    bench_haproxy_proxy idle "$vip_ip:$port_hold" "$port_hold" "${backend_ips[@]}"
    bench_haproxy_proxy redis "$vip_ip:$port_redis" "$port_redis" "${backend_ips[@]:0:$redis_backends}"
  } >"$file"
}

bench_haproxy_proxy() {
  local name=$1 bind=$2 port=$3 i=0 ip
  shift 3
  printf '\nfrontend %s\n    bind %s\n    default_backend %s_backends\n\nbackend %s_backends\n' \
    "$name" "$bind" "$name" "$name"
  for ip in "$@"; do
    i=$((i + 1))
    echo "    server b$i $ip:$port"
  done
}

# nginx stream: one worker, TCP and UDP proxying, default round robin.
bench_write_nginx() {
  local dir=$1 vip_ip=${peer_ip[nginx]} load_module=""
  if [ -n "$nginx_stream_module" ]; then
    load_module="load_module $nginx_stream_module;"
  fi
  {
    cat <<EOF
# nginx stream for scripts/bench: one worker, TCP and UDP proxying, round robin.
daemon off;
worker_processes 1;
worker_rlimit_nofile $nofile_limit;
pid $dir/nginx.pid;
error_log $dir/nginx.error.log warn;
$load_module
events {
    worker_connections 40000;
}
stream {
EOF
    bench_nginx_upstream http "$port_http" "${backend_ips[@]}"
    bench_nginx_upstream bulk "$port_iperf" "${backend_ips[0]}"
    bench_nginx_upstream idle "$port_hold" "${backend_ips[@]}"
    bench_nginx_upstream redis "$port_redis" "${backend_ips[@]:0:$redis_backends}"
    bench_nginx_upstream udp "$port_udp" "${backend_ips[@]}"
    cat <<EOF
    server {
        listen $vip_ip:$port_http;
        proxy_pass http_backends;
    }
    server {
        listen $vip_ip:$port_iperf;
        proxy_pass bulk_backends;
    }
    server {
        listen $vip_ip:$port_hold;
        proxy_pass idle_backends;
        proxy_timeout 10m;
    }
    server {
        listen $vip_ip:$port_redis;
        proxy_pass redis_backends;
    }
    server {
        listen $vip_ip:$port_udp udp;
        proxy_pass udp_backends;
        proxy_timeout 10s;
    }
}
EOF
  } >"$dir/nginx.conf"
}

bench_nginx_upstream() {
  local name=$1 port=$2 ip
  shift 2
  echo "    upstream ${name}_backends {"
  for ip in "$@"; do
    echo "        server $ip:$port;"
  done
  echo "    }"
}
