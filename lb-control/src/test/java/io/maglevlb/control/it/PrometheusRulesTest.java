package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * config/prometheus/maglevd-alerts.yml passes {@code promtool check rules}, and its unit tests
 * (maglevd-alerts.test.yml: input series, expected alerts with their labels and text) pass {@code promtool test
 * rules}. Skipped, saying so, where promtool is not installed (Debian: package {@code prometheus}).
 */
class PrometheusRulesTest {
    private static String promtool() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path p = Path.of(dir, "promtool");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    private static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).directory(ShippedMonitoring.RULES.getParent().toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "promtool did not finish: " + command);
        assertEquals(0, p.exitValue(), String.join(" ", command) + " failed:\n" + out);
        return out;
    }

    @Test
    void promtoolChecksAndTestsTheRules() throws Exception {
        String promtool = promtool();
        Assumptions.assumeTrue(promtool != null,
                "promtool not on PATH (Debian package 'prometheus'): the alert rules were NOT checked");
        String out = run(List.of(promtool, "check", "rules", ShippedMonitoring.RULES.toString()));
        Map<String, String> rules = ShippedMonitoring.ruleExpressions();
        assertTrue(out.contains("SUCCESS: " + rules.size() + " rules found"), out);
        out = run(List.of(promtool, "test", "rules", ShippedMonitoring.RULES_TEST.toString()));
        assertTrue(out.contains("SUCCESS"), out);
    }

    @Test
    void everyAlertHasAUnitTest() throws Exception {
        String tests = Files.readString(ShippedMonitoring.RULES_TEST);
        for (String rule : ShippedMonitoring.ruleExpressions().keySet()) {
            String alert = rule.substring("rule ".length());
            assertTrue(tests.contains("alertname: " + alert + "\n"),
                    alert + " has no case in " + ShippedMonitoring.RULES_TEST);
        }
    }

    @Test
    void everyAlertHasASeverityASummaryAndADescription() throws Exception {
        String text = Files.readString(ShippedMonitoring.RULES);
        int alerts = ShippedMonitoring.ruleExpressions().size();
        assertEquals(alerts, text.split("\n\\s+severity: (critical|warning)\n", -1).length - 1, "severity per alert");
        assertEquals(alerts, text.split("\n\\s+summary: ", -1).length - 1, "summary per alert");
        assertEquals(alerts, text.split("\n\\s+description: ", -1).length - 1, "description per alert");
    }
}
