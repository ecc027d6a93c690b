package io.maglevlb.control.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.Yaml;

/** The shipped Grafana dashboard and Prometheus rules: where they are and the PromQL they contain. */
final class ShippedMonitoring {
    private ShippedMonitoring() {}

    static final Path ROOT = root();
    static final Path DASHBOARD = ROOT.resolve("config/grafana/maglevd.json");
    static final Path RULES = ROOT.resolve("config/prometheus/maglevd-alerts.yml");
    static final Path RULES_TEST = ROOT.resolve("config/prometheus/maglevd-alerts.test.yml");

    private static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("config/maglevd.service"))) {
                return p;
            }
        }
        throw new IllegalStateException("config/maglevd.service not found above " + Path.of("").toAbsolutePath());
    }

    /** Every PromQL expression of the dashboard (panel targets and template variable queries), by where it is. */
    static Map<String, String> dashboardExpressions() throws IOException {
        JsonNode dash = new ObjectMapper().readTree(DASHBOARD.toFile());
        Map<String, String> exprs = new TreeMap<>();
        for (JsonNode panel : dash.path("panels")) {
            int i = 0;
            for (JsonNode target : panel.path("targets")) {
                exprs.put("panel '" + panel.path("title").asText() + "' target " + i++, target.path("expr").asText());
            }
        }
        Pattern labelValues = Pattern.compile("label_values\\((\\w+)");
        for (JsonNode variable : dash.path("templating").path("list")) {
            Matcher m = labelValues.matcher(variable.path("definition").asText());
            if (m.find()) {
                exprs.put("variable " + variable.path("name").asText(), m.group(1));
            }
        }
        return exprs;
    }

    /** Every alert's expression, by alert name. */
    @SuppressWarnings("unchecked")
    static Map<String, String> ruleExpressions() throws IOException {
        Map<String, Object> doc = new Yaml().load(Files.readString(RULES));
        Map<String, String> exprs = new TreeMap<>();
        for (Map<String, Object> group : (List<Map<String, Object>>) doc.get("groups")) {
            for (Map<String, Object> rule : (List<Map<String, Object>>) group.get("rules")) {
                Object name = rule.containsKey("alert") ? rule.get("alert") : rule.get("record");
                exprs.put("rule " + name, String.valueOf(rule.get("expr")));
            }
        }
        return exprs;
    }

    static List<String> command(String... words) {
        return new ArrayList<>(List.of(words));
    }
}
