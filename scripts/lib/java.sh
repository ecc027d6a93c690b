# Sourced by scripts/*: finds a JDK 25+ and exports JAVA_HOME, or exits with what to install.
# Order: $JAVA_HOME if it is 25 or newer, then the newest JDK >= 25 under /usr/lib/jvm.

maglev_java_major() {
  # Prints the feature version of the java binary $1 (e.g. 25), or nothing.
  "$1" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

maglev_find_jdk() {
  local want=25 candidate major best="" best_major=0
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    major=$(maglev_java_major "$JAVA_HOME/bin/java")
    if [ -n "$major" ] && [ "$major" -ge "$want" ]; then
      return 0
    fi
  fi
  for candidate in /usr/lib/jvm/*; do
    [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(maglev_java_major "$candidate/bin/java")
    [ -n "$major" ] || continue
    if [ "$major" -ge "$want" ] && [ "$major" -gt "$best_major" ]; then
      best="$candidate"; best_major="$major"
    fi
  done
  if [ -z "$best" ]; then
    cat >&2 <<MSG
maglev-lb needs a JDK $want or newer and found none.
  JAVA_HOME=${JAVA_HOME:-<unset>} is not a JDK $want+, and /usr/lib/jvm holds none.
Install one, for example:
  apt-get install temurin-25-jdk      (Adoptium's Debian repository)
  or unpack any JDK 25 and set JAVA_HOME to it.
MSG
    return 1
  fi
  export JAVA_HOME="$best"
}

maglev_find_jdk || exit 1
export PATH="$JAVA_HOME/bin:$PATH"
