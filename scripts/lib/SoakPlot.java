import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Plots the samples of {@code scripts/reliability --soak} (TSV: seconds, rss_mb, heap_mb, fds, threads) as four
 * stacked line charts sharing the time axis, into a PNG, with plain java.awt (headless). Each panel's scale starts
 * at zero so that growth reads as what it is, and a dashed line marks the end of the warm-up.
 *
 * <p>Run with the JDK's source launcher: {@code java scripts/lib/SoakPlot.java samples.tsv out.png "title"}.
 */
public final class SoakPlot {
    private static final int WIDTH = 1200;
    private static final int PANEL_HEIGHT = 190;
    private static final int LEFT = 90;
    private static final int RIGHT = 40;
    private static final int TOP = 70;
    private static final String[] NAMES = {"RSS (MB)", "heap used (MB)", "open descriptors", "threads"};
    private static final Color[] COLORS = {
        new Color(0x3b6fb6), new Color(0x3a9a4a), new Color(0xc0752a), new Color(0x8a4fb0)};

    private SoakPlot() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: java SoakPlot.java samples.tsv out.png [title]");
            System.exit(64);
        }
        System.setProperty("java.awt.headless", "true");
        List<double[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            if (line.isBlank() || line.startsWith("seconds")) {
                continue;
            }
            String[] f = line.split("\t");
            double[] r = new double[5];
            for (int i = 0; i < 5; i++) {
                r[i] = Double.parseDouble(f[i]);
            }
            rows.add(r);
        }
        if (rows.size() < 2) {
            System.err.println("SoakPlot: fewer than two samples in " + args[0]);
            System.exit(1);
        }
        String title = args.length > 2 ? args[2] : "maglevd soak";
        double tMax = rows.get(rows.size() - 1)[0];
        double warmUp = Math.max(60, tMax / 5);
        int height = TOP + NAMES.length * PANEL_HEIGHT + 40;
        BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, height);
        g.setColor(new Color(0x202020));
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 20));
        g.drawString(title, LEFT, 32);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.setColor(new Color(0x707070));
        g.drawString("one sample every 10 s; dashed line: end of warm-up (growth is measured after it)", LEFT, 54);

        int plotWidth = WIDTH - LEFT - RIGHT;
        for (int p = 0; p < NAMES.length; p++) {
            int col = p + 1;
            int y0 = TOP + p * PANEL_HEIGHT;
            int plotTop = y0 + 24;
            int plotBottom = y0 + PANEL_HEIGHT - 30;
            double max = 0;
            for (double[] r : rows) {
                max = Math.max(max, r[col]);
            }
            max = niceCeiling(max * 1.1);
            g.setColor(new Color(0x202020));
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
            g.drawString(NAMES[p], LEFT, y0 + 16);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            for (int k = 0; k <= 4; k++) {
                double v = max * k / 4;
                int y = plotBottom - (int) Math.round((plotBottom - plotTop) * (double) k / 4);
                g.setColor(new Color(0xe2e2e2));
                g.drawLine(LEFT, y, LEFT + plotWidth, y);
                g.setColor(new Color(0x707070));
                g.drawString(String.format(Locale.ROOT, "%.0f", v), 10, y + 4);
            }
            for (int k = 0; k <= 6; k++) {
                double t = tMax * k / 6;
                int x = LEFT + (int) Math.round(plotWidth * (double) k / 6);
                g.drawString(String.format(Locale.ROOT, "%.0f s", t), x - 12, plotBottom + 16);
            }
            int wx = LEFT + (int) Math.round(plotWidth * warmUp / tMax);
            g.setColor(new Color(0xd03030));
            g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {5f}, 0f));
            g.drawLine(wx, plotTop, wx, plotBottom);
            g.setStroke(new BasicStroke(2f));
            g.setColor(COLORS[p]);
            int px = -1;
            int py = -1;
            for (double[] r : rows) {
                int x = LEFT + (int) Math.round(plotWidth * r[0] / tMax);
                int y = plotBottom - (int) Math.round((plotBottom - plotTop) * (max == 0 ? 0 : r[col] / max));
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                px = x;
                py = y;
            }
        }
        g.dispose();
        ImageIO.write(image, "png", Path.of(args[1]).toFile());
    }

    private static double niceCeiling(double value) {
        if (value <= 0) {
            return 1;
        }
        double magnitude = Math.pow(10, Math.floor(Math.log10(value)));
        for (double step : new double[] {1, 2, 2.5, 5, 10}) {
            if (step * magnitude >= value) {
                return step * magnitude;
            }
        }
        return 10 * magnitude;
    }
}
