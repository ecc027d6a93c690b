package io.maglevlb.control.admin;

import java.util.List;

/**
 * {@code GET /vips/{vip}/table}: the published Maglev table.
 *
 * @param slots one backend id per slot; 0 = no backend (every backend down or drained)
 * @param backends the ids in {@code slots}, with names and slot counts
 */
public record TableView(String vip, long generation, String digest, int size, List<Backend> backends,
        int[] slots) {

    public TableView {
        backends = List.copyOf(backends);
    }

    public record Backend(int id, String name, int slots) {}
}
