package io.maglevlb.control.admin;

import java.util.List;

/**
 * The outcome of a reload.
 *
 * @param ok whether the new configuration is now running
 * @param errors every problem found (with its path and line) when not ok; empty when ok
 * @param added VIPs started by the reload
 * @param removed VIPs stopped (they stop accepting and their connections drain)
 * @param changed VIPs whose backends or settings changed (listeners and connections kept)
 * @param unchanged VIPs left exactly as they were
 */
public record ReloadResult(boolean ok, List<String> errors, List<String> added, List<String> removed,
        List<String> changed, List<String> unchanged) {

    public ReloadResult {
        errors = List.copyOf(errors);
        added = List.copyOf(added);
        removed = List.copyOf(removed);
        changed = List.copyOf(changed);
        unchanged = List.copyOf(unchanged);
    }

    public static ReloadResult failed(List<String> errors) {
        return new ReloadResult(false, errors, List.of(), List.of(), List.of(), List.of());
    }
}
