package io.maglevlb.bench.e2e;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import javax.imageio.ImageIO;

/**
 * Renders maglevd's ratios to HAProxy, nginx and direct as horizontal bars, one group per metric, into a PNG with
 * plain java.awt (headless). The bar length is maglevd's median divided by the peer's median, the same number as
 * the markdown table; a line marks parity (1.0) and a red tick marks the goal where the metric has one. Each group
 * says whether higher or lower is better, since latency and memory read the other way round.
 */
final class Chart {

    private static final List<Peer> REFERENCES = List.of(Peer.HAPROXY, Peer.NGINX, Peer.DIRECT);
    private static final Color[] REFERENCE_COLORS = {
        new Color(0x3b6fb6), new Color(0x3a9a4a), new Color(0x8c8c8c)};
    private static final Color GOAL = new Color(0xd03030);
    private static final Color GRID = new Color(0xe2e2e2);
    private static final Color TEXT = new Color(0x202020);
    private static final Color MUTED = new Color(0x707070);

    private static final int WIDTH = 1400;
    private static final int LABEL_WIDTH = 330;
    private static final int PLOT_LEFT = LABEL_WIDTH + 20;
    private static final int PLOT_RIGHT = WIDTH - 120;
    private static final int BAR_HEIGHT = 20;
    private static final int BAR_GAP = 4;
    private static final int GROUP_GAP = 22;
    private static final int TOP = 130;

    private Chart() {
    }

    static void render(Results results, String subtitle, Path png) throws IOException {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true"); // no display needed, nor wanted, for an image
        }
        List<Metric> metrics = results.metrics().stream().filter(m -> m.kind != Metric.Kind.BUSY && m.kind != Metric.Kind.THREADS).toList();
        int groupHeight = REFERENCES.size() * (BAR_HEIGHT + BAR_GAP) + GROUP_GAP;
        int height = TOP + Math.max(1, metrics.size()) * groupHeight + 70;

        double maxRatio = 1.2;
        for (Metric metric : metrics) {
            for (Peer reference : REFERENCES) {
                OptionalDouble ratio = results.ratio(metric, reference);
                if (ratio.isPresent()) {
                    maxRatio = Math.max(maxRatio, ratio.getAsDouble());
                }
            }
            if (metric.goal().isPresent()) {
                maxRatio = Math.max(maxRatio, metric.goal().get().factor());
            }
        }
        double scaleMax = Math.min(niceCeiling(maxRatio * 1.08), 3.0);

        BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, height);

            Font title = new Font(Font.SANS_SERIF, Font.BOLD, 24);
            Font body = new Font(Font.SANS_SERIF, Font.PLAIN, 16);
            Font small = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
            Font bold = new Font(Font.SANS_SERIF, Font.BOLD, 16);

            g.setColor(TEXT);
            g.setFont(title);
            g.drawString("maglevd ÷ peer (ratio of medians), end-to-end on loopback", 24, 40);
            g.setFont(small);
            g.setColor(MUTED);
            g.drawString(subtitle, 24, 64);

            int legendX = 24;
            int legendY = 92;
            g.setFont(body);
            for (int i = 0; i < REFERENCES.size(); i++) {
                g.setColor(REFERENCE_COLORS[i]);
                g.fillRect(legendX, legendY - 13, 16, 16);
                g.setColor(TEXT);
                String text = "vs " + REFERENCES.get(i).display;
                g.drawString(text, legendX + 22, legendY);
                legendX += 22 + g.getFontMetrics().stringWidth(text) + 30;
            }
            g.setColor(GOAL);
            g.setStroke(new BasicStroke(3f));
            g.drawLine(legendX, legendY - 14, legendX, legendY + 3);
            g.setColor(TEXT);
            g.drawString("goal", legendX + 10, legendY);
            legendX += 10 + g.getFontMetrics().stringWidth("goal") + 30;
            g.setStroke(new BasicStroke(2f));
            g.setColor(TEXT);
            g.drawLine(legendX, legendY - 14, legendX, legendY + 3);
            g.drawString("parity (1.0)", legendX + 10, legendY);

            int plotBottom = TOP + metrics.size() * groupHeight - GROUP_GAP + 6;
            g.setFont(small);
            for (double tick = 0; tick <= scaleMax + 1e-9; tick += tickStep(scaleMax)) {
                int x = xOf(tick, scaleMax);
                g.setColor(GRID);
                g.setStroke(new BasicStroke(1f));
                g.drawLine(x, TOP - 8, x, plotBottom);
                g.setColor(MUTED);
                String label = String.format(Locale.ROOT, "%.1f×", tick);
                g.drawString(label, x - g.getFontMetrics().stringWidth(label) / 2, plotBottom + 20);
            }

            int y = TOP;
            for (Metric metric : metrics) {
                g.setFont(bold);
                g.setColor(TEXT);
                g.drawString(metric.label, 24, y + 16);
                g.setFont(small);
                g.setColor(metric.higherIsBetter ? MUTED : new Color(0x9a5a00));
                g.drawString(metric.higherIsBetter ? "higher is better" : "lower is better", 24, y + 36);
                g.setColor(MUTED);
                g.drawString(metric.detail, 24, y + 54);
                for (int i = 0; i < REFERENCES.size(); i++) {
                    Peer reference = REFERENCES.get(i);
                    int barY = y + i * (BAR_HEIGHT + BAR_GAP);
                    drawBar(g, results, metric, reference, REFERENCE_COLORS[i], barY, scaleMax, small);
                }
                y += groupHeight;
            }

            g.setColor(TEXT);
            g.setStroke(new BasicStroke(2f));
            int parityX = xOf(1.0, scaleMax);
            g.drawLine(parityX, TOP - 8, parityX, plotBottom);
            g.drawLine(PLOT_LEFT, TOP - 8, PLOT_LEFT, plotBottom);

            // goal ticks last, so the parity line does not hide a goal of 1.0
            g.setColor(GOAL);
            g.setStroke(new BasicStroke(4f));
            y = TOP;
            for (Metric metric : metrics) {
                if (metric.goal().isPresent()) {
                    Metric.Goal goal = metric.goal().get();
                    int barY = y + REFERENCES.indexOf(goal.reference()) * (BAR_HEIGHT + BAR_GAP);
                    int x = xOf(Math.min(goal.factor(), scaleMax), scaleMax);
                    g.drawLine(x, barY - 4, x, barY + BAR_HEIGHT + 4);
                }
                y += groupHeight;
            }
        } finally {
            g.dispose();
        }
        Files.createDirectories(png.toAbsolutePath().getParent());
        if (!ImageIO.write(image, "png", png.toFile())) {
            throw new IOException("no PNG writer in this JDK");
        }
    }

    private static void drawBar(Graphics2D g, Results results, Metric metric, Peer reference, Color color, int barY,
            double scaleMax, Font font) {
        g.setFont(font);
        FontMetrics fm = g.getFontMetrics();
        int textY = barY + BAR_HEIGHT / 2 + fm.getAscent() / 2 - 2;
        OptionalDouble ratio = results.ratio(metric, reference);
        if (ratio.isEmpty()) {
            g.setColor(MUTED);
            String why = !results.applies(metric, reference) ? "not applicable"
                    : results.stats(metric, Peer.MAGLEVD).isEmpty() ? "maglevd not measured"
                    : reference.display + " not measured";
            g.drawString("vs " + reference.display + ": " + why, PLOT_LEFT + 8, textY);
            return;
        }
        double value = ratio.getAsDouble();
        boolean clipped = value > scaleMax;
        int x1 = xOf(Math.min(value, scaleMax), scaleMax);
        g.setColor(color);
        g.fillRect(PLOT_LEFT, barY, Math.max(1, x1 - PLOT_LEFT), BAR_HEIGHT);
        if (clipped) {
            g.setColor(Color.WHITE);
            g.setStroke(new BasicStroke(3f));
            g.drawLine(x1 - 14, barY - 1, x1 - 20, barY + BAR_HEIGHT + 1);
            g.drawLine(x1 - 8, barY - 1, x1 - 14, barY + BAR_HEIGHT + 1);
        }
        g.setColor(TEXT);
        String label = String.format(Locale.ROOT, "%.2f×", value);
        g.drawString(label, x1 + 8, textY);
    }

    private static int xOf(double ratio, double scaleMax) {
        return PLOT_LEFT + (int) Math.round(ratio / scaleMax * (PLOT_RIGHT - PLOT_LEFT));
    }

    private static double niceCeiling(double value) {
        return Math.ceil(value * 4) / 4;
    }

    private static double tickStep(double scaleMax) {
        return scaleMax <= 1.5 ? 0.25 : scaleMax <= 3 ? 0.5 : 1.0;
    }
}
