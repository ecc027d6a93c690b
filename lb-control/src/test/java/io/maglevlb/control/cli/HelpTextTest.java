package io.maglevlb.control.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's description is made of whole sentences: picocli prints each element of a description array
 * on a line of its own, so an element that stops mid-sentence shows up in --help as a sentence cut in two.
 */
class HelpTextTest {
    private static void collect(CommandLine cl, List<CommandLine> all) {
        all.add(cl);
        cl.getSubcommands().values().forEach(sub -> collect(sub, all));
    }

    @Test
    void noDescriptionLineStopsMidSentence() {
        List<CommandLine> all = new ArrayList<>();
        collect(MaglevdMain.newCommandLine(), all);
        List<String> cut = new ArrayList<>();
        for (CommandLine cl : all) {
            for (String line : cl.getCommandSpec().usageMessage().description()) {
                if (line.startsWith("  ")) {
                    continue; // an indented example (a command line), not prose
                }
                String s = line.replace("%n", "").strip();
                if (!s.isEmpty() && !s.matches(".*[.:)!?]$")) {
                    cut.add(cl.getCommandSpec().qualifiedName() + ": '" + s + "'");
                }
            }
        }
        assertTrue(all.size() > 10, "found the subcommands: " + all.size());
        assertTrue(cut.isEmpty(), "description lines cut mid-sentence:\n" + String.join("\n", cut));
    }
}
