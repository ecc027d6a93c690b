package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.configWithToken;
import static io.maglevlb.control.it.ConfigYaml.tcpCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in a real headless Chromium against a real maglevd process with a bearer token: what a person
 * sees (VIP and backend names, up and down, the token prompt), the page following a drain made through the admin
 * API, live numbers after traffic, and the phone layout. Skipped, saying why, where Chromium is not installed.
 * Leaves a screenshot in {@code target/status-page.png} (docs/status-page.png is one).
 */
class StatusPageBrowserIT {
    private static final String TOKEN = "browser-it-token-0123456789";
    private static final Duration SEEN = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private static String row(String vip, String backend) {
        return "(document.querySelector('section[data-vip=\"" + vip + "\"] tr[data-backend=\"" + backend
                + "\"]') || {innerText: ''}).innerText";
    }

    private static String cell(String vip, String backend, String column) {
        return "(document.querySelector('section[data-vip=\"" + vip + "\"] tr[data-backend=\"" + backend
                + "\"] td[data-label=\"" + column + "\"]') || {innerText: ''}).innerText";
    }

    @Test
    void anOperatorSeesEveryVipAndBackendAndTheDrainTheyMade() throws Exception {
        Optional<Path> chromium = HeadlessChromium.binary();
        Assumptions.assumeTrue(chromium.isPresent(),
                "chromium is not installed (/usr/bin/chromium): skipping the status page browser test; "
                        + "apt-get install chromium to run it");

        List<NamedEchoBackend> backends = new ArrayList<>();
        List<UdpOnlyBackend> udpBackends = new ArrayList<>();
        NamedEchoBackend charlie = new NamedEchoBackend("charlie");
        charlie.stop(); // configured but not listening: down
        backends.add(charlie);
        backends.add(new NamedEchoBackend("alpha"));
        backends.add(new NamedEchoBackend("bravo"));
        Path tokenFile = Files.writeString(dir.resolve("token"), TOKEN + "\n");
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        int adminPort = freePort();
        int vipPort = freePort();
        int udpPort = UdpPorts.freeBelowEphemeralRange();
        String dns = """
                  - name: dns
                    protocol: udp
                    listen: 127.0.0.1:%d
                    table_size: 1009
                    health_check:
                      type: none
                    backends:
                """.formatted(udpPort);
        for (String name : List.of("ns-1", "ns-2")) {
            UdpOnlyBackend u = new UdpOnlyBackend(name);
            udpBackends.add(u);
            dns += backend(name, u.address().getPort());
        }
        Path config = Files.writeString(dir.resolve("maglevd.yaml"), configWithToken(adminPort, tokenFile.toString(),
                vip("web", vipPort, tcpCheck(200, 200, 1, 1), backend(backends.get(1)), backend(backends.get(2)),
                        backend("charlie", charlie.port())), dns));
        Path profile = Files.createDirectory(dir.resolve("profile"));
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config",
                        config.toString());
                HeadlessChromium browser = HeadlessChromium.start(chromium.get(), profile, 1100, 900)) {
            maglevd.awaitLine("maglevd running", Duration.ofSeconds(90));
            String page = "http://127.0.0.1:" + adminPort + "/";

            // A token is configured: the page shows no data until it is given, and asks for it.
            browser.navigate(page);
            browser.await("!document.getElementById('login').hidden", SEEN, "the token prompt");
            assertFalse(browser.text("document.body.innerText").contains("alpha"), "no data without the token");

            browser.eval("document.getElementById('token').focus()");
            browser.type("wrong-token");
            browser.eval("document.querySelector('#login button').click()");
            browser.await("document.getElementById('login-error').innerText.includes('refused')", SEEN,
                    "a refused token to be said so");

            browser.eval("document.getElementById('token').focus()");
            browser.type(TOKEN);
            browser.eval("document.querySelector('#login button').click()");
            browser.await(row("web", "charlie") + ".includes('down')", SEEN, "charlie shown down");
            browser.await(row("web", "alpha") + ".includes('up') && " + row("web", "bravo") + ".includes('up')",
                    SEEN, "alpha and bravo shown up");
            String text = browser.text("document.body.innerText");
            assertTrue(text.contains("web") && text.contains("127.0.0.1:" + vipPort) && text.contains("tcp · proxy"),
                    text);
            assertTrue(text.contains("2 of 3 in table"), text);
            assertTrue(text.contains("dns") && text.contains("udp · proxy") && text.contains("2 of 2 in table"), text);
            assertFalse(browser.text("location.href").contains(TOKEN), "the token never goes into the URL");
            assertEquals(TOKEN, browser.text("sessionStorage.getItem('maglevd.token')"));
            assertEquals("50.0%", browser.text(cell("web", "alpha", "slot share")));
            assertEquals("0.0%", browser.text(cell("web", "charlie", "slot share")));

            // Live numbers: an open connection shows as active on its backend.
            try (EchoClient held = EchoClient.connect(vipPort)) {
                for (int i = 0; i < 30; i++) {
                    try (EchoClient c = EchoClient.connect(vipPort)) {
                        c.roundTrip(i);
                    }
                }
                String holder = held.backend();
                browser.await(cell("web", holder, "active") + " === '1'", SEEN,
                        "the open connection counted on " + holder);
                // A drain through the admin API shows up without reloading the page.
                HttpResponse<String> drain = http.send(HttpRequest.newBuilder(
                                URI.create(page + "vips/web/backends/alpha/drain"))
                        .header("Authorization", "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, drain.statusCode(), drain.body());
                browser.await(cell("web", "alpha", "drained") + " === 'drained' && "
                        + cell("web", "alpha", "slot share") + " === '0.0%'", SEEN,
                        "alpha shown drained with no slots");
                assertEquals("100.0%", browser.text(cell("web", "bravo", "slot share")));
                browser.await("document.body.innerText.includes('1 of 3 in table')", SEEN, "one backend in the table");

                // Traffic after the drain: all new flows on bravo, rates above zero, a UDP flow on the other VIP.
                for (int i = 0; i < 40; i++) {
                    try (EchoClient c = EchoClient.connect(vipPort)) {
                        assertEquals("bravo", c.backend());
                        c.roundTrip(i);
                    }
                }
                try (DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                    udp.setSoTimeout(10_000);
                    byte[] q = "query".getBytes(StandardCharsets.US_ASCII);
                    udp.send(new DatagramPacket(q, q.length, InetAddress.getLoopbackAddress(), udpPort));
                    udp.receive(new DatagramPacket(new byte[1500], 1500));
                }
                browser.await("[...document.querySelectorAll('section[data-vip=\"web\"] .facts span')].some(s => "
                        + "s.innerText.startsWith('new flows/s') && !s.innerText.endsWith(' 0'))", SEEN,
                        "a non-zero new-flow rate");
                browser.await(cell("web", "bravo", "flows/s") + " !== '0'", SEEN, "bravo's flow rate above zero");
                browser.await(cell("dns", "ns-1", "active") + " === '1' || " + cell("dns", "ns-2", "active")
                        + " === '1'", SEEN, "the UDP flow counted");
                browser.screenshot(Path.of("target", "status-page.png"));
            }

            // Readable on a phone: the backend table turns into one card per backend.
            browser.phone(390, 844);
            browser.await("getComputedStyle(document.querySelector('thead')).display === 'none'", SEEN,
                    "the narrow layout");
            assertTrue(browser.eval("document.documentElement.scrollWidth <= 390").asBoolean(),
                    "nothing wider than the phone: " + browser.text("document.documentElement.scrollWidth"));
            browser.screenshot(Path.of("target", "status-page-phone.png"));
            browser.desktop();

            // Everything the page loaded came from maglevd itself.
            String origins = browser.text("JSON.stringify(performance.getEntriesByType('resource')"
                    + ".map(e => new URL(e.name).origin).filter(o => o !== location.origin))");
            assertEquals("[]", origins);

            // Forgetting the token hides the data again.
            browser.eval("document.getElementById('forget').click()");
            browser.await("!document.getElementById('login').hidden && !document.body.innerText.includes('bravo')",
                    SEEN, "the data hidden after forgetting the token");
        } finally {
            http.close();
            for (NamedEchoBackend b : backends) {
                b.close();
            }
            for (UdpOnlyBackend u : udpBackends) {
                u.close();
            }
        }
    }
}
