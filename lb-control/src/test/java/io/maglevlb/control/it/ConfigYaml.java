package io.maglevlb.control.it;

/** Builds maglevd YAML for the control-plane integration tests (everything on 127.0.0.1). */
final class ConfigYaml {
    private ConfigYaml() {}

    static String config(int adminPort, String... vips) {
        StringBuilder sb = new StringBuilder("""
                workers: 2
                shutdown_timeout: 5s
                admin:
                  listen: 127.0.0.1:%d
                vips:
                """.formatted(adminPort));
        for (String v : vips) {
            sb.append(v);
        }
        return sb.toString();
    }

    static String configWithToken(int adminPort, String tokenFile, String... vips) {
        return config(adminPort, vips).replace("  listen: 127.0.0.1:" + adminPort + "\n",
                "  listen: 127.0.0.1:" + adminPort + "\n  token_file: " + tokenFile + "\n");
    }

    /** A TCP health check. */
    static String tcpCheck(int intervalMs, int timeoutMs, int rise, int fall) {
        return """
                    health_check:
                      type: tcp
                      interval: %dms
                      timeout: %dms
                      rise: %d
                      fall: %d
                """.formatted(intervalMs, timeoutMs, rise, fall);
    }

    static String noCheck() {
        return """
                    health_check:
                      type: none
                """;
    }

    static String vip(String name, int port, String healthCheck, String... backends) {
        StringBuilder sb = new StringBuilder("""
                  - name: %s
                    listen: 127.0.0.1:%d
                    table_size: 1009
                    connect_timeout: 1s
                    connect_retries: 2
                """.formatted(name, port));
        sb.append(healthCheck);
        sb.append("    backends:\n");
        for (String b : backends) {
            sb.append(b);
        }
        return sb.toString();
    }

    static String backend(String name, int port) {
        return backend(name, port, 1);
    }

    static String backend(String name, int port, int weight) {
        return """
                      - name: %s
                        address: 127.0.0.1:%d
                        weight: %d
                """.formatted(name, port, weight);
    }

    static String backend(NamedEchoBackend b) {
        return backend(b.name(), b.port());
    }
}
