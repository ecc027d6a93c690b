# Sourced by scripts/maglevd: the JVM options the daemon always needs, in $maglevd_required_jvm_opts, and the
# JVM defaults for a network daemon, in $maglevd_default_jvm_opts.
#
# Required (the same in config/maglevd.service and in the tests' JVMs, pom.xml surefire.jvm.args), so JDK 25
# starts the daemon without warnings, Netty with Unsafe as on JDK 21 (docs/operations.md, "Memory and JVM options"):
#   --enable-native-access=ALL-UNNAMED     the FFM system calls (io.maglevlb.dataplane.linux) and Netty's epoll
#                                          library (System.loadLibrary); without it JDK 25 warns at startup
#   --sun-misc-unsafe-memory-access=allow  Netty 4.2 on JDK 25+ uses sun.misc.Unsafe for its buffers only when
#                                          this says allow (otherwise it switches Unsafe off itself,
#                                          io.netty.noUnsafe); allow also keeps the JDK's Unsafe warnings off
# shellcheck disable=SC2034 # used by the sourcing script
maglevd_required_jvm_opts="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
#
# Defaults:
# Measured in docs/operations.md ("Memory and JVM options"): the serial collector and a small, bounded heap
# instead of the JVM's own defaults (G1, a heap of up to 1/4 of the RAM, grown eagerly). The same values as
# config/maglevd.service. To override:
#   MAGLEVD_JAVA_OPTS  goes last on the command line, so its options win (-Xmx1g, -XX:MaxDirectMemorySize=1g).
#                      A collector chosen there (-XX:+UseG1GC, -XX:+UseZGC, ...) replaces the default one (the
#                      JVM refuses two), and a heap size there (-Xmx, -Xms, -XX:MaxRAMPercentage, ...) drops
#                      the default -Xms and -Xmx (so -Xmx16m alone works).
#   MAGLEVD_GC_OPTS, MAGLEVD_HEAP_OPTS  replace the defaults below as a whole ("" drops them).
maglevd_gc_opts=${MAGLEVD_GC_OPTS--XX:+UseSerialGC}
maglevd_heap_opts=${MAGLEVD_HEAP_OPTS--Xms32m -Xmx256m -XX:MaxDirectMemorySize=256m -XX:MetaspaceSize=64m -XX:MaxMetaspaceSize=128m}
maglevd_own_heap_size=0
for maglevd_opt in ${MAGLEVD_JAVA_OPTS:-}; do
  case "$maglevd_opt" in
    -XX:+Use*GC) maglevd_gc_opts="" ;;
    -Xmx*|-Xms*|-XX:MaxHeapSize=*|-XX:InitialHeapSize=*|-XX:*RAMPercentage=*|-XX:MaxRAM=*) maglevd_own_heap_size=1 ;;
  esac
done
if [ "$maglevd_own_heap_size" = 1 ]; then
  maglevd_kept=""
  for maglevd_opt in $maglevd_heap_opts; do
    case "$maglevd_opt" in -Xmx*|-Xms*) ;; *) maglevd_kept="$maglevd_kept $maglevd_opt" ;; esac
  done
  maglevd_heap_opts=$maglevd_kept
fi
# shellcheck disable=SC2034 # used by the sourcing script
maglevd_default_jvm_opts="$maglevd_gc_opts $maglevd_heap_opts"
unset maglevd_opt maglevd_kept maglevd_own_heap_size
